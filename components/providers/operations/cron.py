"""The CronJob dynamic resource: one named pg_cron job, upserted by name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import pulumi

from components.providers.base import TypedProvider, TypedResource
from supastack.operations import cron
from supastack.resource_props import Deferred, OnDatabase


class CronJobProps(OnDatabase):
    name: str
    schedule: str
    command: str
    database: str
    active: bool = True
    adopt: bool = False
    """Take over a job of this name that exists and matches (``supastack:adopt``)."""
    replaces: bool = False
    """With ``adopt``: one of this name that differs was reviewed by ``adopt --accept``
    (``supastack:adoptReplaces``): scheduled as declared in its place (same job id)."""

    not_diffed: ClassVar[frozenset[str]] = frozenset({"adopt", "replaces"})

    @classmethod
    def for_job(
        cls, conninfo: Deferred[str], job: cron.Job, adopt: bool, replaces: bool = False
    ) -> Self:
        return cls.declared(conninfo=conninfo, **job_fields(job), adopt=adopt, replaces=replaces)

    def job(self) -> cron.Job:
        return cron.Job(self.name, self.schedule, self.command, self.database, self.active)


def job_fields(job: cron.Job) -> dict[str, Any]:
    return {
        "name": job.name, "schedule": job.schedule, "command": job.command,
        "database": job.database, "active": job.active,
    }  # fmt: skip


class CronJobProvider(TypedProvider[CronJobProps]):
    """Schedule on create and update; delete unschedules if the job exists; ``read`` reports a
    changed schedule, command or active flag, which the next deploy puts back."""

    props_type: ClassVar[type[CronJobProps]] = CronJobProps
    replace_on = ("name",)

    def identify(self, props: CronJobProps) -> str:
        return props.name

    def put(self, props: CronJobProps, before: Mapping[str, Any] | None) -> dict[str, Any]:
        """Schedule the job; with ``adopt``, a job of that name made by hand is taken over if
        it matches (the upsert then changes nothing and keeps its id), else refused unless
        adopt's review accepted replacing it (the upsert keeps its id)."""
        if before is None and props.adopt and not props.replaces:
            cron.refuse_to_adopt_a_different_job(props.conninfo, props.job())
        return {"job_id": cron.schedule(props.conninfo, props.job())}

    def remove(self, props: CronJobProps) -> None:
        cron.unschedule(props.conninfo, props.name)

    def observe(self, props: CronJobProps, recorded: Mapping[str, Any]) -> dict[str, Any] | None:
        live = cron.read(props.conninfo, props.name)
        if live is None:
            return None
        return {"schedule": live.schedule, "command": live.command, "active": live.active}


class CronJob(TypedResource[CronJobProps], module="cron", name="CronJob"):
    """A pg_cron job."""

    provider_type = CronJobProvider
    outputs = ("job_id",)

    job_id: pulumi.Output[int]
