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

from components.providers.database.vault import VaultSecret, VaultSecretProps
from components.providers.functions.function_secrets import FunctionSecrets, FunctionSecretsProps
from supastack.config.settings import LogDrainSettings
from supastack.functions.drains import DRAINS_SECRET, drains_json
from supastack.functions.specs import SecretSpec


class SecretsArgs(TypedDict):
    """Inputs of :class:`Secrets`."""

    specs: list[SecretSpec]
    """Every secret of the stack (``supastack.config.manifest.merged_secrets``)."""
    provided: pulumi.Output[dict[str, str]] | None
    """``supastack:secretValues`` (a secret object), or None when the stack sets none."""
    provided_names: frozenset[str]
    api: dict[str, Any]
    token: pulumi.Output[str]
    conninfo: pulumi.Output[str]
    vault_values: dict[str, str]
    """Non-secret values SQL reads from Vault too (the functions' base URL), by name."""
    target_values: dict[str, pulumi.Output[str]]
    """Values the target provides for secrets the apps declare (locally: ``REDIS_URL``)."""
    drains: Mapping[str, LogDrainSettings]
    """``supastack:logDrains``, delivered to functions as the SUPASTACK_LOG_DRAINS secret."""


def _pick(key: str) -> Callable[[dict[str, str]], str]:
    return lambda provided: provided[key]


class Secrets(pulumi.ComponentResource):
    """Function secrets and Vault secrets of one stack."""

    def __init__(
        self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("supastack:secrets:Secrets", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        for_functions: dict[str, pulumi.Output[str]] = {}
        for_vault: dict[str, pulumi.Input[str]] = dict(args["vault_values"])
        for spec in args["specs"]:
            from_target = args["target_values"].get(spec.name)
            if from_target is None and not spec.deployed(args["provided_names"]):
                continue
            if from_target is not None:
                value = from_target
            elif spec.generate:
                value = random.RandomPassword(
                    f"{name}-{spec.name}", length=spec.length, special=False, opts=child
                ).result
            else:
                assert args["provided"] is not None
                value = args["provided"].apply(_pick(spec.name))
            if spec.function:
                for_functions[spec.name] = value
            if spec.vault:
                for_vault[spec.name] = pulumi.Output.secret(value)
        for vault_name, vault_value in for_vault.items():
            VaultSecret(
                f"{name}-vault-{vault_name}",
                VaultSecretProps.for_secret(
                    args["conninfo"], vault_name, vault_value, "managed by supastack"
                ),
                child,
            )
        if args["drains"]:
            for_functions[DRAINS_SECRET] = self._drains(args)
        if for_functions:
            values: pulumi.Output[dict[str, str]] = pulumi.Output.all(**for_functions)
            FunctionSecrets(
                f"{name}-functions",
                FunctionSecretsProps.for_values(
                    args["api"],
                    args["token"],
                    pulumi.Output.secret(values),
                ),
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
