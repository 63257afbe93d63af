"""Every dynamic resource supastack declares, and what is derived from all of them at once."""

from __future__ import annotations

from components.providers.alerts import AlertChannel, AlertRule
from components.providers.base import TypedResource
from components.providers.cron_job import CronJob
from components.providers.edge_function import EdgeFunction
from components.providers.exposed_schemas import ExposedSchemas
from components.providers.feature_flag import FeatureFlag
from components.providers.function_secrets import FunctionSecrets
from components.providers.matview_refresh import MaterializedViewRefresh
from components.providers.migration import Migration
from components.providers.partition_set import PartitionSet
from components.providers.postgres_settings import PostgresSettings
from components.providers.project_setting import ProjectSetting
from components.providers.publication import PublicationTables
from components.providers.realtime_config import RealtimeConfig
from components.providers.rls import RlsPolicy, RowLevelSecurity
from components.providers.seed_data import SeedData
from components.providers.vault_secret import VaultSecret
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
