"""The applier's records as an update checkpoints them: a change goes to a journal beside the
file (sealed like the file), the file is written whole only now and then, and loading replays
the journal: what was applied is what loads, after a crash at any point too."""

from __future__ import annotations

import json
import stat
from dataclasses import replace
from pathlib import Path

from applier.records import Applied, RecordsFile, journal_of, load_records
from supastack.sealed import Sealer

SECRET = "correct-horse-battery-staple"


def _record(name: str, value: str = "v1", padding: int = 2000) -> Applied:
    outputs = {"value": value, "password": SECRET, "files": "x" * padding}
    return Applied("test:index:Thing", name, name, outputs, secrets=("password",),
                   urn=f"urn:pulumi:local::supastack::test:index:Thing::{name}")  # fmt: skip


def _names(records: list[Applied]) -> list[tuple[str, str, bool]]:
    return [(r.name, r.outputs["value"], r.delete) for r in records]


def test_changes_go_to_a_journal_and_load_as_applied(tmp_path: Path) -> None:
    path, sealer = tmp_path / "deploy-records.json", Sealer.of_state(tmp_path)
    records = RecordsFile(path, sealer)
    state = [_record(n) for n in "abcdefgh"]
    records.save(state)  # the run's first checkpoint: the file whole
    whole = path.read_text()

    state = [s for s in state if s.name != "a"]  # deleted
    state[0] = _record("b", "v2")  # updated
    state.append(replace(state[1], delete=True))  # c replaced: the old one pending deletion
    state[1] = _record("c", "v2")
    state.append(_record("i"))  # created
    records.save(state)

    assert path.read_text() == whole  # the change went to the journal, not the whole file
    journal = journal_of(path)
    assert stat.S_IMODE(journal.stat().st_mode) == 0o600
    assert SECRET not in journal.read_text()  # sealed there as in the file
    loaded = load_records(path, sealer)
    assert sorted(_names(loaded)) == sorted(_names(state))
    assert [r.outputs["password"] for r in loaded] == [SECRET] * len(state)

    records.compact()
    assert not journal.exists()
    assert _names(load_records(path, sealer)) == _names(state)  # the file whole, in order


def test_the_file_is_written_whole_when_the_journal_grows_as_large(tmp_path: Path) -> None:
    path, sealer = tmp_path / "deploy-records.json", Sealer.of_state(tmp_path)
    records = RecordsFile(path, sealer)
    state = [_record(n) for n in "abcd"]
    records.save(state)
    rewrites = 0
    for round_ in range(12):  # half the records change each time
        before = path.stat().st_mtime_ns
        changed = {"a", "b"} if round_ % 2 else {"c", "d"}
        state = [_record(r.name, f"v{round_}") if r.name in changed else r for r in state]
        records.save(state)
        rewrites += path.stat().st_mtime_ns != before
        assert sorted(_names(load_records(path, sealer))) == sorted(_names(state))
    assert rewrites == 6  # every other change: the journal then holds as much as the file


def test_a_crash_mid_write_or_between_file_and_journal_loads_what_was_recorded(
    tmp_path: Path,
) -> None:
    path, sealer = tmp_path / "deploy-records.json", Sealer.of_state(tmp_path)
    records = RecordsFile(path, sealer)
    state = [_record(n) for n in "abcd"]
    records.save(state)
    records.save([*state, _record("e")])
    journal = journal_of(path)
    complete = journal.read_text()

    journal.write_text(complete + '{"drop": [], "put": [{"typ": "te')  # a line cut short
    assert [r.name for r in load_records(path, sealer)] == list("abcde")

    # the file written whole again, then a crash before the old journal went: it is stale
    stale = journal.read_text()
    records.compact()
    newer = [_record(n, "v9") for n in "abcde"]
    RecordsFile(path, sealer).save(newer)  # another run's first checkpoint: the file whole
    journal.write_text(stale)
    assert _names(load_records(path, sealer)) == _names(newer)
    assert json.loads(stale.splitlines()[0])["base"][2] != path.stat().st_mtime_ns
