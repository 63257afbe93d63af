"""Read the stack's Pulumi config into :class:`supastack.config.settings.StackSettings`.

Pulumi hands the program its config as strings (structured values as JSON). This module turns
that into the same mapping a stack file holds, with secret values replaced by an opaque
``secure`` marker before validation, so no secret value reaches the settings model or an error
message, and then validates it with :func:`supastack.config.settings.parse`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from supastack.config import settings
from supastack.errors import SupastackError
from supastack.functions.specs import REDIS_URL
from supastack.targets import LocalTarget, target_for

_REDACTED = {"secure": "[secret]"}


def _decode(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _redact(key: str, value: Any) -> Any:
    """Replace a secret value by the marker; a plaintext value of a secret key stays visible."""
    short = key.rpartition(":")[2]
    if not runtime_config.is_config_secret(key) or short not in settings.SECRET_KEYS:
        return _decode(value)
    if short == "secretValues":
        names = _decode(value)
        return {name: _REDACTED for name in names} if isinstance(names, dict) else _REDACTED
    return _REDACTED


def current_config() -> dict[str, Any]:
    """All ``supastack:*`` config of the running stack, secrets redacted."""
    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return {
        key: _redact(key, value)
        for key, value in raw.items()
        if key.startswith(f"{settings.NAMESPACE}:")
    }


def read_stack_settings() -> settings.StackSettings:
    """The validated settings of the stack being deployed; fails naming the key at fault."""
    stack = pulumi.get_stack()
    source = f"Pulumi.{stack}.yaml"
    loaded = settings.parse(stack, current_config(), source)
    missing = loaded.missing_secrets()
    if missing:
        raise SupastackError("\n".join(missing))
    return loaded


def secret(key: str) -> pulumi.Output[str]:
    """A secret stack config value (``supastack:<key>``), kept secret."""
    return pulumi.Config(settings.NAMESPACE).require_secret(key)


def secret_object(key: str) -> pulumi.Output[Any]:
    """A secret structured stack config value (``supastack:<key>``, e.g. secretValues)."""
    return pulumi.Config(settings.NAMESPACE).require_secret_object(key)


def optional_secret(key: str) -> pulumi.Output[str] | None:
    """A secret stack config value that may be unset (None then)."""
    return pulumi.Config(settings.NAMESPACE).get_secret(key)


@dataclass(frozen=True)
class StackCredentials:
    """The stack's credentials as Pulumi secrets, read before the Platform is built."""

    db_password: pulumi.Output[str]
    access_token: pulumi.Output[str]
    """The Management API token."""
    keys: dict[str, pulumi.Output[str] | None]
    """:data:`KEY_NAMES` (None where a stack does not set one)."""
    api: dict[str, Any]
    """The Management API's ``url`` and ``project_ref``."""
    target_secrets: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    """Function secrets the target itself provides: locally, ``REDIS_URL`` of the local Redis
    (``supastack.local.redis``)."""


#: The project's keys, for the smoke tests: the legacy JWT keys and secret, the new API keys,
#: and a private signing key (JWK) to sign a test user's token with.
KEY_NAMES = (
    "anonKey", "serviceRoleKey", "jwtSecret", "publishableKey", "secretKey", "jwtSigningKey",
)  # fmt: skip


def read_credentials(stack: settings.StackSettings, project_dir: Path) -> StackCredentials:
    """Locally, what ``supastack local up`` generated; on Supabase, the stack's secrets."""
    target = target_for(stack, project_dir)
    if not isinstance(target, LocalTarget):
        return StackCredentials(
            db_password=secret("dbPassword"),
            access_token=secret("accessToken"),
            keys={name: optional_secret(name) for name in KEY_NAMES},
            api=target.management_api(None),
        )
    local = target.local_credentials()
    values = (
        local.anon_key, local.service_role_key, local.jwt_secret, local.publishable_key,
        local.secret_key, local.signing_key,
    )  # fmt: skip
    return StackCredentials(
        db_password=pulumi.Output.secret(local.db_password),
        access_token=pulumi.Output.secret(local.access_token),
        keys={
            name: pulumi.Output.secret(value) for name, value in zip(KEY_NAMES, values, strict=True)
        },
        api=target.management_api(local),
        target_secrets={REDIS_URL: pulumi.Output.secret(target.local_redis_url(local))},
    )
