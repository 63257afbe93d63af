"""``supastack:project``: a Supabase project's pooler, SSL enforcement and network restrictions,
as the stack file declares them (applied and read back by
:mod:`supastack.database.project_settings`)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from supastack.config.models import ConfigModel


def _cidr(version: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        try:
            network = ipaddress.ip_network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a CIDR ({exc})") from None
        if network.version != version:
            raise ValueError(f"{value!r} is not an IPv{version} CIDR")
        return value

    return check


class PoolerSettings(ConfigModel):
    """Supavisor, the project's pooler (``config/database/pooler``)."""

    pool_mode: Literal["transaction", "session"] = "transaction"
    default_pool_size: int | None = Field(default=None, ge=0, le=3000)
    """Server connections per user and database (None: Supabase's default for the compute)."""


class NetworkRestrictions(ConfigModel):
    """Who may connect to the database directly (``network-restrictions``)."""

    allowed_cidrs: list[Annotated[str, AfterValidator(_cidr(4))]] = Field(default_factory=list)
    allowed_cidrs_v6: list[Annotated[str, AfterValidator(_cidr(6))]] = Field(default_factory=list)


class ProjectSettings(ConfigModel):
    """``supastack:project``: each key set is managed; a key left out is left alone."""

    pooler: PoolerSettings | None = None
    ssl_enforcement: bool | None = None
    """Refuse database connections without TLS."""
    network_restrictions: NetworkRestrictions | None = None

    def managed(self) -> dict[str, dict[str, Any]]:
        """The settings to manage, by kind, as the API spells them."""
        found: dict[str, dict[str, Any]] = {}
        if self.pooler is not None:
            found["pooler"] = {
                "pool_mode": self.pooler.pool_mode,
                "default_pool_size": self.pooler.default_pool_size,
            }
        if self.ssl_enforcement is not None:
            found["ssl_enforcement"] = {"database": self.ssl_enforcement}
        if self.network_restrictions is not None:
            found["network_restrictions"] = {
                "dbAllowedCidrs": sorted(self.network_restrictions.allowed_cidrs),
                "dbAllowedCidrsV6": sorted(self.network_restrictions.allowed_cidrs_v6),
            }
        return found
