"""The Database component alone: extensions, one schema per app that owns one, settings."""

from __future__ import annotations

from components.database import Database
from supastack.config.settings import AdoptImports
from tests.unit.components.conftest import build, manifest, secret
from tests.unit.conftest import RecordingMocks, one


def test_extensions_schemas_and_settings(pulumi_mocks: RecordingMocks) -> None:
    apps = [
        manifest("shop", extensions=["pg_cron", {"name": "citext"}],
                 postgresSettings={"work_mem": "8MB", "shared_buffers": "256MB"}),
        manifest("blog", schema="public", publicSchemaReason="legacy tables"),
    ]  # fmt: skip
    build(lambda: Database("db", {
        "manifests": apps, "database": "postgres", "protect": True, "imports": AdoptImports(),
        "stack_settings": {"shared_buffers": "1GB"},
        "conninfo": secret(), "token": None, "api": None,
        "settings_target": {"target": "local", "local": {"state_dir": "/s", "port": 1}},
    }))  # fmt: skip
    extensions = {
        r.inputs["name"]: r.inputs["schema"]
        for r in pulumi_mocks.resources
        if r.typ == "postgresql:index/extension:Extension"
    }
    assert extensions == {"pg_cron": "pg_catalog", "citext": "extensions"}
    # pg_cron's schema is not compared (all of it is in `cron`; a guide's in public is adopted)
    ignored = {r.inputs["name"]: r.ignore_changes for r in pulumi_mocks.resources
               if r.typ == "postgresql:index/extension:Extension"}  # fmt: skip
    assert ignored == {"pg_cron": ["schema"], "citext": []}
    schemas = [r for r in pulumi_mocks.resources if r.typ == "postgresql:index/schema:Schema"]
    assert [s.inputs["name"] for s in schemas] == ["shop"]  # public is not the app's to create
    assert all(s.protect for s in schemas)
    settings = one(pulumi_mocks, "pulumi-python:dynamic/database:PostgresSettings")
    assert settings.inputs["values"] == {"work_mem": "8MB", "shared_buffers": "1GB"}  # stack wins
    # applying settings may restart the server: nothing of the database runs meanwhile (the
    # applier's parallel order cut an extension's connection before this)
    made = [r for r in pulumi_mocks.resources if r.typ.startswith("postgresql:index/")]
    assert made and all(settings.urn in r.dependencies for r in made)


def test_an_extension_in_a_schema_of_its_own_waits_for_that_schema(
    pulumi_mocks: RecordingMocks,
) -> None:
    apps = [manifest("shop", extensions=["pg_partman"]), manifest("blog", extensions=["citext"])]
    build(lambda: Database("db", {
        "manifests": apps, "database": "postgres", "protect": False, "stack_settings": {},
        "imports": AdoptImports(),
        "conninfo": secret(), "token": None, "api": None,
        "settings_target": {"target": "local", "local": {"state_dir": "/s", "port": 1}},
    }))  # fmt: skip
    partman = one(pulumi_mocks, "postgresql:index/extension:Extension", "pg_partman")
    home = one(pulumi_mocks, "postgresql:index/schema:Schema", "ext-schema-partman")
    assert (partman.inputs["schema"], home.inputs["name"]) == ("partman", "partman")
    assert home.urn in partman.dependencies
    citext = one(pulumi_mocks, "postgresql:index/extension:Extension", "citext")
    assert citext.dependencies == []  # extensions exists on every Supabase database


def test_what_adopt_listed_is_imported_by_the_providers_ids_the_rest_created(
    pulumi_mocks: RecordingMocks,
) -> None:
    apps = [manifest("shop", extensions=["pg_partman", "pgcrypto"]), manifest("blog")]
    imports = AdoptImports(schemas=["shop", "partman"], extensions=["pg_partman"])
    build(lambda: Database("db", {
        "manifests": apps, "database": "postgres", "protect": True, "stack_settings": {},
        "conninfo": secret(), "token": None, "api": None, "imports": imports,
        "settings_target": {"target": "local", "local": {"state_dir": "/s", "port": 1}},
    }))  # fmt: skip
    ids = {(r.typ.rsplit(":", 1)[1], r.inputs["name"]): r.import_id
           for r in pulumi_mocks.resources if r.typ.startswith("postgresql:index/")}  # fmt: skip
    assert ids == {
        ("Schema", "shop"): "postgres.shop",
        ("Schema", "partman"): "postgres.partman",
        ("Schema", "blog"): "",  # not there: created
        ("Extension", "pg_partman"): "postgres.pg_partman",
        ("Extension", "pgcrypto"): "",
    }
    imported = [r for r in pulumi_mocks.resources if r.import_id]
    assert all(r.protect for r in imported)  # the other options kept
