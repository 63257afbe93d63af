"""The CronJob dynamic resource: one named pg_cron job, upserted by name."""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from components.providers.base import DeclarativeProvider, gone, with_secret_outputs
from supastack import cron


def _job(props: dict[str, Any]) -> cron.Job:
    return cron.Job(
        props["name"], props["schedule"], props["command"], props["database"], props["active"]
    )


class CronJobProvider(DeclarativeProvider):
    """Schedule on create and update; delete unschedules if the job exists; ``read`` reports a
    changed schedule, command or active flag, which the next deploy puts back."""

    inputs: ClassVar[tuple[str, ...]] = (
        "conninfo", "name", "schedule", "command", "database", "active",
    )  # fmt: skip
    replace_on: ClassVar[tuple[str, ...]] = ("name",)

    def create(self, props: dict[str, Any]) -> CreateResult:
        job_id = cron.schedule(props["conninfo"], _job(props))
        return CreateResult(props["name"], {**props, "job_id": job_id})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**news, "job_id": cron.schedule(news["conninfo"], _job(news))})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        cron.unschedule(props["conninfo"], props["name"])

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        live = cron.read(props["conninfo"], props["name"])
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
            CronJobProvider(), name, {**props, "job_id": None}, with_secret_outputs(opts)
        )
