"""Adopting a live project's functions and secrets (read through the Management API; nothing
is changed): which declared functions the deploy takes over as they are, which it deploys
again, which deployed functions and secrets no app declares."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from supastack.functions.packaging import FunctionPackage
from supastack.functions.specs import SecretSpec
from supastack.platform.management_api import ManagementApi

#: Secrets every Supabase function is given (and the API refuses to set): not a project's own.
PLATFORM_PREFIX = "SUPABASE_"


@dataclass
class FunctionsSurvey:
    taken_over: list[str] = field(default_factory=list)
    """Deployed with the very code and ``verify_jwt`` the app packages: no new deploy."""
    redeployed: dict[str, str] = field(default_factory=dict)
    """Deployed otherwise: what differs (the deploy uploads a new version; no downtime)."""
    new: list[str] = field(default_factory=list)
    undeclared: list[str] = field(default_factory=list)
    secrets_present: list[str] = field(default_factory=list)
    """Declared secrets that exist and the deploy sets: to the stack's value."""
    secrets_kept: list[str] = field(default_factory=list)
    """Declared optional secrets that exist and the stack gives no value: left as they are."""
    secrets_missing: list[str] = field(default_factory=list)
    """Secrets the deploy sets that do not exist yet."""
    secrets_undeclared: list[str] = field(default_factory=list)


def _difference(package: FunctionPackage, deployed: Mapping[str, object]) -> str:
    if deployed.get("verify_jwt") != package.verify_jwt:
        return f"verify_jwt {deployed.get('verify_jwt')} (declared {package.verify_jwt})"
    return "other code (its content hash differs)"


def survey(
    api: ManagementApi,
    packages: Sequence[FunctionPackage],
    secrets: Sequence[SecretSpec],
    provided: Collection[str],
) -> FunctionsSurvey:
    """Compare the project's functions by slug (then by content hash and ``verify_jwt``) and
    its function secrets by name with what the stack declares (``provided``: the names the
    stack's ``secretValues`` set; an optional secret it does not set is not deployed). A
    secret's value is not compared: the API shows a digest, and the stack's values are Pulumi
    secrets the CLI cannot read."""
    found = FunctionsSurvey()
    deployed = {str(f["slug"]): f for f in api.list_functions()}
    for package in sorted(packages, key=lambda p: p.slug):
        live = deployed.get(package.slug)
        if live is None:
            found.new.append(package.slug)
        elif package.deployed_as(live):
            found.taken_over.append(package.slug)
        else:
            found.redeployed[package.slug] = _difference(package, live)
    declared = {p.slug for p in packages}
    found.undeclared = sorted(set(deployed) - declared)
    live_secrets = {n for n in api.secret_digests() if not n.startswith(PLATFORM_PREFIX)}
    declared_secrets = {s.name for s in secrets if s.function}
    setting = {s.name for s in secrets if s.function and s.deployed(provided)}
    found.secrets_present = sorted(live_secrets & setting)
    found.secrets_kept = sorted(live_secrets & declared_secrets - setting)
    found.secrets_missing = sorted(setting - live_secrets)
    found.secrets_undeclared = sorted(live_secrets - declared_secrets)
    return found


def report(found: FunctionsSurvey, project_ref: str) -> list[str]:
    """The lines ``supastack adopt`` prints (never a secret's value or digest)."""
    lines = [f"function {slug}: deployed with this code, taken over without a new deploy"
             for slug in found.taken_over]  # fmt: skip
    lines += [f"function {slug}: deployed with {why}; the deploy uploads the declared code as "
              "a new version (the old one serves until then)"
              for slug, why in found.redeployed.items()]  # fmt: skip
    lines += [f"function {slug}: not deployed yet; the deploy deploys it" for slug in found.new]
    ref = f"--project-ref {project_ref}"
    lines += [f"function {slug}: declared by no app, kept; to remove it: supabase functions "
              f"delete {slug} {ref}" for slug in found.undeclared]  # fmt: skip
    if found.secrets_present:
        lines.append(f"secrets taken over by name (the deploy sets the stack's values): "
                     f"{', '.join(found.secrets_present)}")  # fmt: skip
    if found.secrets_kept:
        lines.append(f"optional secrets kept as they are (the stack gives them no value): "
                     f"{', '.join(found.secrets_kept)}")  # fmt: skip
    if found.secrets_missing:
        lines.append(f"secrets the deploy creates: {', '.join(found.secrets_missing)}")
    lines += [f"secret {name}: declared by no app, kept; to remove it: supabase secrets unset "
              f"{name} {ref}" for name in found.secrets_undeclared]  # fmt: skip
    return lines
