"""The MaterializedViewRefresh dynamic resource: a pg_cron job refreshing one view, created only
once the view is known to be refreshable that way."""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi
from pulumi.dynamic import CreateResult, Resource, UpdateResult

from components.providers.base import with_secret_outputs
from components.providers.cron_job import CronJobProvider
from supastack.database import matviews
from supastack.resource_props import CronJobProps, MaterializedViewRefreshProps


class MaterializedViewRefreshProvider(CronJobProvider):
    """A cron job whose create and update first check the view (a materialized view; for
    ``concurrently``, populated with a unique index), naming the manifest entry if not."""

    props_type: ClassVar[type[CronJobProps]] = MaterializedViewRefreshProps

    def _check(self, props: dict[str, Any]) -> None:
        wanted = MaterializedViewRefreshProps.of(props)
        matviews.check_refreshable(wanted.app_conninfo, wanted.refresh(), wanted.source)

    def create(self, props: dict[str, Any]) -> CreateResult:
        self._check(props)
        return super().create(props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._check(news)
        return super().update(_id, olds, news)


class MaterializedViewRefresh(Resource, module="database", name="MaterializedViewRefresh"):
    """A materialized view's scheduled refresh."""

    job_id: pulumi.Output[int]

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            MaterializedViewRefreshProvider(),
            name,
            {**props, "job_id": None},
            with_secret_outputs(opts, MaterializedViewRefreshProvider.props_type),
        )
