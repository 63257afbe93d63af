"""The core's imports point down its layers only (docs/layout-and-dependencies.md has the map):

0. models: errors, settings and config, private files and sealed secrets, the quick exit, every
   concern's ``specs``, the stack outputs' contract, SQL text splitting;
1. concerns: database, migrations, functions, operations, flags (store, records), local, and
   the Supabase platform's APIs (the Management API client);
2. targets: what differs per target, and which engine deploys a stack;
3. plan: the app graph and one stack's plan (and the providers' props built from it);
4. delivery: smoke, verify, rollback, rollout and the stack file it edits;
5. the CLI, and the command's entry point.

An import of a module in a higher layer fails this test, naming both modules."""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

import pytest

from supastack.local.paths import PROJECT_DIR

#: (module pattern, layer), the first match wins.
LAYERS = [
    ("supastack.errors", 0), ("supastack.private_files", 0), ("supastack.sealed", 0),
    ("supastack.quick_exit", 0), ("supastack.config*", 0),
    ("supastack.*.specs", 0), ("supastack.delivery.outputs", 0), ("supastack.database.sqltext", 0),
    ("supastack.flags.rollout", 4), ("supastack.flags.stack_file", 4),
    ("supastack.database*", 1), ("supastack.migrations*", 1), ("supastack.functions*", 1),
    ("supastack.operations*", 1), ("supastack.flags*", 1), ("supastack.local*", 1),
    ("supastack.platform*", 1), ("supastack.adopt*", 1),
    ("supastack.targets*", 2), ("supastack.plan*", 3), ("supastack.resource_props", 3),
    ("supastack.delivery*", 4), ("supastack.cli*", 5), ("supastack.entry", 5), ("supastack", 0),
]  # fmt: skip
CORE = PROJECT_DIR / "supastack"


def layer(module: str) -> int:
    return next(level for pattern, level in LAYERS if fnmatch.fnmatch(module, pattern))


def _is_module(name: str) -> bool:
    path = PROJECT_DIR.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _imports(path: Path) -> set[str]:
    """The core's modules ``path`` imports (``from a import b``: ``a.b`` where that is one)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("supastack"):
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            modules = [name for name in names if _is_module(name)]
            found |= set(modules) if modules else {node.module}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("supastack")}
    return found


def _module(path: Path) -> str:
    parts = path.relative_to(PROJECT_DIR).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(CORE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=_module)
def test_imports_point_down_the_layers(path: Path) -> None:
    module = _module(path)
    upward = sorted(f"{name} (layer {layer(name)})" for name in _imports(path)
                    if layer(name) > layer(module))  # fmt: skip
    assert not upward, f"{module} (layer {layer(module)}) imports {', '.join(upward)}"


def test_every_core_module_has_a_layer_and_the_table_is_not_empty() -> None:
    assert len(MODULES) > 50
    assert {layer(_module(p)) for p in MODULES} == {0, 1, 2, 3, 4, 5}
