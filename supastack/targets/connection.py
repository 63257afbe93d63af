"""How supastack reaches a stack's database, for the program and for the CLI alike.

The local target's cluster listens on ``127.0.0.1:<local.dbPort>`` with the generated password
from the state directory. A Supabase project is reached on its direct connection with the
password that is the stack secret ``supastack:dbPassword``: the program gets it from Pulumi;
the CLI, which cannot decrypt Pulumi secrets, reads it from ``PGPASSWORD``. The same for the
Management API: the local runtime's token from the state directory, else the stack secret
``supastack:accessToken``, which the CLI reads from ``SUPABASE_ACCESS_TOKEN`` (the Supabase
CLI's variable).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg.conninfo import make_conninfo

from supastack.config.settings import StackSettings
from supastack.errors import SupastackError, first_line
from supastack.platform.management_api import ManagementApi
from supastack.targets import database_endpoint, target_for


def conninfo(stack: StackSettings, password: str) -> str:
    """The libpq connection string of the stack's database (holds the password: never log it)."""
    database = stack.database
    host, port, sslmode = database_endpoint(stack)
    return make_conninfo(
        host=host,
        port=port,
        dbname=database.name,
        user=database.user,
        password=password,
        sslmode=sslmode,
        connect_timeout=10,
    )


def url(stack: StackSettings, password: str) -> str:
    """The same database as a ``postgresql://`` URL (what clients and smoke tests take)."""
    host, port, sslmode = database_endpoint(stack)
    database = stack.database
    return (
        f"postgresql://{quote(database.user, safe='')}:{quote(password, safe='')}@{host}:{port}/"
        f"{quote(database.name, safe='')}?sslmode={sslmode}"
    )


def cli_password(stack: StackSettings, project_dir: Path) -> str:
    """The database password for CLI commands (local credentials, or ``PGPASSWORD``)."""
    local = target_for(stack, project_dir).local_credentials()
    if local is not None:
        return local.db_password
    password = os.environ.get("PGPASSWORD")
    if not password:
        raise SupastackError(
            f"{stack.source}: set PGPASSWORD to the stack's database password, e.g. "
            f"`PGPASSWORD=$(pulumi config get supastack:dbPassword --stack {stack.stack})`"
        )
    return password


def require_reachable(stack: StackSettings, conninfo_: str, project_dir: Path) -> None:
    """Fail with what to do when the stack's database does not answer (the CLI checks first)."""
    try:
        psycopg.connect(conninfo_, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        host, port, _ = database_endpoint(stack)
        raise SupastackError(
            f"{stack.source}: the database at {host}:{port} does not answer ({first_line(exc)}); "
            f"{target_for(stack, project_dir).unreachable_hint}"
        ) from None


def cli_management_api(stack: StackSettings, project_dir: Path) -> ManagementApi:
    """The stack's project on the Management API, for CLI commands."""
    target = target_for(stack, project_dir)
    local = target.local_credentials()
    api = target.management_api(local)
    token = local.access_token if local is not None else os.environ.get("SUPABASE_ACCESS_TOKEN")
    if not token:
        raise SupastackError(
            f"{stack.source}: set SUPABASE_ACCESS_TOKEN to the stack's Management API token, "
            f"e.g. `SUPABASE_ACCESS_TOKEN=$(pulumi config get supastack:accessToken --stack "
            f"{stack.stack})`"
        )
    return ManagementApi(api["url"], token, api["project_ref"])
