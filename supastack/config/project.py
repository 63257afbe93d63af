"""Which Pulumi project a command works on: found as the Pulumi CLI finds it, from the
``Pulumi.yaml`` in the working directory or the nearest of its parents (never from where
supastack is installed, so a copy of a checkout that shares the original's ``.venv`` deploys
the copy)."""

from __future__ import annotations

from pathlib import Path

import yaml

from supastack.config import yamlfile
from supastack.errors import SupastackError

PROJECT_FILE = "Pulumi.yaml"


def find_project(start: Path) -> Path:
    """The directory of the nearest ``Pulumi.yaml`` at or above ``start``."""
    start = start.resolve()
    for directory in (start, *start.parents):
        if (directory / PROJECT_FILE).is_file():
            return directory
    raise SupastackError(
        f"no {PROJECT_FILE} in {start} or any of its parents: run supastack inside a "
        "project (or name one with --cwd)"
    )


def project_name(project_dir: Path) -> str:
    """The project's ``name`` in its ``Pulumi.yaml``."""
    path = project_dir / PROJECT_FILE
    try:
        loaded = yamlfile.load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SupastackError(f"{path}: cannot be read as YAML ({exc})") from None
    name = loaded.get("name") if isinstance(loaded, dict) else None
    if not isinstance(name, str) or not name:
        raise SupastackError(f"{path}: name: a project name is required")
    return name


def banner(project_dir: Path, stack: str) -> str:
    """The first line of a command that deploys: which project and stack, and where."""
    return f"project {project_name(project_dir)} ({project_dir}), stack {stack}"
