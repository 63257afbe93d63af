"""The local environment's generated credentials.

Like ``supabase start``, the local target has its own JWT secret and the matching ``anon`` and
``service_role`` keys (HS256 JWTs whose ``role`` claim selects the Postgres role), plus a
Management API access token, the database passwords and the Vault key. They are generated once,
kept in the state directory (mode 0600, git-ignored), and never printed: ``repr`` hides them.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import jwt

from supastack.errors import SupastackError
from supastack.private_files import write_private

#: The project ref the local Management API answers to.
LOCAL_PROJECT_REF = "local"
TEN_YEARS = 10 * 365 * 24 * 3600


def sign_jwt(secret: str, claims: dict[str, object]) -> str:
    """An HS256 JWT as Supabase issues them (used for API keys and test users)."""
    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + TEN_YEARS, **claims}, secret, algorithm="HS256")


@dataclass(frozen=True)
class LocalCredentials:
    """Secrets of one local environment; ``repr`` never shows a value."""

    project_ref: str
    db_password: str = field(repr=False)
    authenticator_password: str = field(repr=False)
    jwt_secret: str = field(repr=False)
    anon_key: str = field(repr=False)
    service_role_key: str = field(repr=False)
    access_token: str = field(repr=False)
    redis_password: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    """The local Redis's (state from before it existed gets one on its next load)."""

    @classmethod
    def generate(cls) -> LocalCredentials:
        jwt_secret = secrets.token_urlsafe(48)
        key_claims = {"iss": "supabase", "ref": LOCAL_PROJECT_REF}
        return cls(
            project_ref=LOCAL_PROJECT_REF,
            db_password=secrets.token_urlsafe(24),
            authenticator_password=secrets.token_urlsafe(24),
            jwt_secret=jwt_secret,
            anon_key=sign_jwt(jwt_secret, {**key_claims, "role": "anon"}),
            service_role_key=sign_jwt(jwt_secret, {**key_claims, "role": "service_role"}),
            access_token="sbp_" + secrets.token_hex(20),
        )

    @classmethod
    def load(cls, path: Path) -> LocalCredentials:
        try:
            data = json.loads(path.read_text())
            loaded = cls(**data)
        except FileNotFoundError:
            raise SupastackError(
                f"{path}: no local credentials; run `supastack local up` first"
            ) from None
        except (ValueError, TypeError):
            raise SupastackError(
                f"{path}: unreadable local credentials (stale state?); "
                "run `supastack local reset` and `supastack local up`"
            ) from None
        if "redis_password" not in data:
            loaded.save(path)  # keep the password it was just given
        return loaded

    def save(self, path: Path) -> None:
        write_private(path, json.dumps(asdict(self)))

    @classmethod
    def load_or_generate(cls, path: Path) -> LocalCredentials:
        if path.exists():
            return cls.load(path)
        creds = cls.generate()
        creds.save(path)
        return creds
