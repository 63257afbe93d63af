"""The ProjectSetting dynamic resource: one setting of a Supabase project (the pooler, SSL
enforcement, network restrictions), through the Management API."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from components.providers.base import DeclarativeProvider, with_secret_outputs
from supastack.database import project_settings
from supastack.resource_props import ProjectSettingProps


class ProjectSettingProvider(DeclarativeProvider[ProjectSettingProps]):
    """Apply the setting whole; ``read`` shows it changed in the dashboard. The API resets
    nothing to Supabase's default, so deleting the resource leaves the project as it is."""

    props_type = ProjectSettingProps
    replace_on = ("kind",)

    def create(self, props: dict[str, Any]) -> CreateResult:
        setting = self.typed(props)
        project_settings.apply(setting.client(), setting.kind, setting.value)
        return CreateResult(f"project-{setting.kind}", props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        setting = self.typed(news)
        project_settings.apply(setting.client(), setting.kind, setting.value)
        return UpdateResult(news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Nothing to undo: the Management API cannot reset a project setting."""

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        setting = self.typed(props)
        live = project_settings.read(setting.client(), setting.kind, setting.value)
        return ReadResult(id_, {**props, "value": live})


class ProjectSetting(Resource, module="database", name="ProjectSetting"):
    """One setting of a Supabase project."""

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            ProjectSettingProvider(),
            name,
            props,
            with_secret_outputs(opts, ProjectSettingProvider.props_type),
        )
