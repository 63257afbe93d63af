"""``supastack adopt --stack S`` end to end on a project and its live database: it reports and
exits 1 while a guide's policy blocks, then with ``--accept`` replaces it, records the
baseline and sets ``supastack:adopt`` in the stack file, its comments kept."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from supastack.cli import app
from tests.conftest import Services, write_migrations
from tests.core.adopt.test_live import BY_HAND, ITEMS
from tests.core.conftest import Database, write_project

runner = CliRunner()
MANIFEST = """\
schema: shop
rls: [items]
policies:
  - {name: owners read, table: items, command: select, roles: [authenticated],
     using: "owner = (select auth.uid())"}
"""


def test_adopt_reports_blocks_then_accepts(
    tmp_path: Path, services: Services, database: Database
) -> None:
    database.execute(
        "create schema if not exists auth; create or replace function auth.uid() returns uuid "
        "language sql stable as $$ select null::uuid $$"
    )
    database.execute(BY_HAND)
    database.execute("create index items_by_owner on shop.items (owner)")  # as the migration
    project = write_project(tmp_path, services, database, {"shop": MANIFEST})
    write_migrations(project, "shop", {"20260101000000_items.sql": ITEMS})

    first = runner.invoke(app, ["--cwd", str(project), "adopt", "--stack", "test"])
    assert first.exit_code == 1, first.output
    assert "migrations shop: no history; its 1 file(s) are recorded as applied" in first.output
    assert 'DROP POLICY "Enable read access for all users" ON "shop"."items";' in first.output
    assert first.output.rstrip().endswith("run again with --accept")
    # the matching baseline is recorded; the policy is not touched
    assert database.scalar("select count(*) from supabase_migrations.schema_migrations") == 1
    assert database.scalar("select count(*) from pg_policies where schemaname = 'shop'") == 1
    assert "adopt" not in (project / "Pulumi.test.yaml").read_text()

    accepted = runner.invoke(app, ["--cwd", str(project), "adopt", "--stack", "test", "--accept"])
    assert accepted.exit_code == 0, accepted.output
    assert "migrations shop: 1 recorded in the history" in accepted.output
    assert database.scalar("select policyname from pg_policies where schemaname = 'shop'") == (
        "owners read"
    )
    text = (project / "Pulumi.test.yaml").read_text()
    assert yaml.safe_load(text)["config"]["supastack:adopt"] is True
    assert "# the team's stack" in text and "# where it deploys" in text
    # the schema the guide made is imported by the deploy, by the provider's id
    assert "schemas imported by the deploy (pulumi-postgresql, import_): shop" in accepted.output
    assert yaml.safe_load(text)["config"]["supastack:adoptImports"]["schemas"] == ["shop"]

    again = runner.invoke(app, ["--cwd", str(project), "adopt", "--stack", "test"])
    assert again.exit_code == 0 and "blocking" not in again.output, again.output
