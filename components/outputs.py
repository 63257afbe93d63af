"""The stack outputs the program exports.

The contract is ``supastack.delivery.outputs.StackOutputs``.

Everything here is a declaration of values the Platform already has: which apps, migrations,
functions, jobs and rules the program deploys, and where to reach them. Secrets stay secret.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi

from components.app import App
from supastack.config.settings import StackSettings
from supastack.database.declared import Declared
from supastack.functions.drains import DRAINS_SECRET
from supastack.plan.stack import StackPlan


def _function_entry(content_hash: str, verify_jwt: bool) -> Callable[[list[Any]], dict[str, Any]]:
    return lambda values: {
        "url": values[0],
        "version": values[1],
        "hash": content_hash,
        "verifyJwt": verify_jwt,
    }


def _functions(plan: StackPlan, apps: dict[str, App]) -> pulumi.Output[dict[str, Any]]:
    """Per function: where it answers, the deployed version, its hash, and verify_jwt."""
    entries: dict[str, pulumi.Output[dict[str, Any]]] = {}
    for planned in plan.apps:
        for slug, package in planned.functions.items():
            resource = apps[planned.manifest.app].functions[slug]
            entries[slug] = pulumi.Output.all(resource.url, resource.version).apply(
                _function_entry(package.hash, package.verify_jwt)
            )
    return pulumi.Output.all(**entries) if entries else pulumi.Output.from_input({})


def stack_outputs(
    stack: StackSettings,
    plan: StackPlan,
    *,
    functions_url: str,
    apps: dict[str, App],
    database_url: pulumi.Output[str],
    management_api: dict[str, Any],
    keys: dict[str, pulumi.Output[str] | None],
) -> dict[str, Any]:
    """The exported keys, camelCase, with secrets as Pulumi secrets."""
    function_secrets = [
        s.name for s in plan.secrets if s.function and s.deployed(stack.secret_values_set)
    ]
    if stack.log_drains:
        function_secrets.append(DRAINS_SECRET)
    return {
        "stack": stack.stack,
        "target": stack.target.value,
        "databaseUrl": pulumi.Output.secret(database_url),
        "cronDatabase": stack.database.cron_database,
        "functionsUrl": functions_url,
        "anonKey": keys.get("anonKey"),
        "serviceRoleKey": keys.get("serviceRoleKey"),
        "jwtSecret": keys.get("jwtSecret"),
        "publishableKey": keys.get("publishableKey"),
        "secretKey": keys.get("secretKey"),
        "jwtSigningKey": keys.get("jwtSigningKey"),
        "managementApi": pulumi.Output.secret(pulumi.Output.from_input(management_api)),
        "functions": _functions(plan, apps),
        "migrations": {
            a.manifest.app: [
                {"version": f.version, "name": f.name, "checksum": f.checksum} for f in a.migrations
            ]
            for a in plan.apps
        },
        "rlsTables": {
            a.manifest.app: [f"{a.manifest.schema_name}.{t}" for t in a.manifest.rls]
            for a in plan.apps
        },
        "publicTables": {
            a.manifest.app: [f"{a.manifest.schema_name}.{t}" for t in a.manifest.public_tables]
            for a in plan.apps
            if a.manifest.public_tables
        },
        "cronJobs": [
            {"name": j.name, "schedule": j.schedule, "active": j.active}
            for a in plan.apps
            for j in a.all_jobs
        ],
        "materializedViews": [
            {"schema": r.refresh.schema, "view": r.refresh.view, "job": r.job.name}
            for a in plan.apps
            for r in a.refreshes
        ],
        "alertRules": [
            {"name": r.name, "severity": r.severity} for a in plan.apps for r in a.rules
        ],
        "alertChannels": [c.name for c in plan.channels],
        "flags": [
            {"name": f.name, "enabled": f.enabled, "percentage": float(f.percentage)}
            for a in plan.apps
            for f in a.flags
        ],
        "exposedSchemas": plan.exposed_schemas,
        "logDrains": sorted(stack.log_drains),
        "secrets": sorted(function_secrets),
        "declared": Declared.of_manifests(plan.manifests).as_output(),
        "verify": {
            a.manifest.app: a.manifest.verify.model_dump(by_alias=True, exclude_none=True)
            for a in plan.apps
            if a.manifest.verify.sql or a.manifest.verify.http
        },
    }
