"""The local stack's secrets at rest: sealed in the applier's records and outputs file with the
stack's key, opened only with it, and a changed ciphertext or a missing key named."""

from __future__ import annotations

import base64
import json
import stat
import threading
from pathlib import Path

import pytest

from applier.records import Applied, load_records, save_records
from supastack.delivery.outputs import load
from supastack.errors import SupastackError
from supastack.sealed import KEY_FILE, Sealer, masked

PASSWORD = "correct-horse-battery-staple"


def _role(secrets: tuple[str, ...] = ("password",)) -> Applied:
    outputs = {"name": "app", "password": PASSWORD}
    return Applied("postgresql:index/role:Role", "app", "app", outputs, secrets=secrets)


def test_records_keep_secret_outputs_sealed_and_load_them_opened(tmp_path: Path) -> None:
    records = tmp_path / "deploy-records.json"
    save_records(records, [_role()], Sealer.of_state(tmp_path))
    assert PASSWORD not in records.read_text()
    assert '"name": "app"' in records.read_text()  # what is not secret stays readable
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    [loaded] = load_records(records, Sealer.of_state(tmp_path))
    assert loaded.outputs == {"name": "app", "password": PASSWORD}
    assert loaded.secrets == ("password",)


def test_records_from_before_sealing_load_and_are_sealed_at_the_next_save(tmp_path: Path) -> None:
    records = tmp_path / "deploy-records.json"
    old = _role().record(Sealer.of_state(tmp_path))
    old["outputs"] = {"name": "app", "password": PASSWORD}  # as written before: in the clear
    del old["secrets"]
    records.write_text(json.dumps([old]))
    [loaded] = load_records(records, Sealer.of_state(tmp_path))
    assert loaded.outputs["password"] == PASSWORD
    save_records(records, [_role()], Sealer.of_state(tmp_path))
    assert PASSWORD not in records.read_text()


def test_a_changed_ciphertext_does_not_open_and_names_the_key(tmp_path: Path) -> None:
    sealer = Sealer.of_state(tmp_path)
    envelope = sealer.seal(PASSWORD)
    blob = bytearray(base64.b64decode(envelope["ciphertext"]))
    blob[20] ^= 1  # one bit of the ciphertext
    changed = base64.b64encode(blob).decode()
    with pytest.raises(SupastackError, match=r"state\.key: the key or the ciphertext was changed"):
        sealer.open({**envelope, "ciphertext": changed})


def test_outputs_without_their_key_are_refused_naming_both_files(tmp_path: Path) -> None:
    state = tmp_path / "state"
    outputs = state / "outputs.json"
    values = {"stack": "local", "databaseUrl": "postgresql://postgres:x@127.0.0.1/postgres"}
    sealer = Sealer.of_state(state)
    outputs.write_text(json.dumps(sealer.seal_keys(values, ["databaseUrl"])))
    assert masked(json.loads(outputs.read_text()))["databaseUrl"] == "[secret]"
    (state / KEY_FILE).unlink()
    with pytest.raises(
        SupastackError, match=r"outputs\.json: holds sealed secrets, but .*state\.key"
    ):
        load(outputs)


def test_deploys_starting_at_once_agree_on_one_key(tmp_path: Path) -> None:
    """Each process makes its key whole under its own name and links it into place; the first
    link wins and every other one reads that key (threads stand in for the processes)."""
    barrier = threading.Barrier(8)
    sealed: list[dict[str, str]] = []

    def start() -> None:
        barrier.wait()
        sealed.append(Sealer.of_state(tmp_path).seal(PASSWORD))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [Sealer.of_state(tmp_path).open(envelope) for envelope in sealed] == [PASSWORD] * 8
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]  # no draft left behind
