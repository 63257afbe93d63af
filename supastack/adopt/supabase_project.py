"""A Supabase CLI project turned into an app of the stack (``supastack adopt supabase-project``).

The Supabase CLI keeps a project as ``supabase/config.toml``, ``supabase/migrations/<version>_
<name>.sql``, ``supabase/functions/<slug>/index.ts`` (code they share in
``supabase/functions/_shared/``) and ``supabase/seed.sql``. Adopting it writes, for app ``NAME``:

- ``apps/NAME.yaml``: its functions with ``verify_jwt`` from ``[functions.<slug>]``, the schema
  its migrations create (or ``public``), the extensions they enable;
- ``migrations/NAME/``: the files as they are, versions kept (supastack's history table is the
  one the Supabase CLI writes, ``supabase_migrations.schema_migrations``, so the versions applied
  stay applied);
- ``functions/NAME/<slug>/``: the functions, with ``_shared/`` as the app's ``_lib/`` (their
  imports of ``../_shared/`` rewritten), each function's import map applied to its code (bare
  names become what they map to) and esm.sh or Supabase's JSR packages imported from npm;
- ``seeds/NAME/``: ``seed.sql`` (or ``[db.seed] sql_paths``).

What it cannot translate (Auth, Storage, the Data API's settings, ...) is listed, never dropped
silently. Nothing is written unless everything could be: the files are made in a scratch
directory first and moved into place at the end; nothing of the project is overwritten.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pglast import ast
from pydantic import ValidationError

from supastack.config.manifest import AppManifest
from supastack.config.models import describe_errors
from supastack.database import sqltext
from supastack.errors import SupastackError
from supastack.functions.packaging import package

#: The config.toml sections supastack does not manage, and what to do instead.
NOT_TRANSLATED = {
    "api": "the Data API's settings: the app's `api:` and the stack's exposed schemas",
    "auth": "Auth settings are not managed by supastack: keep them in the dashboard",
    "storage": "Storage buckets are not managed by supastack",
    "realtime": "Realtime's settings: an app's `realtimeConfig:` covers its limits",
    "studio": "the local Studio (supastack local has none)",
    "inbucket": "the local mail catcher (supastack local has none)",
    "analytics": "log analytics: the stack's `supastack:logDrains`",
    "edge_runtime": "the local edge runtime's settings (supastack local runs its own)",
    "experimental": "experimental settings",
    "remotes": "branch-specific settings: one stack file per stack instead",
}
_SHARED_IMPORT = re.compile(r"""(["'])\.\./_shared/""")
#: An import's specifier: ``from "x"``, ``import "x"``, ``import("x")``.
_IMPORT = re.compile(r"""(\bfrom\s+|\bimport\s*\(?\s*)(["'])([^"'\n]+)\2""")
#: Specifiers supastack does not deploy (JSR and URLs are not reachable from every deploy) that
#: name an npm package: ``https://esm.sh/<package>`` and Supabase's own packages on JSR.
_TO_NPM = re.compile(r"""(["'])(?:https://esm\.sh/|jsr:(?=@supabase/))([^"'?]+)(?:\?[^"']*)?\1""")


@dataclass
class Adopted:
    """What adopting wrote and what it could not translate."""

    app: str
    migrations: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    seeds: list[str] = field(default_factory=list)
    not_translated: list[str] = field(default_factory=list)
    """A line per setting or file left behind, with what to do about it."""
    review: list[str] = field(default_factory=list)
    """What was translated but wants a look (a reason to write, a statement to check)."""


def adopt(source: Path, project: Path, app: str) -> Adopted:
    """Adopt the Supabase CLI project in ``source`` into ``project`` as ``app``."""
    root = source / "supabase"
    config_path = root / "config.toml"
    if not config_path.is_file():
        raise SupastackError(f"{source}: not a Supabase CLI project (no supabase/config.toml)")
    targets = [project / "apps" / f"{app}.yaml", *(project / d / app for d in
               ("migrations", "functions", "seeds"))]  # fmt: skip
    taken = [str(t.relative_to(project)) for t in targets if t.exists()]
    if taken:
        raise SupastackError(f"app {app!r}: {', '.join(taken)} already exist(s); nothing written")
    try:
        config = tomllib.loads(config_path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise SupastackError(f"{config_path}: not valid TOML: {error}") from None
    adopted = Adopted(app)
    with tempfile.TemporaryDirectory(prefix="supastack-adopt-") as scratch:
        out = Path(scratch)
        manifest = _migrations(root, out / "migrations" / app, adopted)
        manifest["functions"] = _functions(root, config, out / "functions" / app, adopted)
        _seeds(root, config, out / "seeds" / app, adopted)
        _not_translated(config, adopted)
        try:
            AppManifest.model_validate({**manifest, "app": app, "source": f"apps/{app}.yaml"})
        except ValidationError as error:
            where = f"apps/{app}.yaml (made from {source})"
            raise SupastackError(describe_errors(error, where)) from None
        (out / "apps").mkdir()
        (out / "apps" / f"{app}.yaml").write_text(_manifest_text(source, manifest))
        for target in targets:
            made = out / target.relative_to(project)
            if made.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(made, target)
    return adopted


def _migrations(root: Path, out: Path, adopted: Adopted) -> dict[str, Any]:
    """Copy the migrations; the schema they create and the extensions they enable."""
    out.mkdir(parents=True)
    schemas: list[str] = []
    extensions: list[dict[str, str]] = []
    for path in sorted((root / "migrations").glob("*.sql")):
        if not re.fullmatch(r"\d+_[\w-]+\.sql", path.name):
            adopted.not_translated.append(
                f"supabase/migrations/{path.name}: not <version>_<name>.sql, so the Supabase "
                "CLI skips it too"
            )
            continue
        shutil.copyfile(path, out / path.name)
        adopted.migrations.append(path.name)
        for statement in sqltext.split(path.read_text(), f"supabase/migrations/{path.name}"):
            node = statement.node
            if isinstance(node, ast.CreateSchemaStmt) and node.schemaname:
                schemas.append(node.schemaname)
            elif isinstance(node, ast.CreateExtensionStmt):
                extensions.append(_extension(node))
                if not node.if_not_exists:
                    adopted.review.append(
                        f"migrations/{adopted.app}/{path.name}:{statement.line}: CREATE "
                        f"EXTENSION {node.extname} without IF NOT EXISTS: supastack creates "
                        "the app's extensions before its migrations, so on a new database this "
                        "file fails (where it is recorded as applied, it never runs again)"
                    )
    manifest: dict[str, Any] = {}
    found = list(dict.fromkeys(s for s in schemas if s != "public"))
    if found:
        manifest["schema"] = found[0]
        adopted.not_translated += [
            f"schema {other}: an app has one schema; another app (or `api:`) for it"
            for other in found[1:]
        ]
    else:
        manifest["schema"] = "public"
        manifest["publicSchemaReason"] = (
            "adopted from a Supabase CLI project whose tables are there"
        )
    if extensions:
        manifest["extensions"] = list({e["name"]: e for e in extensions}.values())
    return manifest


def _extension(node: ast.CreateExtensionStmt) -> dict[str, str]:
    found = {"name": str(node.extname)}
    for option in node.options or ():
        if isinstance(option, ast.DefElem) and option.defname == "schema" and option.arg:
            found["schema"] = str(getattr(option.arg, "sval", option.arg))
    return found


def _functions(
    root: Path, config: Mapping[str, Any], out: Path, adopted: Adopted
) -> dict[str, dict[str, Any]]:
    """Copy each function (``_shared`` as the app's ``_lib``), its import map applied to its
    code (supastack deploys relative, ``npm:`` and ``node:`` imports, no bare names); their
    manifest entries."""
    source = root / "functions"
    settings: Mapping[str, Any] = config.get("functions", {})
    specs: dict[str, dict[str, Any]] = {}
    shared: dict[str, str] = {}
    for directory in sorted(p for p in source.glob("*") if p.is_dir()):
        slug = directory.name
        if slug == "_shared" or slug.startswith("."):
            continue
        if not (directory / "index.ts").is_file():
            adopted.not_translated.append(f"supabase/functions/{slug}: no index.ts entrypoint")
            continue
        entry = settings.get(slug, {})
        imports = _import_map(root, source, slug, entry.get("import_map"), adopted)
        for name, target in imports.items():
            if shared.setdefault(name, target) != target:
                adopted.review.append(
                    f"functions/{adopted.app}/_lib: {name!r} maps to {shared[name]!r} and "
                    f"{target!r}; the first was used"
                )
        _copy_code(directory, out / slug, imports)
        adopted.functions.append(slug)
        spec: dict[str, Any] = {}
        if entry.get("verify_jwt") is False:
            spec["verifyJwt"] = False
            spec["verifyJwtOffReason"] = f"verify_jwt = false in [functions.{slug}] (adopted)"
            adopted.review.append(f"apps/{adopted.app}.yaml: functions.{slug}.verifyJwtOffReason:"
                                  " say why it runs without the gateway's JWT check")  # fmt: skip
        for key in sorted(set(entry) - {"verify_jwt", "import_map", "enabled"}):
            adopted.not_translated.append(f"[functions.{slug}] {key}")
        specs[slug] = spec
    if (source / "_shared").is_dir():
        _copy_code(source / "_shared", out / "_lib", shared)
    for slug, spec in specs.items():  # what a deploy would refuse, named now
        try:
            package(out.parent, adopted.app, slug, {}, spec.get("verifyJwt", True))
        except SupastackError as refused:
            adopted.review.append(f"function {slug}: {refused}")
    return specs


def _import_map(
    root: Path, source: Path, slug: str, configured: str | None, adopted: Adopted
) -> dict[str, str]:
    """The function's import map: ``import_map`` of its config.toml entry, else its own
    ``deno.json``, else the functions' shared ``import_map.json`` (the Supabase CLI's order)."""
    candidates = [root / configured] if configured else [
        source / slug / "deno.json", source / slug / "import_map.json",
        source / "import_map.json",
    ]  # fmt: skip
    for path in candidates:
        if path.is_file():
            try:
                imports = json.loads(path.read_text()).get("imports", {})
            except ValueError as error:
                raise SupastackError(f"{path}: not valid JSON: {error}") from None
            return {str(k): str(v) for k, v in imports.items()}
    if configured:
        adopted.not_translated.append(f"[functions.{slug}] import_map {configured}: no such file")
    return {}


def _resolved(specifier: str, imports: Mapping[str, str]) -> str:
    """A bare specifier through the import map (an exact key, or the longest ``prefix/``)."""
    if specifier in imports:
        return imports[specifier]
    prefixes = [k for k in imports if k.endswith("/") and specifier.startswith(k)]
    if not prefixes:
        return specifier
    longest = max(prefixes, key=len)
    return imports[longest] + specifier[len(longest) :]


def _copy_code(source: Path, target: Path, imports: Mapping[str, str]) -> None:
    """Copy a function's files: imports of ``../_shared/`` now ``../_lib/``, bare names through
    its import map, npm packages through esm.sh or Supabase's on JSR now ``npm:``."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("deno.json", "import_map.json"))
    for path in target.rglob("*"):
        if path.suffix in (".ts", ".js", ".tsx", ".mjs"):
            text = _SHARED_IMPORT.sub(r"\1../_lib/", path.read_text())
            text = _IMPORT.sub(lambda m: f"{m[1]}{m[2]}{_resolved(m[3], imports)}{m[2]}", text)
            path.write_text(_TO_NPM.sub(r"\1npm:\2\1", text))


def _seeds(root: Path, config: Mapping[str, Any], out: Path, adopted: Adopted) -> None:
    seed = config.get("db", {}).get("seed", {})
    if seed.get("enabled") is False:
        return
    patterns = seed.get("sql_paths", ["./seed.sql"])
    for pattern in patterns:
        for path in sorted(root.glob(str(pattern).removeprefix("./"))):
            out.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out / path.name)
            adopted.seeds.append(path.name)


def _not_translated(config: Mapping[str, Any], adopted: Adopted) -> None:
    for section, reason in NOT_TRANSLATED.items():
        if section in config:
            adopted.not_translated.append(f"[{section}]: {reason}")
    db = config.get("db", {})
    for key in sorted(set(db) - {"seed", "port", "shadow_port", "major_version"}):
        adopted.not_translated.append(
            f"[db] {key}: the stack file's supastack:postgresSettings and supastack:project "
            "cover the server's settings"
        )


def _manifest_text(source: Path, manifest: Mapping[str, Any]) -> str:
    head = (
        f"# Adopted from the Supabase CLI project in {source} (supastack adopt "
        "supabase-project).\n# Review it: what could not be translated was listed then.\n"
    )
    return head + yaml.safe_dump(dict(manifest), sort_keys=False)
