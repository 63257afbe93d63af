"""The deploy gate's rules, as plain functions over Pulumi's resource validation arguments.

Mandatory:
- ``protected-in-prod``: with ``requireProtect`` (the prod stack's policy config), database
  schemas, extensions and migrations must be protected;
- ``verify-jwt-off-needs-a-reason``: a function deployed with ``verify_jwt: false`` states why
  in its manifest (``verifyJwtOffReason``);
- ``critical-alerts-notify``: with ``requireAlertChannels``, a critical alert rule has a channel;
- ``secrets-stay-secret``: every secret-bearing property of supastack's resources is declared a
  secret output, so it never lands in state or previews in plaintext;
- ``no-seed-data``: with ``forbidSeeds`` (prod), no seed file is deployed.

Advisory:
- ``migration-lint``: the lint findings (squawk and supastack's own) of each migration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
)

from components.providers.catalog import all_secret_fields
from components.providers.migrations.migration import MigrationProps
from supastack.migrations.lint import lint

#: The policy config each stack may set (`--policy-pack-config`).
CONFIG_SCHEMA_PROPERTIES = {
    "requireProtect": {"type": "boolean", "default": False},
    "requireAlertChannels": {"type": "boolean", "default": False},
    "forbidSeeds": {"type": "boolean", "default": False},
}
#: Every property a resource declares secret (``supastack.resource_props.secret``): one list.
SECRET_PROPERTIES = all_secret_fields()
PROTECTED_TYPES = (
    "pulumi-python:dynamic/migrations:Migration",
    "postgresql:index/schema:Schema",
    "postgresql:index/extension:Extension",
)


def protected_in_prod(args: ResourceValidationArgs, report: ReportViolation) -> None:
    required = args.get_config().get("requireProtect")
    if args.resource_type in PROTECTED_TYPES and required and not args.opts.protect:
        report(f"{args.name}: must be protected on this stack (supastack:protect: true)", args.urn)


def verify_jwt_off_needs_a_reason(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != "pulumi-python:dynamic/functions:EdgeFunction":
        return
    if args.props.get("verify_jwt") is False and not args.props.get("verify_jwt_off_reason"):
        report(
            f"function {args.props.get('slug')!r} is deployed with verify_jwt: false without a "
            "reason; state it as verifyJwtOffReason in the app manifest",
            args.urn,
        )


def critical_alerts_notify(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != "pulumi-python:dynamic/alerts:AlertRule":
        return
    critical = args.props.get("severity") == "critical"
    required = args.get_config().get("requireAlertChannels")
    if critical and required and not args.props.get("channels"):
        report(
            f"alert rule {args.props.get('name')!r} is critical but notifies no channel", args.urn
        )


def secrets_stay_secret(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not args.resource_type.startswith("pulumi-python:dynamic/"):
        return
    present = [p for p in SECRET_PROPERTIES if args.props.get(p) is not None]
    plain = [p for p in present if p not in args.opts.additional_secret_outputs]
    if plain:
        report(f"{args.name}: {', '.join(plain)} must be secret outputs", args.urn)


def no_seed_data(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == "pulumi-python:dynamic/seeds:SeedData" and args.get_config().get(
        "forbidSeeds"
    ):
        report(
            f"seed file {args.props.get('source')!r} would be applied on this stack; seed data "
            "is for development stacks (set supastack:seed: false)",
            args.urn,
        )


def migration_lint(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != "pulumi-python:dynamic/migrations:Migration":
        return
    migration = MigrationProps.of({"conninfo": "", **args.props})
    for finding in lint([migration.file()], migration.app):
        report(str(finding), args.urn)


Validator = Callable[[ResourceValidationArgs, ReportViolation], None]

MANDATORY: list[tuple[str, str, Validator]] = [
    ("protected-in-prod", "database objects and migrations are protected", protected_in_prod),
    (
        "verify-jwt-off-needs-a-reason",
        "verify_jwt: false needs a stated reason",
        verify_jwt_off_needs_a_reason,
    ),
    ("critical-alerts-notify", "critical alert rules notify a channel", critical_alerts_notify),
    ("secrets-stay-secret", "secret-bearing properties are secret outputs", secrets_stay_secret),
    ("no-seed-data", "no seed data on stacks that forbid it", no_seed_data),
]
ADVISORY: list[tuple[str, str, Validator]] = [
    ("migration-lint", "migration lint findings", migration_lint),
]


def violations(
    resource_type: str,
    name: str,
    props: Mapping[str, Any],
    *,
    protect: bool,
    secret_outputs: list[str],
    config: Mapping[str, Any] | None = None,
    rules: list[
        tuple[str, str, Callable[[ResourceValidationArgs, ReportViolation], None]]
    ] = MANDATORY,
) -> list[str]:
    """Run ``rules`` on one resource as the policy engine would; the violation messages."""
    opts = PolicyResourceOptions(
        protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), list(secret_outputs)
    )
    args = ResourceValidationArgs(
        resource_type, props, f"urn:{resource_type}::{name}", name, opts, None, dict(config or {})
    )
    found: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        found.append(message)

    for _, _, validate in rules:
        validate(args, report)
    return found
