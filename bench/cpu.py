"""Where the benches' CPU went: Postgres's, the edge runtime's (Deno's) and the load
generators', read from ``/proc`` and :func:`resource.getrusage`.

A process's CPU is in its own ``/proc/<pid>/stat`` while it runs, and in its parent's reaped
children's figure once the parent has waited for it (a backend's in the postmaster's). One pass
over ``/proc`` reads the parent, then the child: a backend reaped between the two is in
neither. Watched pass after pass through `python -m bench.postgres_client` (2026-12-07), the
Postgres total fell by up to 1 s of CPU from one pass to the next as backends ended (one pass:
two backends gone, one in the postmaster's figure, the other in no figure yet), and one 12 s
run's Postgres CPU read as negative. A run's figures are read as its load generator ends,
which is when its connections' backends end. So a reading is taken again until two passes in a
row find the same processes with the same reaped children's CPU: nothing ended in between, and
the second pass counts every process once.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable
from pathlib import Path

#: The processes counted, by the start of their name, and what they are called in the figures.
KINDS = ("postgres", "deno")
#: Passes before a reading is given up on (each a few ms; processes ending all the while).
MAX_PASSES = 200

#: pid -> (kind, its own CPU ticks, its reaped children's CPU ticks)
Pass = dict[int, tuple[str, int, int]]


def one_pass(proc: Path = Path("/proc")) -> Pass:
    """The counted processes as one pass over ``proc`` finds them (one that ends while it is
    read is left out)."""
    found: Pass = {}
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            stat = (proc / entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        kind = next((k for k in KINDS if name.startswith(k)), None)
        if kind is not None:
            fields = stat[stat.rindex(")") + 2 :].split()
            own = int(fields[11]) + int(fields[12])  # utime, stime
            reaped = int(fields[13]) + int(fields[14])  # cutime, cstime
            found[int(entry)] = (kind, own, reaped)
    return found


def settled(passes: Callable[[], Pass] = one_pass) -> Pass:
    """The second of the first two passes in a row that find the same processes with the same
    reaped children's CPU."""
    last = passes()
    for _ in range(MAX_PASSES):
        now = passes()
        if now.keys() == last.keys() and all(now[p][2] == last[p][2] for p in now):
            return now
        last = now
    raise RuntimeError(
        f"CPU accounting: processes kept starting or ending through {MAX_PASSES} passes over "
        "/proc; no consistent reading"
    )


def cpu_seconds(passes: Callable[[], Pass] = one_pass) -> dict[str, float]:
    """CPU seconds used so far by Postgres (backends, and those that ended: the postmaster's
    reaped children) and the edge runtime (Deno); the load generators are this process's
    children (:func:`resource.getrusage`)."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    for kind, own, reaped in settled(passes).values():
        used[kind] = used.get(kind, 0.0) + (own + reaped) / tick
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    used["load generator"] = children.ru_utime + children.ru_stime
    return used
