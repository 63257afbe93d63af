"""How the applier fails, and the plain values it hands providers."""

from __future__ import annotations

from typing import Any

from pulumi.runtime import rpc


class ResourceFailedError(RuntimeError):
    """Applying (or previewing) one resource failed; the message names it (type and name) and
    says why."""


class DeployError(RuntimeError):
    """A harness run failed; the message names the seed that replays its apply order."""


def plain(value: Any) -> Any:
    """Unwrap Pulumi's secret envelopes (the engine hands providers plain values)."""
    if isinstance(value, dict):
        if rpc._special_sig_key in value:
            return plain(value.get("value"))
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def is_secret(value: Any) -> bool:
    """Whether the program passed ``value`` as a secret (Pulumi's secret envelope)."""
    return (
        isinstance(value, dict)
        and rpc._special_sig_key in value
        and (value[rpc._special_sig_key] == rpc._special_secret_sig)
    )
