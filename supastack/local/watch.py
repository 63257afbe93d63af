"""Watch what the program is made of and say when it changed (``supastack local deploy --watch``).

The local stack is redeployed when a file under ``apps/``, ``migrations/``, ``functions/`` or
``seeds/`` changes, as ``supabase functions serve`` reloads a function. Changes are debounced
(an editor's save is several events; a ``git checkout`` many), and editors' scratch files are
ignored. watchfiles (PyPI) does the watching: inotify on Linux, with a debounce built in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from watchfiles import Change, watch

WATCHED = ("apps", "migrations", "functions", "seeds")
#: How long changes are gathered before a redeploy starts.
DEBOUNCE_MS = 400
#: How often the watcher wakes with nothing to report (its first wake says it is ready).
IDLE_MS = 300
_SCRATCH = (".swp", ".swx", "~", ".tmp")


def _relevant(change: Change, path: str) -> bool:
    name = Path(path).name
    return not (name.startswith((".#", ".")) or name.endswith(_SCRATCH))


def changes(project: Path, ready: Callable[[], None]) -> Iterator[list[str]]:
    """Each batch of changed files (paths relative to ``project``), as they come; ``ready`` is
    called once the watcher is in place (a change before that would be missed)."""
    roots = [project / tree for tree in WATCHED if (project / tree).is_dir()]
    batches = watch(
        *roots, watch_filter=_relevant, debounce=DEBOUNCE_MS, rust_timeout=IDLE_MS,
        yield_on_timeout=True, raise_interrupt=False,
    )  # fmt: skip
    announced = False
    for batch in batches:
        if not announced:
            ready()
            announced = True
        if batch:
            yield sorted({Path(path).relative_to(project).as_posix() for _, path in batch})
