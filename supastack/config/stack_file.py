"""Edits of a stack file's ``config:`` (``Pulumi.<stack>.yaml``) as ``pulumi config set`` makes
them: comments and layout kept (ruamel.yaml round-trips the file; PyYAML would drop every
comment), the file replaced whole, so a killed command never leaves half a file."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from supastack.errors import SupastackError


def edit_config(path: Path, edit: Callable[[CommentedMap], None]) -> None:
    """Apply ``edit`` to the file's ``config:`` mapping and write the file back."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 100
    document = yaml.load(path.read_text())
    config = document.get("config") if isinstance(document, CommentedMap) else None
    if not isinstance(config, CommentedMap):
        raise SupastackError(f"{path.name}: expected a top-level 'config:' mapping")
    edit(config)
    text = io.StringIO()
    yaml.dump(document, text)
    scratch = path.with_name(f".{path.name}.tmp")
    scratch.write_text(text.getvalue())
    scratch.replace(path)
