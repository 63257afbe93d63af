"""The functions part of an app manifest: each function's settings and the app's secrets."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Literal

from pydantic import Field

from supastack.config.models import ConfigModel, SecretName

FUNCTION_SLUG = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


class RateLimitSpec(ConfigModel):
    """Requests per caller per window, enforced by functions/_shared through Postgres."""

    requests: int = Field(gt=0)
    per_seconds: int = Field(gt=0)
    by: Literal["user", "ip"] = "user"
    exact: bool = False
    """Take every request's token in Postgres before the request runs (a write per request), so
    no instance of the function admits past the limit even for an instant. Otherwise each
    instance admits against the bucket as it last read it and settles what it admitted in
    batches a few times a second (functions/_shared/ratelimit.ts): one instance is exact;
    several may admit, together, one settling interval's worth past the limit, which the
    caller's next requests pay back."""


#: A function's request body limit unless its manifest says otherwise (plenty for JSON APIs).
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
#: The largest limit a manifest may set (what one function instance should ever hold).
MAX_BODY_BYTES = 20 * 1024 * 1024


class FunctionSpec(ConfigModel):
    """A function of the app, ``functions/<app>/<slug>/index.ts``."""

    verify_jwt: bool = True
    verify_jwt_off_reason: str | None = None
    """Why the function runs without the gateway's JWT check (the policy pack requires one)."""
    rate_limit: RateLimitSpec | None = None
    env: dict[str, str] = Field(default_factory=dict)
    """Non-secret settings, deployed with the function (its ``function.config.json``)."""
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1, le=MAX_BODY_BYTES)
    """The largest request body the function reads; ``functions/_shared`` answers 413 past it
    before parsing anything."""

    def config(self) -> dict[str, object]:
        """What the function's deployed config file holds (besides its name and verify_jwt)."""
        body: dict[str, object] = {"env": dict(self.env), "maxBodyBytes": self.max_body_bytes}
        if self.rate_limit:
            body["rateLimit"] = self.rate_limit.model_dump(by_alias=True)
        return body


class SecretSpec(ConfigModel):
    """A function secret: set with ``pulumi config set --secret --path
    'supastack:secretValues.<name>'`` or generated (``generate``); ``vault`` also stores it
    in Vault for SQL (cron jobs) to read."""

    name: SecretName
    generate: bool = False
    length: int = Field(default=40, ge=16, le=256)
    optional: bool = False
    vault: bool = False
    function: bool = True
    """Whether functions get it (alert channel secrets are for SQL only)."""
    generate_locally: bool = False
    """Generated on the local target unless ``secretValues`` sets it there (the provider it is
    for cannot be reached locally; tests set it, for a local fake); required on Supabase."""

    def on_local_target(self, provided: Collection[str]) -> SecretSpec:
        """The spec as the local target deploys it, given the stack's ``secretValues``."""
        if self.generate_locally and self.name not in provided:
            return self.model_copy(update={"generate": True})
        return self

    def deployed(self, provided: Collection[str]) -> bool:
        """Whether the stack has a value for it: generated, or set in ``secretValues`` (an
        optional secret the stack does not set is left out, not an error)."""
        return self.generate or self.name in provided


#: The function secret that tells functions where their Redis is: the local target's own
#: (``supastack.local.redis``), or Upstash's Redis endpoint on Supabase (``secretValues``).
REDIS_URL = "REDIS_URL"
