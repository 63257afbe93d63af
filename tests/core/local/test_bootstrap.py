"""The Supabase-compatible bootstrap, object by object, against the real local cluster."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping

import psycopg
import pytest

from supastack.local.bootstrap import apply_bootstrap
from tests.conftest import RecordingServer, Services


def test_roles_have_supabase_attributes(services: Services) -> None:
    with services.connect() as conn:
        rows = {
            r[0]: r[1:]
            for r in conn.execute(
                "select rolname, rolcanlogin, rolinherit, rolbypassrls, rolsuper from pg_roles "
                "where rolname in ('anon','authenticated','service_role','authenticator',"
                "'supabase_admin')"
            )
        }
        members = {
            r[0]
            for r in conn.execute(
                "select r.rolname from pg_auth_members m join pg_roles r on r.oid = m.roleid "
                "join pg_roles u on u.oid = m.member where u.rolname = 'authenticator'"
            )
        }
    assert rows["anon"] == (False, True, False, False)
    assert rows["authenticated"] == (False, True, False, False)
    assert rows["service_role"] == (False, True, True, False)
    assert rows["authenticator"] == (True, False, False, False)
    assert rows["supabase_admin"][3] is True
    assert members == {"anon", "authenticated", "service_role"}


def test_authenticator_logs_in_and_switches_role(services: Services) -> None:
    dsn = services.dsn("authenticator", services.credentials.authenticator_password)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("set role authenticated")
        assert conn.execute("select current_user").fetchone() == ("authenticated",)


def _as_user(conn: psycopg.Connection[tuple[object, ...]], claims: Mapping[str, object]) -> None:
    conn.execute("set local role authenticated")
    conn.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps(claims)])


def test_auth_functions_read_the_jwt_claims(services: Services) -> None:
    sub = str(uuid.uuid4())
    claims = {"sub": sub, "role": "authenticated", "email": "a@example.com"}
    with services.connect() as conn, conn.transaction():
        _as_user(conn, claims)
        row = conn.execute("select auth.uid(), auth.role(), auth.email(), auth.jwt()").fetchone()
    assert row is not None
    assert (str(row[0]), row[1], row[2], row[3]) == (sub, "authenticated", "a@example.com", claims)


def test_auth_uid_falls_back_to_the_legacy_claim_setting(services: Services) -> None:
    sub = str(uuid.uuid4())
    with services.connect() as conn, conn.transaction():
        conn.execute("select set_config('request.jwt.claim.sub', %s, true)", [sub])
        row = conn.execute("select auth.uid()").fetchone()
    assert row is not None and str(row[0]) == sub


def test_auth_uid_is_null_without_claims(services: Services) -> None:
    with services.connect() as conn:
        assert conn.execute("select auth.uid(), auth.jwt()").fetchone() == (None, None)


def test_public_tables_are_granted_to_api_roles_as_on_supabase(services: Services) -> None:
    """The exposure RLS must guard: a new public table is readable by anon by default."""
    table = f"t_{uuid.uuid4().hex[:8]}"
    with services.connect() as conn:
        conn.execute(f"create table public.{table} (id int)")
        granted = conn.execute(
            "select has_table_privilege('anon', %s, 'select')", [f"public.{table}"]
        ).fetchone()
        conn.execute(f"drop table public.{table}")
    assert granted == (True,)


def test_extensions_schema_and_search_path(services: Services) -> None:
    with services.connect() as conn:
        installed: dict[object, object] = dict(
            conn.execute(  # type: ignore[arg-type]
                "select e.extname, n.nspname from pg_extension e "
                "join pg_namespace n on n.oid = e.extnamespace"
            ).fetchall()
        )
        path = conn.execute("show search_path").fetchone()
        libraries = conn.execute("show shared_preload_libraries").fetchone()
    assert installed["pgcrypto"] == "extensions"
    assert installed["pg_stat_statements"] == "extensions"
    assert path is not None and "extensions" in str(path[0])
    assert libraries == ("pg_cron,pg_stat_statements",)


def test_realtime_publication_exists(services: Services) -> None:
    with services.connect() as conn:
        assert conn.execute(
            "select count(*) from pg_publication where pubname = 'supabase_realtime'"
        ).fetchone() == (1,)


def test_vault_secret_round_trips_and_is_encrypted_at_rest(services: Services) -> None:
    name, value = f"s_{uuid.uuid4().hex[:8]}", f"value-{uuid.uuid4()}"
    with services.connect() as conn:
        row = conn.execute("select vault.create_secret(%s, %s, 'test')", [value, name]).fetchone()
        assert row is not None
        secret_id = row[0]
        stored = conn.execute("select secret from vault.secrets where id = %s", [secret_id])
        decrypted = conn.execute(
            "select decrypted_secret from vault.decrypted_secrets where name = %s", [name]
        ).fetchone()
        conn.execute("select vault.update_secret(%s, %s)", [secret_id, value + "-2"])
        updated = conn.execute(
            "select decrypted_secret, description from vault.decrypted_secrets where id = %s",
            [secret_id],
        ).fetchone()
        ciphertext = stored.fetchone()
    assert decrypted == (value,)
    assert updated == (value + "-2", "test")
    assert ciphertext is not None and value not in str(ciphertext[0])


def test_vault_key_is_not_in_the_database(services: Services) -> None:
    key = services.env.paths.vault_key.read_text().strip()
    with services.connect() as conn:
        conn.execute("select vault.create_secret('x', %s)", [f"k_{uuid.uuid4().hex[:8]}"])
        dumped = conn.execute(
            "select string_agg(secret || description, '') from vault.secrets"
        ).fetchone()
        settings = conn.execute("select string_agg(setting, ' ') from pg_settings").fetchone()
    assert dumped is not None and key not in str(dumped[0])
    assert settings is not None and key not in str(settings[0])


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_api_roles_cannot_read_vault(services: Services, role: str) -> None:
    with services.connect() as conn, conn.transaction(force_rollback=True):
        conn.execute(f"set local role {role}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select decrypted_secret from vault.decrypted_secrets")


def test_http_post_reaches_a_local_server(
    services: Services, http_endpoint: RecordingServer
) -> None:
    with services.connect() as conn:
        row = conn.execute(
            "select net.http_post(url := %s, body := '{\"n\": 1}'::jsonb, "
            'params := \'{"q": "x"}\'::jsonb, '
            'headers := \'{"Content-Type": "application/json", "Authorization": '
            '"Bearer t0k"}\'::jsonb)',
            [http_endpoint.url + "/hook"],
        ).fetchone()
        assert row is not None
        response = conn.execute(
            "select status_code, content, timed_out, error_msg from net._http_response "
            "where id = %s",
            [row[0]],
        ).fetchone()
    [request] = http_endpoint.wait_for(1)
    assert (request.method, request.path) == ("POST", "/hook?q=x")
    assert request.headers["Authorization"] == "Bearer t0k"
    assert request.json() == {"n": 1}
    assert response == (200, '{"ok": true}', False, None)


def test_http_get_and_delete_reach_a_local_server(
    services: Services, http_endpoint: RecordingServer
) -> None:
    with services.connect() as conn:
        conn.execute("select net.http_get(%s)", [http_endpoint.url + "/a"])
        conn.execute("select net.http_delete(%s)", [http_endpoint.url + "/b"])
    assert [(r.method, r.path) for r in http_endpoint.wait_for(2)] == [
        ("GET", "/a"),
        ("DELETE", "/b"),
    ]


def test_http_post_refuses_a_non_json_content_type_like_pg_net(services: Services) -> None:
    with (
        services.connect() as conn,
        pytest.raises(psycopg.errors.RaiseException, match="Content-Type"),
    ):
        conn.execute(
            "select net.http_post('http://127.0.0.1:9/x', headers := "
            '\'{"Content-Type": "text/plain"}\'::jsonb)'
        )


def test_http_post_records_an_unreachable_endpoint_instead_of_raising(services: Services) -> None:
    with services.connect() as conn:
        row = conn.execute("select net.http_post('http://127.0.0.1:9/x')").fetchone()
        assert row is not None
        response = conn.execute(
            "select status_code, error_msg from net._http_response where id = %s", [row[0]]
        ).fetchone()
    assert response is not None and response[0] is None and response[1]


def test_pg_cron_schedules_in_the_postgres_database(services: Services) -> None:
    name = f"job_{uuid.uuid4().hex[:8]}"
    with services.connect() as conn:
        conn.execute("create extension if not exists pg_cron with schema pg_catalog")
        conn.execute("select cron.schedule(%s, '*/5 * * * *', 'select 1')", [name])
        job = conn.execute(
            "select schedule, command, active, database from cron.job where jobname = %s", [name]
        ).fetchone()
        conn.execute("select cron.unschedule(%s)", [name])
    assert job == ("*/5 * * * *", "select 1", True, "postgres")


def test_bootstrap_is_idempotent(services: Services) -> None:
    """Re-applying the bootstrap (every `up` does) keeps existing Vault secrets."""
    name = f"keep_{uuid.uuid4().hex[:8]}"
    with services.connect() as conn:
        conn.execute("select vault.create_secret('kept', %s)", [name])
    apply_bootstrap(services.dsn(), services.credentials.authenticator_password)
    with services.connect() as conn:
        assert conn.execute(
            "select decrypted_secret from vault.decrypted_secrets where name = %s", [name]
        ).fetchone() == ("kept",)
