"""The CronJob dynamic resource: one named pg_cron job, upserted by name."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from components.providers.base import (
    DeclarativeProvider,
    gone,
    with_secret_outputs,
)
from supastack.operations import cron
from supastack.resource_props import CronJobProps


class CronJobProvider(DeclarativeProvider[CronJobProps]):
    """Schedule on create and update; delete unschedules if the job exists; ``read`` reports a
    changed schedule, command or active flag, which the next deploy puts back."""

    props_type = CronJobProps
    replace_on = ("name",)

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Schedule the job; with ``adopt``, a job of that name made by hand is taken over if
        it matches (the upsert then changes nothing and keeps its id), else refused."""
        job = self.typed(props)
        if job.adopt:
            cron.refuse_to_adopt_a_different_job(job.conninfo, job.job())
        return CreateResult(job.name, {**props, "job_id": cron.schedule(job.conninfo, job.job())})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        job = self.typed(news)
        return UpdateResult({**news, "job_id": cron.schedule(job.conninfo, job.job())})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        job = self.typed(props)
        cron.unschedule(job.conninfo, job.name)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        job = self.typed(props)
        live = cron.read(job.conninfo, job.name)
        if live is None:
            return gone()
        return ReadResult(
            id_,
            {**props, "schedule": live.schedule, "command": live.command, "active": live.active},
        )


class CronJob(Resource, module="cron", name="CronJob"):
    """A pg_cron job."""

    job_id: pulumi.Output[int]

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            CronJobProvider(),
            name,
            {**props, "job_id": None},
            with_secret_outputs(opts, CronJobProvider.props_type),
        )
