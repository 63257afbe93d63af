"""The ProjectSetting dynamic resource: one setting of a Supabase project (the pooler, SSL
enforcement, network restrictions), through the Management API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Self

from components.providers.base import TypedProvider, TypedResource
from supastack.database import project_settings
from supastack.resource_props import Deferred, OnManagementApi, secret

Kind = Literal["pooler", "ssl_enforcement", "network_restrictions"]


class ProjectSettingProps(OnManagementApi):
    kind: Kind
    value: dict[str, Any] = secret()
    """Secret like every ``value`` (the policy pack checks properties by name)."""

    @classmethod
    def for_setting(
        cls, api: Mapping[str, Any], token: Deferred[str], kind: str, value: dict[str, Any]
    ) -> Self:
        return cls.declared(api=api, token=token, kind=kind, value=value)


class ProjectSettingProvider(TypedProvider[ProjectSettingProps]):
    """Apply the setting whole; ``read`` shows it changed in the dashboard. The API resets
    nothing to Supabase's default, so deleting the resource leaves the project as it is."""

    props_type = ProjectSettingProps
    replace_on = ("kind",)

    def identify(self, props: ProjectSettingProps) -> str:
        return f"project-{props.kind}"

    def put(self, props: ProjectSettingProps, before: Mapping[str, Any] | None) -> dict[str, Any]:
        project_settings.apply(props.client(), props.kind, props.value)
        return {}

    def remove(self, props: ProjectSettingProps) -> None:
        """Nothing to undo: the Management API cannot reset a project setting."""

    def observe(
        self, props: ProjectSettingProps, recorded: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        return {"value": project_settings.read(props.client(), props.kind, props.value)}


class ProjectSetting(TypedResource[ProjectSettingProps], module="database", name="ProjectSetting"):
    """One setting of a Supabase project."""

    provider_type = ProjectSettingProvider
