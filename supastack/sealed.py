"""Secret values at rest in the local stack's state, as Pulumi keeps them in its state: each one
replaced by ``{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
"ciphertext": ...}`` (Pulumi's secret signature), encrypted with AES-256-GCM (authenticated: a
changed ciphertext fails to open rather than yielding another value). The key is the stack's own
(``state.key`` beside the local credentials, 0600), as a passphrase secrets provider's key is the
stack's; so the records and the outputs file can be attached to a bug report."""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from supastack.errors import SupastackError

SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 (Pulumi's secret signature, public)
KEY_FILE = "state.key"
_NONCE = 12


class Sealer:
    """Seals and opens secret values with one stack's key."""

    def __init__(self, key: bytes, source: Path | None = None) -> None:
        self._aead = AESGCM(key)
        self._source = source

    @classmethod
    def of_state(cls, state_dir: Path) -> Sealer:
        """The stack's key in ``state_dir``, made on first use (0600). It is written whole under
        a temporary name and linked into place, so two deploys starting at once agree on one
        key and neither reads a half-written one."""
        path = state_dir / KEY_FILE
        if not path.exists():
            state_dir.mkdir(parents=True, exist_ok=True)
            fd, draft_name = tempfile.mkstemp(dir=state_dir, prefix=f".{KEY_FILE}.")  # 0600
            draft = Path(draft_name)
            with os.fdopen(fd, "wb") as out:
                out.write(base64.b64encode(AESGCM.generate_key(bit_length=256)))
            try:
                os.link(draft, path)
            except FileExistsError:
                pass  # another process made it first: theirs it is
            finally:
                draft.unlink()
        raw = base64.b64decode(path.read_bytes())
        if len(raw) != 32:
            raise SupastackError(f"{path}: not a 256-bit state key")
        return cls(raw, path)

    @classmethod
    def existing(cls, state_dir: Path, reading: Path) -> Sealer:
        """The key in ``state_dir`` for opening ``reading``; an error naming both if missing."""
        path = state_dir / KEY_FILE
        if not path.exists():
            raise SupastackError(
                f"{reading}: holds sealed secrets, but {path} (their key) is missing"
            )
        return cls.of_state(state_dir)

    def seal(self, value: Any) -> dict[str, str]:
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, json.dumps(value).encode(), None)
        return {SIG_KEY: SECRET_SIG, "ciphertext": base64.b64encode(nonce + sealed).decode()}

    def open(self, envelope: Mapping[str, Any]) -> Any:
        blob = base64.b64decode(envelope["ciphertext"])
        try:
            plain = self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], None)
        except InvalidTag:
            raise SupastackError(
                f"a secret in the local state does not open with {self._source or 'the key'}: "
                "the key or the ciphertext was changed"
            ) from None
        return json.loads(plain)

    def seal_keys(self, values: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
        """``values`` with those of ``keys`` sealed (already sealed ones kept as they are)."""
        chosen = set(keys)
        return {
            k: self.seal(v) if k in chosen and v is not None and not is_sealed(v) else v
            for k, v in values.items()
        }

    def open_all(self, value: Any) -> Any:
        """``value`` with every sealed secret in it opened."""
        return _map_sealed(value, self.open)


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG and "ciphertext" in value


def _map_sealed(value: Any, each: Callable[[Any], Any]) -> Any:
    """``value`` with ``each`` applied to every sealed secret in it."""
    if is_sealed(value):
        return each(value)
    if isinstance(value, dict):
        return {k: _map_sealed(v, each) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_sealed(v, each) for v in value]
    return value


def holds_sealed(value: Any) -> bool:
    found: list[Any] = []
    _map_sealed(value, found.append)
    return bool(found)


def masked(value: Any) -> Any:
    """``value`` with every sealed secret shown as ``[secret]`` (``pulumi stack output``)."""
    return _map_sealed(value, lambda _: "[secret]")


def opened(path: Path, data: Any) -> Any:
    """``data``, read from ``path``, with its sealed secrets opened by the stack key beside
    the file (an error naming both if the key is missing)."""
    return Sealer.existing(path.parent, path).open_all(data) if holds_sealed(data) else data
