"""Database-wide settings asked for by several apps: one value each, or an error naming both."""

from __future__ import annotations

import pytest

from supastack.config.manifest import (
    AppManifest,
    merged_extensions,
    merged_realtime_config,
    merged_settings,
)
from supastack.errors import SupastackError


def _app(name: str, **values: object) -> AppManifest:
    return AppManifest.model_validate({"app": name, "source": f"apps/{name}.yaml", **values})


def test_the_same_extension_spelled_two_ways_is_one() -> None:
    merged = merged_extensions(
        [
            _app("a", extensions=["pg_cron"]),
            _app("b", extensions=[{"name": "pg_cron", "schema": "pg_catalog"}]),
        ]
    )
    assert [(e.name, e.schema_name) for e in merged] == [("pg_cron", "pg_catalog")]


@pytest.mark.parametrize(
    ("merge", "a", "b", "message"),
    [
        (merged_extensions, {"extensions": [{"name": "citext", "version": "1.6"}]},
         {"extensions": [{"name": "citext", "version": "1.5"}]},
         r"apps/b.yaml: extensions.citext: "),
        (merged_settings, {"postgresSettings": {"work_mem": "8MB"}},
         {"postgresSettings": {"work_mem": "4MB"}},
         r"apps/b.yaml: postgresSettings.work_mem: '4MB' conflicts with '8MB' in apps/a.yaml"),
        (merged_realtime_config, {"realtimeConfig": {"maxConcurrentUsers": 1000}},
         {"realtimeConfig": {"maxConcurrentUsers": 500}},
         r"apps/b.yaml: realtimeConfig.max_concurrent_users: 500 conflicts with 1000"),
    ],
)  # fmt: skip
def test_conflicting_values_name_both_manifests(
    merge: object, a: dict[str, object], b: dict[str, object], message: str
) -> None:
    with pytest.raises(SupastackError, match=message):
        merge([_app("a", **a), _app("b", **b)])  # type: ignore[operator]


def test_the_stacks_settings_win_and_settle_what_apps_disagree_on() -> None:
    apps = [
        _app("a", postgresSettings={"work_mem": "8MB", "max_connections": "200"}),
        _app("b", postgresSettings={"work_mem": "4MB"}),
    ]
    merged = merged_settings(apps, {"work_mem": "16MB", "shared_buffers": "1GB"})
    assert merged == {"max_connections": "200", "work_mem": "16MB", "shared_buffers": "1GB"}
