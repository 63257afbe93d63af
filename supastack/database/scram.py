"""SCRAM-SHA-256 password verifiers, computed on the client.

Postgres stores a role password it receives already in SCRAM form as it is, so a verifier is
what supastack sends in ``CREATE/ALTER ROLE ... PASSWORD``: the plaintext then never reaches
the server, where it would be kept in ``pg_stat_statements``, ``pg_stat_activity`` and the
server log. Where a connection is at hand, libpq computes it (``PQencryptPasswordConn``, with a
fresh random salt); a Pulumi resource needs an input that stays the same on every run, so the
program computes it here from the generated password and a salt generated once
(``random.RandomId``), exactly as libpq does (RFC 5802 / RFC 7677).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

#: The iteration count libpq uses (``SCRAM_SHA_256_DEFAULT_ITERATIONS``).
ITERATIONS = 4096


def verifier(password: str, salt: bytes, iterations: int = ITERATIONS) -> str:
    """``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` for ``password``.

    Only ASCII passwords (what supastack generates): libpq would first normalise others with
    SASLprep, which this does not implement, and a wrong verifier is a role nobody can log in as.
    """
    if not password.isascii():
        raise ValueError("SCRAM verifiers are computed for ASCII passwords only")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
