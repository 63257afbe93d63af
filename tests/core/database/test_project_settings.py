"""Project settings as code (the pooler, SSL enforcement, network restrictions, Realtime's
limits) against the local runtime's Management API, which answers at Supabase's paths with
Supabase's shapes: each setting applied, read back, drift (a change made in the dashboard) shown
and put back; what the API refuses named."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from components.providers.database.project_settings import ProjectSettingProvider
from components.providers.database.realtime import RealtimeConfigProps, RealtimeConfigProvider
from supastack.config import settings
from supastack.config.project_settings import ProjectSettings
from supastack.errors import SupastackError
from supastack.platform.management_api import ManagementApi
from tests.conftest import Services, outs

GUIDE = ProjectSettings.model_validate(
    {
        "pooler": {"poolMode": "transaction", "defaultPoolSize": 25},
        "sslEnforcement": True,
        "networkRestrictions": {"allowedCidrs": ["10.0.0.0/8", "203.0.113.0/24"],
                                "allowedCidrsV6": ["2001:db8::/32"]},
    }
)  # fmt: skip


@pytest.fixture
def api(services: Services) -> Iterator[ManagementApi]:
    client = ManagementApi(services.runtime_url, services.credentials.access_token, "local")
    yield client
    client.update_pooler_config({"pool_mode": "transaction", "default_pool_size": None})
    client.update_ssl_enforcement(False)
    client.apply_network_restrictions({"dbAllowedCidrs": ["0.0.0.0/0"],
                                       "dbAllowedCidrsV6": ["::/0"]})  # fmt: skip


def _props(services: Services, kind: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "api": {"url": services.runtime_url, "project_ref": "local"},
        "token": services.credentials.access_token,
        "kind": kind,
        "value": value,
    }


def test_the_guides_settings_apply_and_read_back(services: Services, api: ManagementApi) -> None:
    provider = ProjectSettingProvider()
    for kind, value in GUIDE.managed().items():
        created = provider.create(_props(services, kind, value))
        assert outs(provider.read(str(created.id), outs(created))) == outs(created), kind
    assert (api.pooler_config()["pool_mode"], api.pooler_config()["default_pool_size"]) == (
        "transaction", 25,
    )  # fmt: skip
    assert api.ssl_enforcement() is True
    restrictions = api.network_restrictions()
    assert restrictions["status"] == "applied"
    assert restrictions["config"] == {"dbAllowedCidrs": ["10.0.0.0/8", "203.0.113.0/24"],
                                      "dbAllowedCidrsV6": ["2001:db8::/32"]}  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "by_hand"),
    [
        ("pooler", lambda api: api.update_pooler_config({"default_pool_size": 60})),
        ("ssl_enforcement", lambda api: api.update_ssl_enforcement(False)),
        ("network_restrictions",
         lambda api: api.apply_network_restrictions({"dbAllowedCidrs": ["0.0.0.0/0"]})),
    ],
)  # fmt: skip
def test_a_change_in_the_dashboard_is_drift_that_the_update_puts_back(
    services: Services, api: ManagementApi, kind: str, by_hand: Any
) -> None:
    provider = ProjectSettingProvider()
    wanted = _props(services, kind, GUIDE.managed()[kind])
    created = outs(provider.create(wanted))
    by_hand(api)
    live = outs(provider.read(f"project-{kind}", created))
    assert live["value"] != wanted["value"]
    diff = provider.diff(f"project-{kind}", live, wanted)
    assert diff.changes and not diff.replaces
    provider.update(f"project-{kind}", live, wanted)
    assert outs(provider.read(f"project-{kind}", created))["value"] == wanted["value"]


def test_an_unmanaged_pool_size_is_not_drift(services: Services, api: ManagementApi) -> None:
    provider = ProjectSettingProvider()
    wanted = _props(services, "pooler", {"pool_mode": "session", "default_pool_size": None})
    created = outs(provider.create(wanted))
    api.update_pooler_config({"default_pool_size": 40})  # Supabase's to choose: not ours
    assert not provider.diff("project-pooler", outs(provider.read("x", created)), wanted).changes
    assert api.pooler_config()["pool_mode"] == "session"


def test_what_the_api_refuses_is_named(services: Services, api: ManagementApi) -> None:
    refused = r"network restrictions: Management API POST .* answered 400: .*'10.0.0.300/8'"
    with pytest.raises(SupastackError, match=refused):
        api.apply_network_restrictions({"dbAllowedCidrs": ["10.0.0.300/8"]})
    too_big = r"pooler \['default_pool_size'\]: .* 400: .*default_pool_size must be .* 0-3000"
    with pytest.raises(SupastackError, match=too_big):
        api.update_pooler_config({"default_pool_size": 5000})


@pytest.mark.parametrize(
    ("project", "message"),
    [
        ({"networkRestrictions": {"allowedCidrs": ["10.0.0.1/8"]}},
         r"project.networkRestrictions.allowedCidrs.0: .*'10.0.0.1/8' is not a CIDR"),
        ({"networkRestrictions": {"allowedCidrs": ["2001:db8::/32"]}},
         r"project.networkRestrictions.allowedCidrs.0: .*is not an IPv4 CIDR"),
        ({"pooler": {"defaultPoolSize": 4000}},
         r"project.pooler.defaultPoolSize: Input should be less than or equal to 3000"),
        ({"pooler": {"poolMode": "statement"}}, r"project.pooler.poolMode: Input should be"),
        ({"pooler": {"maxClientConn": 1000}}, r"project.pooler.maxClientConn: is not a known key"),
    ],
)  # fmt: skip
def test_bad_project_settings_name_the_stack_file_and_key(project: object, message: str) -> None:
    with pytest.raises(SupastackError, match=rf"Pulumi.prod.yaml: supastack:{message}"):
        settings.parse("prod", {"supastack:target": "local", "supastack:project": project},
                       "Pulumi.prod.yaml")  # fmt: skip


def test_realtime_limits_apply_read_back_and_show_a_dashboard_change(services: Services) -> None:
    """The runtime serves ``/config/realtime`` as Supabase documents it (PATCH answers 204;
    a value out of range is a 400 naming the field), so RealtimeConfig runs against it too."""
    provider = RealtimeConfigProvider()
    props = RealtimeConfigProps.for_limits(
        {"url": services.runtime_url, "project_ref": "local"},
        services.credentials.access_token,
        {"max_concurrent_users": 500, "max_events_per_second": 50},
    ).inputs()
    api = ManagementApi(services.runtime_url, services.credentials.access_token, "local")
    created = provider.create(props)
    assert {k: api.realtime_config()[k] for k in props["values"]} == props["values"]
    assert provider.read(created.id, outs(created)).outs == outs(created)  # no drift
    api.update_realtime_config({"max_events_per_second": 10})  # changed in the dashboard
    drift = provider.read(created.id, outs(created)).outs
    assert drift is not None and drift["values"]["max_events_per_second"] == 10
    provider.update(created.id, outs(created), props)  # the next deploy puts it back
    assert api.realtime_config()["max_events_per_second"] == 50
    refused = r"realtimeConfig \['max_concurrent_users'\]: .* 400: .*max_concurrent_users must be"
    with pytest.raises(SupastackError, match=refused):
        api.update_realtime_config({"max_concurrent_users": 0})
