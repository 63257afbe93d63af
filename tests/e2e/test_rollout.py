"""`supastack rollout` on a local stack, end to end: each step a real stack update (the stack
file edited and committed, the offline applier run), real invocations of a function that asks
the flag driving a real alert rule. A release that breaks for the flag's subjects fires the
gate during step 2 and goes back to step 1; a healthy one reaches 100 %; the history records
each step with the commit holding its config; deploying an earlier update's config restores the
flag; a hand edit is drift that a deploy with refresh puts back."""

from __future__ import annotations

import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from supastack.cli import app
from supastack.local import history
from supastack.local.credentials import sign_jwt
from supastack.local.paths import PROJECT_DIR
from tests.conftest import Services, project_file

MANIFEST = """\
functions:
  checkout: {}
flags:
  - {name: new_checkout, description: the new checkout flow (broken in this release)}
  - {name: faster_checkout, description: the faster checkout flow}
alerts:
  - name: checkout-errors
    severity: critical
    metric: {functionErrorRate: checkout}
    threshold: 0.3
    window: 3s
"""
CHECKOUT = """\
import { flag, json, serve } from "../../_shared/mod.ts";

serve(import.meta.url, { callers: ["user"] }, async (_req, ctx) => {
  const user = ctx.caller.userId;
  if (await flag("new_checkout", user)) throw new Error("the new checkout is broken");
  return json(200, { checkout: (await flag("faster_checkout", user)) ? "faster" : "classic" });
});
"""
USERS = [str(uuid.UUID(int=n + 1)) for n in range(200)]


@pytest.fixture(scope="module")
def project(fresh: Services, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project deploying one app with two flags, its local stack file pointed at this
    module's environment, in a git repository of its own; deployed once."""
    root = tmp_path_factory.mktemp("rollout")
    shutil.copy(PROJECT_DIR / "__main__.py", root)
    project_file(root)
    (root / "apps").mkdir()
    shutil.copy(PROJECT_DIR / "apps" / "monitoring.yaml", root / "apps")
    (root / "apps" / "shop.yaml").write_text(MANIFEST)
    shutil.copytree(PROJECT_DIR / "migrations" / "monitoring", root / "migrations" / "monitoring")
    shutil.copytree(PROJECT_DIR / "functions" / "_shared", root / "functions" / "_shared")
    for pins in ("deno.json", "deno.lock"):
        shutil.copy(PROJECT_DIR / "functions" / pins, root / "functions")
    (root / "functions" / "shop" / "checkout").mkdir(parents=True)
    (root / "functions" / "shop" / "checkout" / "index.ts").write_text(CHECKOUT)
    env = fresh.env
    config = {
        "supastack:target": "local",
        "supastack:apps": ["shop"],
        "supastack:local": {"stateDir": str(env.state_dir), "dbPort": env.db_port,
                            "runtimePort": env.runtime_port},
        "supastack:database": {"host": "127.0.0.1", "port": env.db_port, "sslmode": "disable"},
        "supastack:flags": {"new_checkout": {"enabled": True, "allow": [USERS[0]]}},
        "supastack:backups": {"enabled": True, "directory": str(env.state_dir / "backups")},
    }  # fmt: skip
    (root / "Pulumi.local.yaml").write_text(
        "# the rollout test's stack\n" + yaml.safe_dump({"config": config})
    )
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "the shop"]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *command],
                       cwd=root, check=True)  # fmt: skip
    subprocess.run(["git", "config", "user.name", "t"], cwd=root, check=True)
    subprocess.run(["git", "config", "user.email", "t@example.com"], cwd=root, check=True)
    code, output = _cli(root, "local", "deploy", "--message", "first deploy")
    assert code == 0, output
    return root


def _cli(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--cwd", str(project), *args])
    return result.exit_code, result.output


class Traffic:
    """Users calling the checkout function back to back, on threads, until stopped."""

    def __init__(self, services: Services) -> None:
        self.url = f"{services.runtime_url}/functions/v1/checkout"
        secret = services.credentials.jwt_secret
        self.tokens = [sign_jwt(secret, {"role": "authenticated", "sub": u}) for u in USERS]
        self.stopped = threading.Event()
        self.answers: list[tuple[str, int]] = []
        """(user, status) of every call."""
        self.threads = [threading.Thread(target=self._call, args=(n,)) for n in range(4)]

    def _call(self, offset: int) -> None:
        with httpx.Client(timeout=30) as client:
            n = offset
            while not self.stopped.is_set():
                token = self.tokens[n % len(self.tokens)]
                answer = client.get(self.url, headers={"Authorization": f"Bearer {token}"})
                self.answers.append((USERS[n % len(USERS)], answer.status_code))
                n += 4

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join()


@pytest.fixture
def traffic(fresh: Services, project: Path) -> Iterator[Traffic]:
    with Traffic(fresh) as running:
        yield running


def _git(project: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=project, check=True)


def _scalar(fresh: Services, query: str) -> Any:
    with fresh.connect() as conn:
        row = conn.execute(query.encode()).fetchone()
    return row[0] if row else None


def _flag(fresh: Services, name: str) -> tuple[bool, Decimal]:
    with fresh.connect() as conn:
        row = conn.execute(
            "select enabled, percentage from monitoring.feature_flags where name = %s", [name]
        ).fetchone()
    assert row is not None
    return bool(row[0]), Decimal(str(row[1]))


def _stack_flag(project: Path, name: str) -> Any:
    return yaml.safe_load((project / "Pulumi.local.yaml").read_text())["config"]["supastack:flags"][
        name
    ]


def _committed_flag(project: Path, commit: str, name: str) -> Any:
    text = subprocess.run(["git", "show", f"{commit}:Pulumi.local.yaml"], cwd=project,
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    return yaml.safe_load(text)["config"]["supastack:flags"][name]


@pytest.mark.timeout(600)
def test_a_healthy_rollout_reaches_100_with_each_step_an_update(
    fresh: Services, project: Path, traffic: Traffic
) -> None:
    code, output = _cli(
        project, "rollout", "--flag", "faster_checkout", "--steps", "50,100", "--hold", "3s",
        "--poll", "1s", "--gate", "checkout-errors", "--commit",
    )  # fmt: skip
    assert code == 0, output
    assert "rollout of faster_checkout completed at 100 %" in output
    assert _flag(fresh, "faster_checkout") == (True, Decimal(100))
    assert _stack_flag(project, "faster_checkout") == {"enabled": True, "percentage": 100}
    assert "# the rollout test's stack" in (project / "Pulumi.local.yaml").read_text()
    code, output = _cli(project, "smoke")
    assert code == 0, output
    assert "flag faster_checkout on at 100 %" in output
    # each step is an update of the stack whose recorded commit holds the config it ran with
    updates = history.read(fresh.env.state_dir)[:2]
    assert [u["message"] for u in updates] == [
        "rollout faster_checkout: step 2/2, 100 %", "rollout faster_checkout: step 1/2, 50 %",
    ]  # fmt: skip
    for update, percentage in zip(updates, (100, 50), strict=True):
        assert update["result"] == "succeeded"
        assert update["environment"]["git.dirty"] == "false"
        assert _committed_flag(project, update["environment"]["git.head"], "faster_checkout") == {
            "enabled": True, "percentage": percentage,
        }  # fmt: skip
    # only the allow-listed tester meets the (broken) new checkout, which is not rolled out
    assert {user for user, status in traffic.answers if status != 200} == {USERS[0]}


@pytest.mark.timeout(600)
def test_a_gate_firing_in_step_two_goes_back_to_step_one(
    fresh: Services, project: Path, traffic: Traffic
) -> None:
    code, output = _cli(
        project, "rollout", "--flag", "new_checkout", "--steps", "10,50,100", "--hold", "15s",
        "--poll", "1s", "--gate", "checkout-errors",
    )  # fmt: skip
    assert code == 1, output
    assert "rollout rolled_back: rollout new_checkout: step 2/3, 50 %: gate checkout-errors" in (
        output
    )
    assert _flag(fresh, "new_checkout") == (True, Decimal(10))  # step 1's percentage
    assert _stack_flag(project, "new_checkout")["percentage"] == 10
    with fresh.connect() as conn:
        state, percentage, reason = (
            conn.execute(
                "select state, percentage, reason from monitoring.flag_rollouts "
                "where flag = 'new_checkout' order by id desc limit 1"
            ).fetchone()
            or ()
        )
        fired = conn.execute(
            "select count(*) from monitoring.alert_events where rule = 'checkout-errors' "
            "and kind = 'fired'"
        ).fetchone()
    assert (state, percentage) == ("rolled_back", 10)
    assert "gate checkout-errors (firing:" in str(reason) and "back to 10 %" in str(reason)
    assert fired == (1,)
    messages = [u["message"] for u in history.read(fresh.env.state_dir)[:3]]
    assert messages == [
        "rollout new_checkout: back to 10 %",
        "rollout new_checkout: step 2/3, 50 %",
        "rollout new_checkout: step 1/3, 10 %",
    ]
    failed = {user for user, status in traffic.answers if status == 500}
    assert len(failed) > 0.1 * len(USERS)  # the release really broke for the flag's subjects


NOTES = (
    "create table shop.notes (id bigint primary key);\n"
    "alter table shop.notes enable row level security;\n"
)


def test_rollback_redeploys_an_earlier_update_through_the_offline_applier(
    fresh: Services, project: Path
) -> None:
    """`supastack rollback --stack local --to <update>` without the Pulumi CLI: the offline
    applier's recorded update gives the commit; its program and config are deployed by the
    stack's own engine (the newer migration's down file runs, after a backup; the earlier
    update's flags come back), then the smoke tests run."""
    first = next(u for u in history.read(fresh.env.state_dir) if u["message"] == "first deploy")
    shop = project / "migrations" / "shop"
    shop.mkdir(parents=True, exist_ok=True)
    (shop / "20990101000000_notes.sql").write_text(NOTES)
    (shop / "20990101000000_notes.down.sql").write_text("drop table shop.notes;\n")
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "notes")
    code, output = _cli(project, "local", "deploy", "--message", "notes")
    assert code == 0, output
    assert _scalar(fresh, "select to_regclass('shop.notes') is not null")
    backups = set((fresh.env.state_dir / "backups").glob("*"))

    version = str(first["version"])
    code, output = _cli(project, "rollback", "--stack", "local", "--to", version, "--yes")
    assert code == 0, output
    assert output.splitlines()[0] == (
        f"project supastack ({project}), stack local, deployed by the offline applier"
    )
    assert "20990101000000_notes" in output  # what the rollback said it would undo
    assert _scalar(fresh, "select to_regclass('shop.notes') is null")  # the down file ran
    assert set((fresh.env.state_dir / "backups").glob("*")) > backups  # after a backup
    assert _flag(fresh, "new_checkout") == (True, Decimal(0))  # the first update's flags
    assert _flag(fresh, "faster_checkout") == (False, Decimal(0))
    assert ", 0 failed" in output  # the smoke tests, after
    latest = history.read(fresh.env.state_dir)[0]
    assert latest["message"] == f"supastack rollback to {version}"
    assert latest["environment"]["git.head"] == first["environment"]["git.head"]


def test_a_hand_edited_flag_is_put_back_by_a_deploy_with_refresh(
    fresh: Services, project: Path
) -> None:
    code, output = _cli(project, "local", "deploy")  # the stack file's flags again
    assert code == 0, output
    before = _flag(fresh, "new_checkout")
    assert before == (True, Decimal(10))
    with fresh.connect() as conn:
        conn.execute(
            "update monitoring.feature_flags set percentage = 100 where name = 'new_checkout'"
        )
    code, output = _cli(project, "local", "deploy")
    assert code == 0 and _flag(fresh, "new_checkout") == (True, Decimal(100))  # not noticed
    code, output = _cli(project, "local", "deploy", "--refresh", "--message", "undo hand edits")
    assert code == 0, output
    assert _flag(fresh, "new_checkout") == before
    latest = history.read(fresh.env.state_dir)[0]
    assert (latest["message"], latest["resourceChanges"]) == ("undo hand edits", {"updated": 1})


def test_a_dry_run_prints_the_plan_and_changes_nothing(fresh: Services, project: Path) -> None:
    before = (project / "Pulumi.local.yaml").read_text(), len(history.read(fresh.env.state_dir))
    code, output = _cli(
        project, "rollout", "--flag", "faster_checkout", "--steps", "25,50", "--hold", "1h",
        "--gate", "checkout-errors", "--gate", "no-such-rule", "--dry-run",
    )  # fmt: skip
    assert code == 0, output
    assert (
        "step 1: rollout faster_checkout: step 1/2, 25 % (a stack update), then hold 1:00:00"
        in (output)
    )
    assert (
        "checkout-errors (" in output and "no-such-rule (NOT FOUND: no such alert rule)" in output
    )
    after = (project / "Pulumi.local.yaml").read_text(), len(history.read(fresh.env.state_dir))
    assert after == before
    refused, why = _cli(project, "rollout", "--flag", "faster_checkout", "--steps", "25",
                        "--hold", "1s", "--gate", "no-such-rule")  # fmt: skip
    assert refused == 1 and "--gate no-such-rule: no alert rule of that name" in why
    unknown, why = _cli(project, "rollout", "--flag", "fast_checkout", "--steps", "25")
    assert unknown == 1 and "--flag fast_checkout: no app of stack 'local' declares it" in why
