"""Every dynamic resource supastack declares, and what is derived from all of them at once."""

from __future__ import annotations

from components.providers.base import TypedResource
from components.providers.database.exposed_schemas import ExposedSchemas
from components.providers.database.matviews import MaterializedViewRefresh
from components.providers.database.partitions import PartitionSet
from components.providers.database.project_settings import ProjectSetting
from components.providers.database.publication import PublicationTables
from components.providers.database.realtime import RealtimeConfig
from components.providers.database.rls import RlsPolicy, RowLevelSecurity
from components.providers.database.settings import PostgresSettings
from components.providers.database.vault import VaultSecret
from components.providers.flags.feature_flags import FeatureFlag
from components.providers.functions.edge_function import EdgeFunction
from components.providers.functions.function_secrets import FunctionSecrets
from components.providers.migrations.migration import Migration
from components.providers.migrations.seeds import SeedData
from components.providers.operations.alerts import AlertChannel, AlertRule
from components.providers.operations.cron import CronJob
from supastack.resource_props import ResourceProps

RESOURCES: tuple[type[TypedResource[ResourceProps]], ...] = (
    AlertChannel, AlertRule, CronJob, EdgeFunction, ExposedSchemas, FeatureFlag,
    FunctionSecrets, MaterializedViewRefresh, Migration, PartitionSet, PostgresSettings,
    ProjectSetting, PublicationTables, RealtimeConfig, RlsPolicy, RowLevelSecurity, SeedData,
    VaultSecret,
)  # type: ignore[assignment]  # fmt: skip


def all_secret_fields() -> tuple[str, ...]:
    """Every property any resource declares secret (what the policy pack checks for)."""
    found: set[str] = set()
    for resource in RESOURCES:
        found |= set(resource.provider_type.props_type.secret_fields())
    return tuple(sorted(found))
