"""The offline end-to-end harness: run the real program and apply what it registers.

The Pulumi CLI and its provider plugins cannot run here, so this runs ``__main__.py`` under
``pulumi.runtime.set_mocks`` with mocks that *apply* each resource as it is registered, in
registration order (which follows the program's dependencies):

- dynamic resources (migrations, policies, functions, secrets, cron jobs, alert rules) go
  through their own providers, unpickled from ``__provider`` as the Pulumi engine would;
- ``postgresql.*`` resources through small SQL equivalents (below), against the connection of
  the registered ``postgresql`` provider;
- ``random.RandomPassword`` through ``secrets.token_urlsafe``;
- component resources and providers are recorded only.

Every resource also goes through the policy pack's mandatory validators (``violations``).

Test code only: nothing in ``components/`` or ``supastack/`` can reach it.
"""

from __future__ import annotations

import base64
import json
import runpy
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dill  # type: ignore[import-untyped]
import pulumi
import yaml
from psycopg import sql
from psycopg.conninfo import make_conninfo
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

from policy import validators
from supastack.local.paths import PROJECT_DIR
from supastack.postgres import connect

Outputs = dict[str, Any]


@dataclass
class Applied:
    typ: str
    name: str
    id: str
    outputs: Outputs = field(repr=False)
    provider: str | None = field(default=None, repr=False)
    """A dynamic resource's pickled provider: deletes run the code that created it."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.typ, self.name)


def _provider(blob: str) -> Any:
    # our own provider, pickled by the program (what the engine unpickles, too)
    return dill.loads(base64.b64decode(blob))  # noqa: S301


def _privileges(inputs: Mapping[str, Any]) -> sql.Composable:
    names = inputs.get("privileges") or []
    return sql.SQL(", ").join(sql.SQL(p) for p in names) if names else sql.SQL("ALL")


def _kind(object_type: str) -> sql.Composable:
    return sql.SQL(
        {"table": "TABLES", "sequence": "SEQUENCES", "function": "FUNCTIONS"}[object_type]
    )


def _grant(inputs: Mapping[str, Any]) -> list[sql.Composed]:
    """postgresql.Grant: exactly the listed privileges on a schema or its objects."""
    role, schema = sql.Identifier(inputs["role"]), sql.Identifier(inputs["schema"])
    revoke = not inputs.get("privileges")
    if inputs["objectType"] == "schema":
        target: sql.Composable = sql.SQL("SCHEMA {}").format(schema)
    elif inputs.get("objects"):
        target = sql.SQL("{} {}").format(
            sql.SQL(inputs["objectType"].upper()),
            sql.SQL(", ").join(
                sql.SQL("{}.{}").format(schema, sql.Identifier(o)) for o in inputs["objects"]
            ),
        )
    else:
        target = sql.SQL("ALL {} IN SCHEMA {}").format(_kind(inputs["objectType"]), schema)
    # As pulumi-postgresql does: the listed privileges become the role's whole set there.
    statements = [sql.SQL("REVOKE ALL ON {} FROM {}").format(target, role)]
    if not revoke:
        statements.append(sql.SQL("GRANT {} ON {} TO {}").format(_privileges(inputs), target, role))
    return statements


def _default_privileges(inputs: Mapping[str, Any]) -> list[sql.Composed]:
    head = sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {}").format(
        sql.Identifier(inputs["owner"]), sql.Identifier(inputs["schema"])
    )
    kind, role = _kind(inputs["objectType"]), sql.Identifier(inputs["role"])
    if not inputs.get("privileges"):
        return [sql.SQL("{} REVOKE ALL ON {} FROM {}").format(head, kind, role)]
    return [sql.SQL("{} GRANT {} ON {} TO {}").format(head, _privileges(inputs), kind, role)]


def _role(inputs: Mapping[str, Any]) -> list[sql.Composed]:
    name = sql.Identifier(inputs["name"])
    login = sql.SQL("LOGIN" if inputs.get("login") else "NOLOGIN")
    statements: list[sql.Composed] = [
        sql.SQL("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {}) THEN "
                "CREATE ROLE {}; END IF; END $$").format(sql.Literal(inputs["name"]), name),
        sql.SQL("ALTER ROLE {} {} PASSWORD {}").format(
            name, login, sql.Literal(inputs.get("password"))
        ),
    ]  # fmt: skip
    statements += [
        sql.SQL("GRANT {} TO {}").format(sql.Identifier(member), name)
        for member in inputs.get("roles") or []
    ]
    return statements


#: postgresql resources and their SQL equivalents.
SQL_EQUIVALENTS: dict[str, Callable[[Mapping[str, Any]], list[sql.Composed]]] = {
    "postgresql:index/extension:Extension": lambda i: [
        sql.SQL("CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {}").format(
            sql.Identifier(i["name"]), sql.Identifier(i["schema"])
        )
    ],
    "postgresql:index/schema:Schema": lambda i: [
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(i["name"]))
    ],
    "postgresql:index/role:Role": _role,
    "postgresql:index/grant:Grant": _grant,
    "postgresql:index/defaultPrivileges:DefaultPrivileges": _default_privileges,
}


def plain(value: Any) -> Any:
    """Unwrap Pulumi's secret envelopes (the engine hands providers plain values)."""
    if isinstance(value, dict):
        if rpc._special_sig_key in value:
            return plain(value.get("value"))
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


class ApplyingMocks(pulumi.runtime.Mocks):
    """Mocks that apply every resource to the local target, one at a time.

    Given the previous run's state, a resource registered again is diffed through its provider
    and updated (or replaced) only if it changed; :meth:`finish` then deletes what the program
    no longer registers, newest first, with the providers that created it: what ``pulumi up``
    does for an older program.
    """

    def __init__(self, previous: list[Applied] | None = None) -> None:
        self.applied: list[Applied] = []
        self.deleted: list[Applied] = []
        self.violations: list[str] = []
        #: (protect, secret outputs) the monitor saw, by (type, name): what the policies need
        self.options: dict[tuple[str, str], tuple[bool, list[str]]] = {}
        self._previous = {a.key: a for a in previous or []}
        self._previous_order = list(previous or [])
        self._lock = threading.Lock()
        self._conninfo: str | None = None

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, Outputs]:
        with self._lock:
            inputs = plain(dict(args.inputs))
            self._check_policies(args.typ, args.name, inputs)
            old = self._previous.get((args.typ, args.name))
            applied = self._apply(args.typ, args.name, inputs, bool(args.custom), old)
            self.applied.append(applied)
            return applied.id, applied.outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[Outputs, None]:
        return {}, None

    def _check_policies(self, typ: str, name: str, inputs: Outputs) -> None:
        """Run the policy pack's mandatory validators on the resource, as a preview would."""
        protect, secret_outputs = self.options.get((typ, name), (False, []))
        found = validators.violations(
            typ, name, inputs, protect=protect, secret_outputs=secret_outputs
        )
        self.violations += [f"{typ}::{name}: {message}" for message in found]

    def finish(self) -> None:
        """Delete what the previous run had and this one does not, in reverse order."""
        registered = {a.key for a in self.applied}
        for gone in reversed(self._previous_order):
            if gone.key in registered:
                continue
            if gone.provider is not None:
                _provider(gone.provider).delete(gone.id, gone.outputs)
            self.deleted.append(gone)

    def _apply(
        self, typ: str, name: str, inputs: Outputs, custom: bool, old: Applied | None
    ) -> Applied:
        if not custom:
            return Applied(typ, name, f"{name}-component", inputs)
        if typ == "pulumi:providers:postgresql":
            self._conninfo = make_conninfo(
                host=inputs["host"], port=inputs["port"], dbname=inputs["database"],
                user=inputs["username"], password=inputs["password"], sslmode=inputs["sslmode"],
            )  # fmt: skip
            return Applied(typ, name, f"{name}-provider", inputs)
        if typ == "random:index/randomPassword:RandomPassword":
            if old is not None:
                return old  # random values are made once
            length = int(inputs.get("length", 32))  # numbers cross the wire as floats
            return Applied(
                typ, name, name, {**inputs, "result": secrets.token_urlsafe(length)[:length]}
            )
        if typ in SQL_EQUIVALENTS:
            assert self._conninfo, "the postgresql provider is registered before its resources"
            with connect(self._conninfo) as conn:
                for statement in SQL_EQUIVALENTS[typ](inputs):  # idempotent: safe to repeat
                    conn.execute(statement)
            return Applied(typ, name, name, inputs)
        if typ.startswith("pulumi-python:dynamic/"):
            return self._dynamic(typ, name, inputs, old)
        raise NotImplementedError(f"the harness has no equivalent for {typ}")

    @staticmethod
    def _dynamic(typ: str, name: str, inputs: Outputs, old: Applied | None) -> Applied:
        blob = inputs.pop("__provider")
        provider = _provider(blob)
        checked = provider.check(old.outputs if old else {}, inputs)
        if checked.failures:
            raise RuntimeError("; ".join(f.reason for f in checked.failures))
        news = checked.inputs
        if old is not None:
            diff = provider.diff(old.id, old.outputs, news)
            if not diff.changes:
                return Applied(typ, name, old.id, old.outputs, blob)
            if not diff.replaces:
                updated = provider.update(old.id, old.outputs, news)
                return Applied(typ, name, old.id, dict(updated.outs or {}), blob)
            _provider(old.provider or blob).delete(old.id, old.outputs)
        created = provider.create(news)
        return Applied(typ, name, str(created.id), dict(created.outs or {}), blob)


def stack_config(stack_file: str, overrides: Mapping[str, object]) -> dict[str, str]:
    """A stack file's supastack config as Pulumi hands it to the program, with overrides."""
    config = yaml.safe_load((PROJECT_DIR / stack_file).read_text())["config"]
    merged = {**config, **{f"supastack:{k}": v for k, v in overrides.items()}}
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in merged.items()}


@dataclass
class Deployment:
    """What a harness run applied, and the stack outputs the program exported."""

    mocks: ApplyingMocks
    outputs: dict[str, Any]

    def write_outputs(self, path: Path) -> Path:
        """The outputs as `pulumi stack output --json --show-secrets` would print them."""
        path.write_text(json.dumps(self.outputs, indent=2))
        path.chmod(0o600)
        return path


class OptionsMonitor(MockMonitor):
    """The mock monitor, telling the mocks each resource's options (protect, secret outputs)."""

    def __init__(self, mocks: ApplyingMocks) -> None:
        super().__init__(mocks)
        self.applying = mocks

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC name)
        self.applying.options[(request.type, request.name)] = (
            bool(request.protect),
            list(request.additionalSecretOutputs),
        )
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]


def deploy(
    config: Mapping[str, str],
    *,
    previous: Deployment | None = None,
    project: Path = PROJECT_DIR,
) -> Deployment:
    """Run ``project``'s ``__main__.py`` for the ``local`` stack with ``config``, applying every
    resource; with ``previous``, as an update of that deployment (changes and deletions)."""
    mocks = ApplyingMocks(previous.mocks.applied if previous else None)
    exported: dict[str, Any] = {}
    pulumi.runtime.set_all_config(dict(config), [])
    pulumi.runtime.set_mocks(
        mocks, project="supastack", stack="local", preview=False, monitor=OptionsMonitor(mocks)
    )
    try:

        @pulumi.runtime.test
        def program() -> Any:
            platform = runpy.run_path(str(project / "__main__.py"))["platform"]
            return pulumi.Output.all(**platform.outputs).apply(exported.update)

        program()
    finally:
        pulumi.runtime.reset_options()
        pulumi.runtime.set_all_config({}, [])
    mocks.finish()
    return Deployment(mocks, exported)


def applied_of(mocks: ApplyingMocks, typ_suffix: str) -> list[Applied]:
    return [a for a in mocks.applied if a.typ.endswith(typ_suffix)]
