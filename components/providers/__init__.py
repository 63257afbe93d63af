"""Dynamic providers: Pulumi's create/diff/update/delete/read for what no provider covers,
grouped by the same concerns as ``supastack/`` (database, migrations, functions, operations,
flags).

Each provider translates resource properties to calls into ``supastack/`` and back, nothing
more; they hold no state and are pickled into the stack state by Pulumi (by reference: module
and class name), so they live in importable modules (never ``__main__``). Connection strings and
tokens arrive as secret inputs and stay secret in the outputs (``additional_secret_outputs``).

A stack deployed before the regrouping holds providers pickled under their old module paths;
the engine unpickles the old state's provider to delete a resource, so each old path stays
importable as an alias of the module that replaced it (:data:`MOVED`).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

#: Old module (``components.providers.<old>``) -> the module that holds its classes now.
MOVED = {
    "alerts": "operations.alerts",
    "cron_job": "operations.cron",
    "edge_function": "functions.edge_function",
    "exposed_schemas": "database.exposed_schemas",
    "feature_flag": "flags.feature_flags",
    "function_secrets": "functions.function_secrets",
    "matview_refresh": "database.matviews",
    "migration": "migrations.migration",
    "partition_set": "database.partitions",
    "postgres_settings": "database.settings",
    "project_setting": "database.project_settings",
    "publication": "database.publication",
    "realtime_config": "database.realtime",
    "rls": "database.rls",
    "seed_data": "migrations.seeds",
    "vault_secret": "database.vault",
}


class _Moved(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports an old path as the module that replaced it (the same module object)."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, old = fullname.rpartition(".")
        if package != __name__ or old not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        old = spec.name.rpartition(".")[2]
        return importlib.import_module(f"{__name__}.{MOVED[old]}")

    def exec_module(self, module: ModuleType) -> None:
        """Already executed under its new name."""


if not any(isinstance(finder, _Moved) for finder in sys.meta_path):
    sys.meta_path.append(_Moved())
