"""The MaterializedViewRefresh dynamic resource: a pg_cron job refreshing one view, created only
once the view is known to be refreshable that way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import pulumi
from pydantic import Field

from components.providers.base import TypedResource
from components.providers.operations.cron import CronJobProps, CronJobProvider, job_fields
from supastack.database import matviews
from supastack.database.matviews import Refresh
from supastack.operations import cron
from supastack.resource_props import Deferred, secret


class MaterializedViewRefreshProps(CronJobProps):
    app_conninfo: str = secret()
    """The app's database, where the view is (``conninfo`` is pg_cron's)."""
    source: str
    schema_: str = Field(alias="schema")
    view: str
    concurrently: bool

    @classmethod
    def for_refresh(
        cls, conninfo: Deferred[str], app_conninfo: Deferred[str], *, source: str,
        refresh: Refresh, job: cron.Job, adopt: bool,
    ) -> Self:  # fmt: skip
        return cls.declared(
            conninfo=conninfo, app_conninfo=app_conninfo, source=source, schema_=refresh.schema,
            view=refresh.view, concurrently=refresh.concurrently, **job_fields(job), adopt=adopt,
        )  # fmt: skip

    def refresh(self) -> Refresh:
        return Refresh(self.schema_, self.view, self.concurrently)


class MaterializedViewRefreshProvider(CronJobProvider):
    """A cron job whose create and update first check the view (a materialized view; for
    ``concurrently``, populated with a unique index), naming the manifest entry if not."""

    props_type: ClassVar[type[CronJobProps]] = MaterializedViewRefreshProps

    def put(self, props: CronJobProps, before: Mapping[str, Any] | None) -> dict[str, Any]:
        assert isinstance(props, MaterializedViewRefreshProps)
        matviews.check_refreshable(props.app_conninfo, props.refresh(), props.source)
        return super().put(props, before)


class MaterializedViewRefresh(
    TypedResource[MaterializedViewRefreshProps], module="database", name="MaterializedViewRefresh"
):
    """A materialized view's scheduled refresh."""

    provider_type = MaterializedViewRefreshProvider
    outputs = ("job_id",)

    job_id: pulumi.Output[int]
