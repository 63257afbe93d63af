"""What the local cluster is told: its connection string and its server settings."""

from __future__ import annotations

from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from supastack.local.cluster import OWNED_SETTINGS, Cluster, render_settings
from supastack.local.paths import StatePaths


def test_dsn_quotes_a_password_with_spaces_and_quotes() -> None:
    password = "a b'c\\d"
    dsn = Cluster(StatePaths(Path("/x")), 54322, password).dsn()
    parsed = conninfo_to_dict(dsn)
    assert parsed["password"] == password
    assert (parsed["host"], parsed["port"], parsed["user"]) == ("127.0.0.1", "54322", "postgres")


def test_server_listens_on_loopback_with_pg_cron_in_background_workers() -> None:
    rendered = render_settings(5999, Path("/state/vault.key"))
    assert "listen_addresses = '127.0.0.1'" in rendered
    assert "port = 5999" in rendered
    assert "shared_preload_libraries = 'pg_cron,pg_stat_statements'" in rendered
    assert "cron.use_background_workers = on" in rendered
    assert "supastack.vault_key_file = '/state/vault.key'" in rendered


def test_every_setting_supastack_writes_is_owned_and_nothing_else() -> None:
    written = {
        line.split(" = ")[0]
        for line in render_settings(5432, Path("/k")).splitlines()
        if " = " in line and not line.startswith("#")
    }
    assert written - {"max_worker_processes"} == OWNED_SETTINGS
