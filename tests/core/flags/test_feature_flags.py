"""Feature flags against the real cluster: TypeScript (functions/_shared/flags.ts, reading the
table as a function does) and SQL (monitoring.flag_enabled) bucket every subject alike; the
FeatureFlag resource's create, update, drift and delete."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from components.providers.flags.feature_flags import FeatureFlagProps, FeatureFlagProvider
from supastack.flags.store import Flag
from supastack.local.paths import DENO_DIR, PROJECT_DIR
from supastack.local.system import ensure_deno
from tests.conftest import outs
from tests.core.conftest import Database

SUBJECTS = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"user-{n}")) for n in range(10_000)]
FLAG = "checkout_v2"

#: What a function asks: flag() per subject, through the shared module's cache and pool.
ASK = """
import { bucket, flag } from "%s";
const subjects: string[] = JSON.parse(await Deno.readTextFile(Deno.args[0]));
const answers = [];
for (const subject of subjects) {
  answers.push([await bucket(Deno.args[1], subject), await flag(Deno.args[1], subject)]);
}
console.log(JSON.stringify(answers));
Deno.exit(0);
"""


def _props(database: Database, **values: Any) -> dict[str, Any]:
    flag = Flag(FLAG, "shop", "the new checkout", True, Decimal(10), ())
    return {"conninfo": database.conninfo, **FeatureFlagProps.values_of(flag), **values}


def _typescript(database: Database, tmp_path: Path, flag: str) -> list[tuple[int, bool]]:
    script = tmp_path / "ask.ts"
    script.write_text(ASK % (PROJECT_DIR / "functions" / "_shared" / "flags.ts").as_uri())
    subjects = tmp_path / "subjects.json"
    subjects.write_text(json.dumps(SUBJECTS))
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DENO_DIR": str(DENO_DIR),
           "NO_COLOR": "1", "SUPABASE_DB_URL": database.url}  # fmt: skip
    result = subprocess.run(
        [str(ensure_deno()), "run", "--frozen", "--allow-all", "--config",
         str(PROJECT_DIR / "functions" / "deno.json"), str(script), str(subjects), flag],
        env=env, capture_output=True, text=True, check=False, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return [(b, on) for b, on in json.loads(result.stdout)]


def _sql(database: Database, flag: str) -> list[tuple[int, bool]]:
    with database.connect() as conn:
        rows = conn.execute(
            "select monitoring.flag_bucket(%s, s), monitoring.flag_enabled(%s, s) "
            "from unnest(%s::text[]) with ordinality as u(s, n) order by n",
            [flag, flag, SUBJECTS],
        ).fetchall()
    return [(int(str(b)), bool(on)) for b, on in rows]


def test_typescript_and_sql_answer_alike_for_10000_subjects(
    monitoring: Database, tmp_path: Path
) -> None:
    FeatureFlagProvider().create(_props(monitoring))
    buckets = _sql(monitoring, FLAG)
    # two subjects that are out at 10 % are allow-listed
    outside = [s for s, (_, on) in zip(SUBJECTS, buckets, strict=True) if not on][:2]
    FeatureFlagProvider().update(FLAG, {}, _props(monitoring, allow=outside))

    in_sql = _sql(monitoring, FLAG)
    assert _typescript(monitoring, tmp_path, FLAG) == in_sql
    chosen = {s for s, (_, on) in zip(SUBJECTS, in_sql, strict=True) if on}
    assert set(outside) <= chosen  # the allow-list wins
    assert 0.09 <= len(chosen - set(outside)) / len(SUBJECTS) <= 0.11
    assert all((b < 1000) == on for (b, on), s in zip(in_sql, SUBJECTS, strict=True)
               if s not in outside)  # fmt: skip


def test_a_subject_in_stays_in_as_the_percentage_grows(monitoring: Database) -> None:
    provider = FeatureFlagProvider()
    provider.create(_props(monitoring, percentage=0, allow=[SUBJECTS[0]]))
    seen: list[set[str]] = []
    for percentage in (0, 1, 5, 10, 25, 50, 75, 100):
        provider.update(FLAG, {}, _props(monitoring, percentage=percentage, allow=[SUBJECTS[0]]))
        chosen = {s for s, (_, on) in zip(SUBJECTS, _sql(monitoring, FLAG), strict=True) if on}
        assert abs(len(chosen) / len(SUBJECTS) - percentage / 100) <= 0.01
        seen.append(chosen)
    assert seen[0] == {SUBJECTS[0]}  # at 0 %: only the allow-list
    assert all(before <= after for before, after in itertools.pairwise(seen))
    assert seen[-1] == set(SUBJECTS)
    assert monitoring.scalar("select monitoring.flag_enabled(%s, null)", FLAG)  # 100 %: all
    # a flag of another name reaches other subjects at the same percentage
    assert (
        monitoring.scalar(
            "select count(*) filter (where monitoring.flag_bucket('a', s) < 1000 "
            "and monitoring.flag_bucket('b', s) < 1000) from unnest(%s::text[]) s",
            SUBJECTS,
        )
        < 200
    )


def test_disabled_is_off_for_everyone_and_unknown_flags_are_off(monitoring: Database) -> None:
    FeatureFlagProvider().create(
        _props(monitoring, enabled=False, percentage=100, allow=[SUBJECTS[0]])
    )
    assert not monitoring.scalar("select monitoring.flag_enabled(%s, %s)", FLAG, SUBJECTS[0])
    assert not monitoring.scalar("select monitoring.flag_enabled('no_such_flag', %s)", SUBJECTS[0])


def test_a_hand_edit_is_drift_that_the_update_puts_back(monitoring: Database) -> None:
    provider = FeatureFlagProvider()
    props = outs(provider.create(_props(monitoring, allow=["tester"])))
    assert outs(provider.read(FLAG, props)) == props  # no drift
    assert not provider.diff(FLAG, props, _props(monitoring, allow=["tester"])).changes

    monitoring.execute(
        "update monitoring.feature_flags set percentage = 100, allow = '{}' "
        "where name = 'checkout_v2'"
    )
    live = outs(provider.read(FLAG, props))
    assert (live["percentage"], live["allow"]) == (100.0, [])
    diff = provider.diff(FLAG, live, _props(monitoring, allow=["tester"]))
    assert diff.changes and not diff.replaces
    provider.update(FLAG, live, _props(monitoring, allow=["tester"]))
    assert outs(provider.read(FLAG, props)) == props

    provider.delete(FLAG, props)
    assert provider.read(FLAG, props).id == ""  # gone: a refresh drops it
    assert not monitoring.scalar("select monitoring.flag_enabled(%s, 'tester')", FLAG)


def test_the_api_roles_cannot_ask_or_read_flags(monitoring: Database) -> None:
    FeatureFlagProvider().create(_props(monitoring))
    for role in ("anon", "authenticated"):
        with monitoring.connect() as conn, pytest.raises(Exception, match="permission denied"):
            conn.execute(f"set role {role}".encode())
            conn.execute("select monitoring.flag_enabled('checkout_v2', 'x')")
