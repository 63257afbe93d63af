"""Package a function for deploy: its files, its content hash, and a type check.

A function is ``functions/<app>/<slug>/index.ts`` plus every local file it imports (transitively,
``functions/_shared/`` included), its npm pins (``functions/<app>/deno.json`` / ``deno.lock``
when the app has its own, so a pin bump redeploys only that app's functions, else
``functions/deno.json`` / ``deno.lock``), and a
generated ``function.config.json`` holding what the app manifest says about it (rate limit,
env, verify_jwt), read by the shared middleware. The content hash covers all of them, so an
unchanged hash means nothing to deploy, and any change to code, pins or config redeploys.

Imports are found by scanning the source (static, re-export and dynamic ``import("...")`` with a
literal); only relative paths, ``npm:`` and ``node:`` are allowed: JSR and URLs are not
reachable from everywhere supastack deploys. ``deno check`` then verifies the package as
uploaded, in a directory of its own, once per package content and Deno binary.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supastack.errors import SupastackError
from supastack.functions.specs import FUNCTION_SLUG
from supastack.local.system import network_env
from supastack.platform.management_api import Upload

#: Supabase refuses bundles over 20 MB; the local runtime does too.
MAX_BYTES = 20 * 1024 * 1024
ENTRYPOINT = "index.ts"
CONFIG_FILE = "function.config.json"
TOOLING = ("deno.json", "deno.lock")
_SPECIFIER = re.compile(
    r"""(?:(?<![\w$'"])from\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(?P<spec>[^'"]+)\1""",
    re.MULTILINE,
)
_ALLOWED_SCHEMES = ("npm:", "node:")


@dataclass(frozen=True)
class FunctionPackage:
    """Everything a deploy uploads for one function."""

    app: str
    slug: str
    verify_jwt: bool
    files: Mapping[str, bytes] = field(repr=False)
    """File contents by path relative to ``functions/``."""

    @property
    def entrypoint_path(self) -> str:
        return f"{self.app}/{self.slug}/{ENTRYPOINT}"

    @property
    def config_path(self) -> str:
        return f"{self.app}/{self.slug}/{CONFIG_FILE}"

    @property
    def hash(self) -> str:
        """sha256 over the sorted (path, size, content) triples; the local runtime's
        ``ezbr_sha256`` is computed the same way."""
        digest = hashlib.sha256()
        for path in sorted(self.files):
            data = self.files[path]
            digest.update(f"{path}\0{len(data)}\0".encode())
            digest.update(data)
        return digest.hexdigest()

    def deployed_as(self, deployed: Mapping[str, Any]) -> bool:
        """Whether a deployed function (the Management API's answer) is this package: the same
        content hash (the local runtime hashes the files as the package does; Supabase's
        ``ezbr_sha256`` is its bundle's, which never matches, so there adoption deploys a new
        version: no downtime either) and the same ``verify_jwt``."""
        return (deployed.get("ezbr_sha256"), deployed.get("verify_jwt")) == (
            self.hash, self.verify_jwt,
        )  # fmt: skip

    def text_files(self) -> dict[str, str]:
        """The files as text (how they travel in resource properties)."""
        texts = {}
        for path, data in self.files.items():
            try:
                texts[path] = data.decode()
            except UnicodeDecodeError:
                raise SupastackError(f"functions/{path}: not UTF-8 text") from None
        return texts

    @property
    def locked(self) -> bool:
        """Whether the package carries its npm pins' lock file (checked ``--frozen``)."""
        return any(Path(path).name == "deno.lock" for path in self.files)

    @property
    def import_map_path(self) -> str | None:
        """The deno.json the package carries (the app's own, or the project's)."""
        return next((p for p in (f"{self.app}/deno.json", "deno.json") if p in self.files), None)

    def upload(self) -> Upload:
        return Upload(
            slug=self.slug,
            entrypoint_path=self.entrypoint_path,
            files=self.files,
            verify_jwt=self.verify_jwt,
            # deno.json is the import map and config, as the Supabase CLI sends it
            import_map_path=self.import_map_path,
            static_patterns=(self.config_path,),
        )


@functools.lru_cache(maxsize=4096)
def _local_imports(source: str, path: str, root: Path) -> tuple[tuple[str, Path], ...]:
    """The local specifiers of ``path``'s source and the files they name, parsed once per
    process for each content (every function packages functions/_shared again); refuses
    specifiers that are neither local, npm: nor node:, or that leave ``root``."""
    found = []
    for match in _SPECIFIER.finditer(source):
        spec = match["spec"]
        if spec.startswith(_ALLOWED_SCHEMES):
            continue
        if not spec.startswith(("./", "../")):
            line = source.count("\n", 0, match.start()) + 1
            raise SupastackError(
                f"functions/{path}:{line}: import {spec!r} is not allowed; use npm:, node: or "
                "a relative path (JSR and URLs are not reachable from every deploy)"
            )
        target = ((root / path).parent / spec).resolve()
        if not target.is_relative_to(root):
            raise SupastackError(f"functions/{path}: import {spec!r} leaves functions/")
        found.append((spec, target))
    return tuple(found)


def _imports(source: str, path: str, root: Path) -> list[Path]:
    """Local files ``path`` imports (``root`` resolved), each of which must exist now."""
    found = []
    for spec, target in _local_imports(source, path, root):
        if not target.is_file():
            raise SupastackError(f"functions/{path}: imports {spec!r}, which does not exist")
        found.append(target)
    return found


def package(
    root: Path, app: str, slug: str, config: Mapping[str, Any], verify_jwt: bool = True
) -> FunctionPackage:
    """Collect ``functions/<app>/<slug>/`` and what it imports; ``config`` is written as the
    function's ``function.config.json``."""
    if not FUNCTION_SLUG.match(slug):
        raise SupastackError(
            f"function {slug!r}: not a function slug (letters, digits, _ and -, starting with a "
            "letter)"
        )
    entry = root / app / slug / ENTRYPOINT
    if not entry.is_file():
        raise SupastackError(f"function {slug!r}: functions/{app}/{slug}/{ENTRYPOINT} is missing")
    files: dict[str, bytes] = {}
    pending = [entry.resolve()]
    resolved_root = root.resolve()
    while pending:
        current = pending.pop()
        relative = current.relative_to(resolved_root).as_posix()
        if relative in files:
            continue
        data = current.read_bytes()
        files[relative] = data
        if current.suffix in (".ts", ".tsx", ".js", ".mjs", ".jsx"):
            pending += _imports(data.decode(), relative, resolved_root)
    pins = root / app if (root / app / "deno.json").is_file() else root
    for name in TOOLING:
        if (pins / name).is_file():
            files[(pins / name).relative_to(root).as_posix()] = (pins / name).read_bytes()
    body = {"name": slug, "verifyJwt": verify_jwt, **config}
    files[f"{app}/{slug}/{CONFIG_FILE}"] = (
        json.dumps(body, sort_keys=True, indent=2) + "\n"
    ).encode()
    size = sum(len(d) for d in files.values())
    if size > MAX_BYTES:
        raise SupastackError(f"function {slug!r}: {size} bytes exceeds the {MAX_BYTES}-byte limit")
    return FunctionPackage(app, slug, verify_jwt, files)


#: Under the Deno cache: one empty file per package that passed ``deno check``, named by
#: :func:`_checked_key`.
CHECKED_DIR = "supastack-checked"


def _checked_key(package: FunctionPackage, deno: Path) -> str | None:
    """What a passed check holds for: the package's content (code, config, pins) and the Deno
    binary; none for a package without a lock file (its npm versions may float)."""
    if not package.locked:
        return None
    binary = deno.stat()
    return hashlib.sha256(
        f"{package.hash}\0{deno.resolve()}\0{binary.st_size}\0{binary.st_mtime_ns}".encode()
    ).hexdigest()


def deno_check(package: FunctionPackage, deno: Path, deno_dir: Path) -> None:
    """Type-check the package as it will be uploaded; errors name the function and file. A
    package that passed with this Deno (its files, config and lock byte for byte) is not
    checked again: a deploy to a fresh target, a rollback, a second stack."""
    key = _checked_key(package, deno)
    passed = deno_dir / CHECKED_DIR / key if key else None
    if passed is not None and passed.exists():
        return
    _run_check(package, deno, deno_dir)
    if passed is not None:  # only now: a failed or killed check leaves nothing behind
        passed.parent.mkdir(parents=True, exist_ok=True)
        passed.touch()


def _run_check(package: FunctionPackage, deno: Path, deno_dir: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="supastack-check-") as tmp:
        for path, data in package.files.items():
            target = Path(tmp) / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        command = [str(deno), "check", "--quiet"]
        if package.import_map_path:  # deno finds its config from the cwd, not from the file
            command += ["--config", str(Path(tmp) / package.import_map_path)]
        if package.locked:
            command.append("--frozen")
        command.append(str(Path(tmp) / package.entrypoint_path))
        result = subprocess.run(
            command,
            cwd=tmp,
            env={
                "DENO_DIR": str(deno_dir),
                "NO_COLOR": "1",
                "PATH": "/usr/bin:/bin",
                **network_env(),
            },
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            output = (result.stderr + result.stdout).replace(f"file://{tmp}/", "functions/")
            output = output.replace(f"{tmp}/", "functions/")
            raise SupastackError(f"function {package.slug!r}: deno check failed:\n{output.strip()}")
