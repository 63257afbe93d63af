"""`supastack local deploy`: the local stack deployed without the Pulumi CLI, through the CLI,
with its records kept so that a second run changes nothing and a removed file is undone."""

from __future__ import annotations

import json
import queue
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
import yaml
from typer.testing import CliRunner

from supastack.cli import app
from supastack.local.credentials import LocalCredentials
from supastack.local.paths import PROJECT_DIR
from tests.conftest import Services, later_version, project_file, write_migrations

NOTE = "\n".join(
    [
        "create table public.deploy_note (id bigint primary key);",
        "alter table public.deploy_note enable row level security;",
        "",
    ]
)


@pytest.fixture(scope="module")
def project(fresh: Services, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project, its local stack file pointed at this module's fresh environment."""
    root = tmp_path_factory.mktemp("project")
    shutil.copy(PROJECT_DIR / "__main__.py", root)
    project_file(root)
    for tree in ("apps", "migrations", "functions"):
        shutil.copytree(PROJECT_DIR / tree, root / tree)
    document = yaml.safe_load((PROJECT_DIR / "Pulumi.local.yaml").read_text())
    config = document["config"]
    env = fresh.env
    config["supastack:local"] = {
        "stateDir": str(env.state_dir), "dbPort": env.db_port, "runtimePort": env.runtime_port,
        "redisPort": env.redis_port,
    }  # fmt: skip
    config["supastack:database"]["port"] = env.db_port
    config["supastack:backups"]["directory"] = str(env.state_dir / "backups")
    (root / "Pulumi.local.yaml").write_text(yaml.safe_dump(document))
    shutil.copy(PROJECT_DIR / "Pulumi.staging.yaml", root)
    return root


def _cli(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--cwd", str(project), *args])
    return result.exit_code, result.output


def test_deploy_then_nothing_to_do_then_smoke(
    fresh: Services, project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code, _ = _cli(project, "local", "deploy")
    first = capfd.readouterr().out  # the applier runs as a process of its own
    assert code == 0, first
    assert first.startswith("This is supastack's offline applier, not `pulumi up`")
    assert "created   Migration            supastack-bidding-migrations-20260128000000" in first
    assert ", 0 deleted, " in first
    # each change is a line as it happens, with the time since the start (progress)
    assert re.search(r"^  created   EdgeFunction +supastack-bidding-fn-submit-bid  \(\d+\.\d s\)$",
                     first, re.M)  # fmt: skip

    code, _ = _cli(project, "local", "deploy")
    second = capfd.readouterr().out
    assert code == 0, second
    assert "0 created, 0 updated, 0 replaced, 0 deleted, " in second
    for name in ("deploy-records.json", "outputs.json"):
        assert stat.S_IMODE((fresh.env.state_dir / name).stat().st_mode) == 0o600

    code, output = _cli(project, "smoke", "--stack", "local")  # no Pulumi CLI: the outputs file
    assert code == 0, output
    assert "database advisors: no ERROR findings" in output

    code, output = _cli(project, "db", "drift", "--stack", "local")
    assert code == 0, output
    assert output.endswith("the live schema is what the migrations made\n")


#: Where a secret is meant to be stored in the clear (0600, as the Supabase CLI keeps its own):
#: the credentials, the keys, the databases' own data and config, the runtime's secrets.
SECRET_STORES = {"credentials.json", "state.key", "vault.key", "edge-runtime.json", "secrets.json",
                 "redis.conf"}  # fmt: skip
PUBLIC = {"project_ref", "anon_key", "publishable_key"}  # public by design


def test_no_secret_is_stored_in_plaintext_outside_the_secret_stores(
    fresh: Services, project: Path
) -> None:
    state = fresh.env.state_dir
    assert (state / "deploy-records.json").exists()  # the stack is deployed (the test above)
    credentials = json.loads((state / "credentials.json").read_text())
    secrets = {k: v for k, v in credentials.items() if k not in PUBLIC}
    function_secrets = json.loads((state / "edge-runtime" / "secrets.json").read_text())
    secrets |= {f"function secret {k}": v["value"] for k, v in function_secrets.items()}
    assert {"db_password", "access_token", "function secret STRIPE_SECRET_KEY"} <= secrets.keys()
    scanned = []
    for path in state.rglob("*"):
        if path.is_file() and "pgdata" not in path.parts and path.name not in SECRET_STORES:
            text = path.read_bytes().decode(errors="replace")
            scanned.append(path.name)
            found = [name for name, value in secrets.items() if value in text]
            assert not found, f"{path}: holds {found} in plaintext"
    assert {"deploy-records.json", "outputs.json", "history.json", "postgres.log"} <= set(scanned)

    code, shown = _cli(project, "outputs", "--stack", "local")  # as pulumi stack output --json
    assert code == 0, shown
    outputs = json.loads(shown)
    assert outputs["databaseUrl"] == outputs["serviceRoleKey"] == "[secret]"
    assert outputs["functionsUrl"] == f"http://127.0.0.1:{fresh.env.runtime_port}"  # not secret
    assert _cli(project, "local", "outputs") == (code, shown)  # the same under `local`
    code, shown = _cli(project, "local", "outputs", "--show-secrets")
    assert code == 0, shown
    shows_password = credentials["db_password"] in json.loads(shown)["databaseUrl"]
    assert shows_password, "--show-secrets shows the database URL with its password"


def test_the_preview_shows_a_changed_schedule_and_applies_nothing(
    fresh: Services, project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code, _ = _cli(project, "local", "preview", "--expect-no-changes")
    unchanged = capfd.readouterr().out
    assert code == 0, unchanged
    assert re.search(r"^Resources: no changes; \d+ unchanged$", unchanged, re.M)

    manifest_path = project / "apps" / "observai.yaml"
    original = manifest_path.read_text()
    manifest = yaml.safe_load(original)
    job = next(j for j in manifest["cron"] if j["name"] == "aggregate-metrics")
    job["schedule"] = "*/10 * * * *"
    manifest_path.write_text(yaml.safe_dump(manifest))
    try:
        code, _ = _cli(project, "preview", "--stack", "local")  # the same through the seam
        planned = capfd.readouterr().out
        assert code == 0, planned
        lines = planned.splitlines()
        step = lines.index(
            "  ~  CronJob                supastack-observai-cron-aggregate-metrics  update"
        )
        assert lines[step + 1] == "      ~  schedule"
        assert re.search(r"^Resources: 1 to update; \d+ unchanged$", planned, re.M)
        assert _cli(project, "local", "preview", "--expect-no-changes")[0] == 1
        capfd.readouterr()
        with fresh.connect() as conn:  # nothing applied
            assert conn.execute(
                "select schedule from cron.job where jobname = 'aggregate-metrics'"
            ).fetchone() == ("*/5 * * * *",)
    finally:
        manifest_path.write_text(original)


def test_a_new_file_is_applied_and_a_removed_one_undone(
    fresh: Services, project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    version = later_version(project)
    migrations = write_migrations(project, "bidding", {f"{version}_note.sql": NOTE})
    (migrations / "bidding" / f"{version}_note.down.sql").write_text(
        "drop table public.deploy_note;\n"
    )
    manifest = yaml.safe_load((project / "apps" / "bidding.yaml").read_text())
    manifest["rls"].append("deploy_note")
    (project / "apps" / "bidding.yaml").write_text(yaml.safe_dump(manifest))
    assert _cli(project, "local", "deploy")[0] == 0
    added = capfd.readouterr().out
    assert f"created   Migration            supastack-bidding-migrations-{version}" in added
    with fresh.connect() as conn:
        assert conn.execute("select to_regclass('public.deploy_note')").fetchone() != (None,)

    for path in migrations.glob(f"bidding/{version}_note*.sql"):
        path.unlink()
    manifest["rls"].remove("deploy_note")
    (project / "apps" / "bidding.yaml").write_text(yaml.safe_dump(manifest))
    assert _cli(project, "local", "deploy")[0] == 0
    removed = capfd.readouterr().out
    assert f"deleted   Migration            supastack-bidding-migrations-{version}" in removed
    with fresh.connect() as conn:
        assert conn.execute("select to_regclass('public.deploy_note')").fetchone() == (None,)


def test_a_failure_names_the_resource_and_a_rerun_goes_on(
    fresh: Services, project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    version = later_version(project)
    bad = project / "migrations" / "bidding" / f"{version}_broken.sql"
    bad.write_text("select 1/0;\n")
    code, _ = _cli(project, "local", "deploy")
    failed = capfd.readouterr()
    assert code == 1
    assert f"Migration supastack-bidding-migrations-{version}: " in failed.err
    assert f"migrations/bidding/{version}_broken.sql:1: statement 1 failed" in failed.err
    assert "run it again to go on" in failed.out
    # the order is a random valid one, as the engine's parallelism makes; the failure names its
    # seed, and the product command replays it
    seed = re.search(r"SUPASTACK_APPLY_SEED=(\d+) replays it", failed.err)
    assert seed, failed.err
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SUPASTACK_APPLY_SEED", seed[1])
        assert _cli(project, "local", "deploy")[0] == 1
    assert f"apply-order seed {seed[1]} " in capfd.readouterr().err

    bad.write_text("select 1;\n")  # fixed: the rerun applies just that
    assert _cli(project, "local", "deploy")[0] == 0
    rerun = capfd.readouterr().out
    assert f"created   Migration            supastack-bidding-migrations-{version}" in rerun
    assert "1 created, 0 updated, 0 replaced, 0 deleted, " in rerun  # nothing else again


def test_another_target_is_refused(project: Path) -> None:
    code, output = _cli(project, "local", "deploy", "--stack", "staging")
    assert code == 1
    assert "supastack:target is 'supabase'; `supastack local` manages stacks whose target" in output


class _Lines:
    """A process's output lines, read as they come (a thread feeds a queue)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None
        self.stream = process.stdout
        threading.Thread(target=self._feed, daemon=True).start()

    def _feed(self) -> None:
        for line in self.stream:
            self.queue.put(line)

    def until(self, fragment: str, timeout: float) -> float:
        """Seconds until a line containing ``fragment`` arrived (fails after ``timeout``)."""
        started = time.monotonic()
        while True:
            left = timeout - (time.monotonic() - started)
            try:
                line = self.queue.get(timeout=max(left, 0.01))
            except queue.Empty:
                raise AssertionError(f"no line with {fragment!r} within {timeout} s") from None
            if fragment in line:
                return time.monotonic() - started


def test_watch_redeploys_an_edited_function_within_seconds(project: Path) -> None:
    command = [str(Path(sys.executable).parent / "supastack"), "--cwd", str(project), "local",
               "deploy", "--watch"]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    try:
        lines = _Lines(process)
        lines.until("watching apps/, migrations/, functions/, seeds/", timeout=180)
        source = project / "functions" / "bidding" / "session-cleanup" / "index.ts"
        source.write_text(source.read_text() + "// edited while watching\n")
        took = lines.until(
            "updated   EdgeFunction         supastack-bidding-fn-session-cleanup", 60
        )
        assert took < 30  # seconds, including the debounce, deno check and the upload

        manifest = project / "apps" / "bidding.yaml"
        good = manifest.read_text()
        manifest.write_text(good + "colour: blue\n")  # a broken file: reported, still watching
        lines.until("apps/bidding.yaml: colour: is not a known key", timeout=60)
        lines.until("the deploy failed (see above)", timeout=30)
        manifest.write_text(good)
        lines.until("0 deleted, ", timeout=60)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def test_reset_deploy_starts_from_an_empty_database_and_deploys_again(
    fresh: Services, project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with fresh.connect() as conn:
        conn.execute("create table public.left_behind (n int)")
    code, output = _cli(project, "local", "reset", "--deploy", "--yes")
    applier = capfd.readouterr().out
    assert code == 0, output + applier
    assert ", 0 deleted, 0 unchanged in " in applier  # everything created anew
    credentials = LocalCredentials.load(fresh.env.paths.credentials)  # made anew by `up`
    dsn = fresh.env.cluster(credentials).dsn()
    with psycopg.connect(dsn) as conn:
        assert conn.execute("select to_regclass('public.left_behind')").fetchone() == (None,)
        assert conn.execute("select to_regclass('public.bids')").fetchone() == ("bids",)
    assert _cli(project, "smoke", "--stack", "local")[0] == 0
