"""The policy pack's validators, called with hand-built arguments (the pack itself is never
constructed: PolicyPack starts a server and blocks)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs

from policy import validators
from tests.unit.conftest import RecordingMocks, deploy_platform, make_project

MIGRATION = "pulumi-python:dynamic/migrations:Migration"
FUNCTION = "pulumi-python:dynamic/functions:EdgeFunction"
RULE = "pulumi-python:dynamic/alerts:AlertRule"


def _args(
    typ: str,
    props: dict[str, Any],
    protect: bool = False,
    secret_outputs: list[str] | None = None,
    config: dict[str, Any] | None = None,
) -> ResourceValidationArgs:
    opts = PolicyResourceOptions(
        protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), secret_outputs or []
    )
    return ResourceValidationArgs(typ, props, f"urn:{typ}::x", "x", opts, None, config or {})


def _violations(validate: Callable[..., None], args: ResourceValidationArgs) -> list[str]:
    found: list[str] = []
    validate(args, lambda message, urn=None: found.append(message))
    return found


MIGRATION_PROPS: dict[str, Any] = {
    "app": "shop",
    "version": "1",
    "name": "m",
    "source": "migrations/shop/1_m.sql",
    "sql": "create table shop.t (id bigint primary key);\n",
    "down_sql": None,
    "checksum": "0" * 64,
    "destructive": False,
    "down_destructive": False,
    "options": {},
}


def test_prod_requires_protected_migrations_and_schemas() -> None:
    prod = {"requireProtect": True}
    assert _violations(validators.protected_in_prod, _args(MIGRATION, MIGRATION_PROPS, config=prod))
    assert not _violations(
        validators.protected_in_prod, _args(MIGRATION, MIGRATION_PROPS, True, config=prod)
    )
    assert not _violations(
        validators.protected_in_prod, _args(MIGRATION, MIGRATION_PROPS)
    )  # staging


def test_verify_jwt_off_needs_a_reason() -> None:
    bare = {"slug": "tick", "verify_jwt": False}
    assert _violations(validators.verify_jwt_off_needs_a_reason, _args(FUNCTION, bare)) == [
        "function 'tick' is deployed with verify_jwt: false without a reason; state it as "
        "verifyJwtOffReason in the app manifest"
    ]
    reasoned = {**bare, "verify_jwt_off_reason": "called by pg_cron with the job secret"}
    assert not _violations(validators.verify_jwt_off_needs_a_reason, _args(FUNCTION, reasoned))
    assert not _violations(
        validators.verify_jwt_off_needs_a_reason, _args(FUNCTION, {"verify_jwt": True})
    )


@pytest.mark.parametrize(
    ("props", "config", "violated"),
    [
        (
            {"name": "r", "severity": "critical", "channels": []},
            {"requireAlertChannels": True},
            True,
        ),
        (
            {"name": "r", "severity": "critical", "channels": ["oncall"]},
            {"requireAlertChannels": True},
            False,
        ),
        (
            {"name": "r", "severity": "warning", "channels": []},
            {"requireAlertChannels": True},
            False,
        ),
        ({"name": "r", "severity": "critical", "channels": []}, {}, False),
    ],
)
def test_critical_alert_rules_need_a_channel_where_required(
    props: dict[str, Any], config: dict[str, Any], violated: bool
) -> None:
    assert (
        bool(_violations(validators.critical_alerts_notify, _args(RULE, props, config=config)))
        is violated
    )


def test_secret_properties_must_be_secret_outputs() -> None:
    props = {"conninfo": "host=x password=y", "name": "p"}
    assert _violations(validators.secrets_stay_secret, _args(RULE, props)) == [
        "x: conninfo must be secret outputs"
    ]
    assert not _violations(
        validators.secrets_stay_secret, _args(RULE, props, secret_outputs=["conninfo"])
    )


def test_migration_lint_is_advisory_and_names_the_file() -> None:
    found = _violations(validators.migration_lint, _args(MIGRATION, MIGRATION_PROPS))
    assert found == [
        "migrations/shop/1_m.sql:1: rls-not-enabled: table shop.t is created without ALTER TABLE "
        "... ENABLE ROW LEVEL SECURITY in this app's migrations; every API key could read it"
    ]
    assert ("migration-lint", validators.migration_lint) in [
        (n, f) for n, _, f in validators.ADVISORY
    ]


def test_the_local_stack_passes_every_mandatory_policy(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    """The program's resources, as registered, against the mandatory validators."""
    root = make_project(tmp_path, "rls: []\n", {"1_x.sql": "select 1;\n"})
    deploy_platform(root)
    found = [
        message
        for r in pulumi_mocks.resources
        for message in validators.violations(
            r.typ, r.name, r.inputs, protect=r.protect, secret_outputs=r.additional_secret_outputs
        )
    ]
    assert found == []


def test_prod_refuses_seed_data() -> None:
    seed = "pulumi-python:dynamic/seeds:SeedData"
    props = {"source": "seeds/shop/01_items.sql"}
    prod = {"forbidSeeds": True}
    assert _violations(validators.no_seed_data, _args(seed, props, config=prod)) == [
        "seed file 'seeds/shop/01_items.sql' would be applied on this stack; seed data is for "
        "development stacks (set supastack:seed: false)"
    ]
    assert not _violations(validators.no_seed_data, _args(seed, props))
    assert ("no-seed-data", validators.no_seed_data) in [(n, f) for n, _, f in validators.MANDATORY]
    config = Path(__file__).parents[3] / "policy" / "prod.json"
    assert '"forbidSeeds": true' in config.read_text()


@pytest.mark.parametrize(("seed", "declared"), [(None, True), (False, False)])
def test_seed_files_are_declared_after_migrations_on_stacks_that_seed(
    pulumi_mocks: RecordingMocks, tmp_path: Path, seed: bool | None, declared: bool
) -> None:
    root = make_project(tmp_path, "rls: []\n", {"1_x.sql": "select 1;\n"})
    (root / "seeds" / "shop").mkdir(parents=True)
    (root / "seeds" / "shop" / "01_items.sql").write_text("select 1;\n")
    if seed is None:
        deploy_platform(root)  # local: seeds by default
    else:
        deploy_platform(root, seed=seed)
    seeds = [r for r in pulumi_mocks.resources if r.typ.endswith("seeds:SeedData")]
    assert bool(seeds) is declared
    if declared:
        migration = next(r for r in pulumi_mocks.resources if r.name.endswith("shop-migrations-1"))
        assert migration.urn in seeds[0].dependencies
        assert seeds[0].inputs["source"] == "seeds/shop/01_items.sql"
