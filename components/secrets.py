"""The Secrets component: the stack's function secrets, and the ones SQL reads from Vault.

Values come from ``supastack:secretValues`` (set with ``pulumi config set --secret --path``)
or from ``random.RandomPassword`` for secrets a manifest asks to generate. They stay Pulumi
secrets end to end: in the resources' inputs, outputs and state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypedDict

import pulumi
import pulumi_random as random

from components.providers.function_secrets import FunctionSecrets
from components.providers.vault_secret import VaultSecret
from supastack.drains import DRAINS_SECRET, drains_json
from supastack.manifest import SecretSpec
from supastack.settings import LogDrainSettings


class SecretsArgs(TypedDict):
    """Inputs of :class:`Secrets`."""

    specs: list[SecretSpec]
    """Every secret of the stack (``supastack.manifest.merged_secrets``)."""
    provided: pulumi.Output[dict[str, str]] | None
    """``supastack:secretValues`` (a secret object), or None when the stack sets none."""
    provided_names: frozenset[str]
    api: dict[str, Any]
    token: pulumi.Output[str]
    conninfo: pulumi.Output[str]
    vault_values: dict[str, str]
    """Non-secret values SQL reads from Vault too (the functions' base URL), by name."""
    drains: Mapping[str, LogDrainSettings]
    """``supastack:logDrains``, delivered to functions as the SUPASTACK_LOG_DRAINS secret."""


def _pick(key: str) -> Callable[[dict[str, str]], str]:
    return lambda provided: provided[key]


class Secrets(pulumi.ComponentResource):
    """Function secrets and Vault secrets of one stack."""

    function_secrets: FunctionSecrets | None
    """The function secrets (None when the stack has none)."""

    def __init__(
        self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("supastack:secrets:Secrets", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        values: dict[str, pulumi.Output[str]] = {}
        for_functions: dict[str, pulumi.Output[str]] = {}
        for spec in args["specs"]:
            if spec.generate:
                generated = random.RandomPassword(
                    f"{name}-{spec.name}", length=spec.length, special=False, opts=child
                )
                values[spec.name] = generated.result
            elif spec.name in args["provided_names"] and args["provided"] is not None:
                values[spec.name] = args["provided"].apply(_pick(spec.name))
            else:
                continue  # an optional secret the stack does not set
            if spec.function:
                for_functions[spec.name] = values[spec.name]
            if spec.vault:
                VaultSecret(
                    f"{name}-vault-{spec.name}",
                    {
                        "conninfo": args["conninfo"],
                        "name": spec.name,
                        "value": pulumi.Output.secret(values[spec.name]),
                        "description": "managed by supastack",
                    },
                    child,
                )
        for vault_name, value in args["vault_values"].items():
            VaultSecret(
                f"{name}-vault-{vault_name}",
                {
                    "conninfo": args["conninfo"],
                    "name": vault_name,
                    "value": value,
                    "description": "managed by supastack",
                },
                child,
            )
        if args["drains"]:
            for_functions[DRAINS_SECRET] = self._drains(args)
        self.function_secrets = None
        if for_functions:
            self.function_secrets = FunctionSecrets(
                f"{name}-functions",
                {
                    "api": args["api"],
                    "token": args["token"],
                    "values": pulumi.Output.secret(pulumi.Output.all(**for_functions)),
                },
                child,
            )
        self.register_outputs({})

    @staticmethod
    def _drains(args: SecretsArgs) -> pulumi.Output[str]:
        """The drain list with its auth header values (from ``secretValues``), as a secret."""
        drains = args["drains"]
        names = sorted({d.auth_secret for d in drains.values() if d.auth_secret})
        if not names or args["provided"] is None:
            return pulumi.Output.secret(drains_json(drains, {}))
        provided = args["provided"]
        auth = pulumi.Output.all(*(provided.apply(_pick(n)) for n in names))
        return pulumi.Output.secret(
            auth.apply(lambda values: drains_json(drains, dict(zip(names, values, strict=True))))
        )
