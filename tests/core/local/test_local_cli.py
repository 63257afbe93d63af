"""`supastack local up | down | status | reset`: idempotency and every error message.

Each test gets a project directory of its own with a stack file on free ports, so nothing here
touches (or depends on) a developer's running `supastack local up`.
"""

from __future__ import annotations

import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from supastack.cli import app
from supastack.local import runtime, system
from supastack.local.paths import RUNTIME_SOURCE
from supastack.local.system import free_port
from tests.conftest import project_file

runner = CliRunner()


class Project:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.db_port, self.runtime_port = free_port(), free_port()
        self.state = root / "state"
        project_file(root)
        (root / "Pulumi.test.yaml").write_text(
            "config:\n"
            "  supastack:target: local\n"
            "  supastack:local:\n"
            "    stateDir: state\n"
            f"    dbPort: {self.db_port}\n"
            f"    runtimePort: {self.runtime_port}\n"
        )

    def run(self, *args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["--cwd", str(self.root), "local", *args, "--stack", "test"])
        return result.exit_code, result.output


@pytest.fixture
def project(state_root: Path) -> Iterator[Project]:
    root = state_root / f"project-{uuid.uuid4().hex[:8]}"
    root.mkdir()
    root.chmod(0o755)
    proj = Project(root)
    yield proj
    proj.run("reset", "--yes")


def test_up_down_status_reset_lifecycle(project: Project) -> None:
    code, out = project.run("up")
    assert code == 0 and "local environment up" in out
    code, out = project.run("up")
    assert code == 0 and "already up: nothing to do" in out
    code, out = project.run("status")
    assert code == 0
    assert f"postgres      running  127.0.0.1:{project.db_port}" in out
    assert f"edge runtime  running  http://127.0.0.1:{project.runtime_port}" in out
    credentials = (project.state / "credentials.json").read_text()

    code, out = project.run("down")
    assert code == 0 and "stopped" in out
    code, out = project.run("status")
    assert code == 1 and "postgres      stopped" in out and "edge runtime  stopped" in out

    code, out = project.run("up")
    assert code == 0 and "creating" not in out and "local environment up" in out
    assert (project.state / "credentials.json").read_text() == credentials

    code, out = project.run("reset", "--yes")
    assert code == 0 and not project.state.exists()
    code, out = project.run("status")
    assert code == 1 and "not set up" in out


def test_down_when_never_up_says_so(project: Project) -> None:
    code, out = project.run("down")
    assert code == 0 and "nothing to stop" in out


@pytest.mark.parametrize(("which", "key"), [("db_port", "dbPort"), ("runtime_port", "runtimePort")])
def test_port_taken_is_refused_before_anything_starts(
    project: Project, which: str, key: str
) -> None:
    port = getattr(project, which)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        code, out = project.run("up")
    assert code == 1
    assert f"port {port} on 127.0.0.1 is already in use" in out and f"supastack:local.{key}" in out
    assert "Traceback" not in out
    code, out = project.run("status")
    assert "running" not in out


def test_missing_package_names_it_and_the_install_command(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(system.DEBIAN_PACKAGES, "postgresql-15-imaginary", Path("/nonexistent"))
    monkeypatch.setattr(system, "is_root", lambda: False)
    code, out = project.run("up")
    assert code == 1
    assert "missing packages: postgresql-15-imaginary" in out
    assert "sudo apt-get install -y postgresql-15-imaginary" in out


def test_stale_state_directory_is_refused_with_the_way_out(project: Project) -> None:
    (project.state / "pgdata").mkdir(parents=True)
    (project.state / "pgdata" / "leftover").write_text("x")
    code, out = project.run("up")
    assert code == 1
    assert "holds no Postgres cluster (stale state directory)" in out
    assert "supastack local reset" in out


def test_cluster_that_fails_to_start_shows_its_log(project: Project) -> None:
    assert project.run("up")[0] == 0
    assert project.run("down")[0] == 0
    with (project.state / "pgdata" / "postgresql.conf").open("a") as conf:
        conf.write("\nshared_buffers = 'plenty'\n")
    code, out = project.run("up")
    assert code == 1
    assert "the local Postgres did not start" in out
    assert "shared_buffers" in out


def test_failed_runtime_start_stops_the_cluster_it_started(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = project.root / "runtime-without-code"
    broken.mkdir()
    shutil.copy(RUNTIME_SOURCE / "deno.lock", broken)
    monkeypatch.setattr(runtime, "RUNTIME_SOURCE", broken)
    code, out = project.run("up")
    assert code == 1 and "the edge runtime exited" in out
    code, out = project.run("status")
    assert "postgres      stopped" in out


def test_a_supabase_stack_is_not_a_local_one(project: Project) -> None:
    (project.root / "Pulumi.test.yaml").write_text(
        "config:\n  supastack:target: supabase\n  supastack:projectRef: abcdefghijklmnopqrst\n"
    )
    code, out = project.run("status")
    assert code == 1 and "Pulumi.test.yaml: supastack:target is 'supabase'" in out


def test_broken_stack_file_names_file_and_key(project: Project) -> None:
    (project.root / "Pulumi.test.yaml").write_text(
        "config:\n  supastack:target: local\n  supastack:local:\n    dbPort: 80\n"
    )
    code, out = project.run("up")
    assert code == 1
    assert "Pulumi.test.yaml: supastack:local.dbPort:" in out
