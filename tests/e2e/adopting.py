"""What the adopt proofs (tests/e2e/test_adopt_*.py) share: a project of some apps pointed at
the fresh target, the functions uploaded as `supabase functions deploy` does, the tables'
counts and checksums, and a client polling every function throughout."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import httpx
from typer.testing import CliRunner

from applier.engine import Deployment, deploy, preview, stack_config
from applier.preview import Plan
from applier.records import IMPORTED
from supastack.cli import app
from supastack.config.manifest import load_app
from supastack.delivery.outputs import StackOutputs
from supastack.delivery.smoke import run as smoke
from supastack.functions.packaging import package
from supastack.platform.management_api import ManagementApi
from tests.conftest import Services, copy_from_project


def project(root: Path, services: Services, app: str) -> Path:
    """The app (and the platform's monitoring) in ``root``, its stack ``adopt`` on the target."""
    copy_from_project(root, ("__main__.py", "Pulumi.yaml", "apps/monitoring.yaml",
                             f"apps/{app}.yaml", "migrations/monitoring", f"migrations/{app}",
                             "functions/_shared", f"functions/{app}", "functions/deno.json",
                             "functions/deno.lock"))  # fmt: skip
    (root / "Pulumi.adopt.yaml").write_text(
        f"config:\n  supastack:target: local\n  supastack:apps: [{app}]\n  supastack:flags: {{}}\n"
        f"  supastack:local:\n    stateDir: {services.env.state_dir}\n"
        f"    dbPort: {services.env.db_port}\n    runtimePort: {services.env.runtime_port}\n"
        f"    redisPort: {services.env.redis_port}\n"
        "  supastack:database:\n    host: 127.0.0.1\n"
        f"    port: {services.env.db_port}\n    name: postgres\n    user: postgres\n"
        "    sslmode: disable\n"
    )
    return root


def api(services: Services) -> ManagementApi:
    return ManagementApi(services.runtime_url, services.credentials.access_token, "local")


def deploy_by_hand(services: Services, root: Path, app: str) -> None:
    """Each of the app's functions as `supabase functions deploy <slug>` uploads it."""
    for slug, spec in load_app(root, app).functions.items():
        api(services).deploy_function(
            package(root / "functions", app, slug, spec.config(), spec.verify_jwt).upload()
        )


def versions(services: Services, slugs: Sequence[str]) -> dict[str, object]:
    return {slug: (api(services).get_function(slug) or {}).get("version") for slug in slugs}


def sums(services: Services, tables: Sequence[str]) -> dict[str, tuple[object, ...]]:
    """Each table's (schema-qualified, constant names) row count and checksum."""
    with services.connect() as conn:
        return {
            table.rpartition(".")[2]: tuple(conn.execute(
                f"select count(*), md5(coalesce(string_agg(t::text, ',' order by t::text), '')) "  # noqa: S608 (constant names)
                f"from {table} t"
            ).fetchone() or ())
            for table in tables
        }  # fmt: skip


class Poller:
    """Calls every function over and over until stopped; a failure is an answer of 404 or
    5xx, or no answer (an unauthenticated call answered 401 is a function that is up)."""

    def __init__(self, url: str, slugs: list[str]) -> None:
        self.url, self.slugs = url, slugs
        self.calls, self.failures = 0, list[str]()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                for slug in self.slugs:
                    try:
                        status = client.post(f"{self.url}/functions/v1/{slug}", json={}).status_code
                    except httpx.HTTPError as error:
                        self.failures.append(f"{slug}: {type(error).__name__}")
                        continue
                    self.calls += 1
                    if status == 404 or status >= 500:
                        self.failures.append(f"{slug}: {status}")

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def adopt_and_deploy(
    services: Services, root: Path, app_name: str, *, accepts: int,
    tables: tuple[Sequence[str], Sequence[str]],
    after_deploy: Callable[[str], dict[str, object]] | None = None,
) -> dict[str, object]:  # fmt: skip
    """With a client polling every function throughout: ``adopt``, ``adopt --accept``
    ``accepts`` times, the deploy and ``after_deploy`` (given what the first ``adopt``
    printed); then a second deploy. What each step
    answered, the functions' versions and the ``tables`` (before, after) sums around it all."""
    before = sums(services, tables[0])
    slugs = list(load_app(root, app_name).functions)
    deployed = versions(services, slugs)
    runner, command = CliRunner(), ["--cwd", str(root), "adopt", "--stack", "adopt"]
    with Poller(services.runtime_url, slugs) as poller:
        report = runner.invoke(app, command)
        accepted = [runner.invoke(app, [*command, "--accept"]) for _ in range(accepts)]
        config = stack_config("Pulumi.adopt.yaml", {}, root)
        existing, plan = postgres_objects(services), preview(config, project=root)
        first = deploy(config, project=root)
        extra = after_deploy(report.output) if after_deploy else {}
    second = deploy(config, project=root, previous=first.mocks.records())
    return {
        "report": report, "accepted": accepted, "first": first, "second": second,
        "poller": poller, "before": before, "after": sums(services, tables[1]),
        "versions": deployed, "versions_after": versions(services, slugs),
        "existing": existing, "preview": plan, **extra,
    }  # fmt: skip


#: The pulumi-postgresql resources adopt has the deploy import, and the catalog naming them.
IMPORTABLE = {
    "postgresql:index/schema:Schema": "select nspname from pg_namespace",
    "postgresql:index/extension:Extension": "select extname from pg_extension",
}


def postgres_objects(services: Services) -> set[tuple[str, str]]:
    """The schemas and extensions the target holds, as (resource type, name)."""
    with services.connect() as conn:
        return {(typ, str(name)) for typ, query in IMPORTABLE.items()
                for (name,) in conn.execute(query).fetchall()}  # fmt: skip


def taken_over(adopted: dict[str, object]) -> tuple[list[str], list[str], list[str]]:
    """Of the schemas and extensions there before the first deploy: those it created again
    (none is right), those it imported, and those its preview showed imported."""
    existing = cast("set[tuple[str, str]]", adopted["existing"])
    first, plan = cast("Deployment", adopted["first"]), cast("Plan", adopted["preview"])
    ours = [(action, record) for action, record in first.mocks.actions if record.typ in IMPORTABLE]
    again = sorted(
        r.name for a, r in ours if a != IMPORTED and (r.typ, r.outputs["name"]) in existing
    )
    imported = sorted(r.name for a, r in ours if a == IMPORTED)
    previewed = sorted(s.name for s in plan.steps if s.op == "import")
    return again, imported, previewed


def failed_smoke_and_second_changes(adopted: dict[str, object]) -> tuple[list[str], set[str]]:
    """The smoke checks that failed after the first deploy, and what the second one did."""
    first, second = cast("Deployment", adopted["first"]), cast("Deployment", adopted["second"])
    outputs = StackOutputs.model_validate(first.outputs)
    failed = [f"{c.name}: {c.detail}" for c in smoke(outputs) if not c.ok]
    return failed, {action for action, _ in second.mocks.actions}
