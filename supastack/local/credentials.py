"""The local environment's generated credentials.

Like a Supabase project, the local target has a legacy JWT secret with the matching ``anon``
and ``service_role`` keys (HS256 JWTs whose ``role`` claim selects the Postgres role), an
asymmetric signing key for users' tokens (ES256, its public half served as a JWKS), the new API
keys (``sb_publishable_…``, ``sb_secret_…``), a Management API access token, the database
passwords and the Vault key. They are generated once, kept in the state directory (mode 0600,
git-ignored), and never printed: ``repr`` hides them.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from supastack.errors import SupastackError
from supastack.private_files import write_private

#: The project ref the local Management API answers to.
LOCAL_PROJECT_REF = "local"
TEN_YEARS = 10 * 365 * 24 * 3600


def sign_jwt(secret: str, claims: Mapping[str, object]) -> str:
    """An HS256 JWT signed with the legacy secret (the anon and service_role keys, and users'
    tokens on projects that have not moved to signing keys)."""
    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + TEN_YEARS, **claims}, secret, algorithm="HS256")


def new_signing_key() -> str:
    """A private ES256 JWK (P-256) with a key id, as JSON: Supabase's asymmetric signing key."""
    key = json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1())))
    return json.dumps({**key, "kid": secrets.token_hex(8), "alg": "ES256", "use": "sig"})


def sign_with_key(
    signing_key: str, claims: Mapping[str, object], lifetime_s: int = TEN_YEARS
) -> str:
    """A JWT signed with a private JWK (``kid`` in its header, as Supabase Auth issues them)."""
    jwk = json.loads(signing_key)
    private = ECAlgorithm.from_jwk(signing_key)
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        raise SupastackError("the signing key is a public key; signing needs the private JWK")
    now = int(time.time())
    return jwt.encode(
        {"iat": now, "exp": now + lifetime_s, **claims},
        private,
        algorithm=jwk["alg"],
        headers={"kid": jwk["kid"]},
    )


def public_jwks(signing_key: str) -> dict[str, object]:
    """The JWKS a project publishes at ``/auth/v1/.well-known/jwks.json``: public halves only."""
    jwk = json.loads(signing_key)
    public = {k: jwk[k] for k in ("kty", "crv", "x", "y", "kid", "alg", "use")}
    return {"keys": [public]}


def _api_key(kind: str) -> str:
    return f"sb_{kind}_{secrets.token_urlsafe(24)}"


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
    signing_key: str = field(default_factory=new_signing_key, repr=False)
    """The private ES256 JWK users' tokens are signed with (the JWKS serves its public half)."""
    publishable_key: str = field(default_factory=lambda: _api_key("publishable"), repr=False)
    secret_key: str = field(default_factory=lambda: _api_key("secret"), repr=False)

    def user_token(self, claims: Mapping[str, object], lifetime_s: int = TEN_YEARS) -> str:
        """A user's token as the project's Auth signs it now: ES256 with the signing key."""
        return sign_with_key(self.signing_key, claims, lifetime_s)

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
        if {"redis_password", "signing_key", "secret_key"} - set(data):
            loaded.save(path)  # keep what it was just given (state from before those existed)
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
