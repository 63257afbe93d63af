"""A function path's floor: the same answer from bench/floor.ts, a bare ``Deno.serve`` that
reads the caller from the token unverified and runs the function's statement through the
functions' own client (functions/_shared/db.ts), with no gateway, middleware or guard. Run under
the function path's load next to it and its SQL path, it says how much of the gap to the SQL
path is the runtime's own (HTTP and a round trip from JavaScript) and how much the function's
checks; no function can be cheaper than it. Used for the read paths of one-lookup size:
`subscription-status` (bench.billing) and `user-archetype` (bench.personalized)."""

from __future__ import annotations

import json
import subprocess
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from bench import deno_scripts
from supastack.local import system

SCRIPT = Path(__file__).with_suffix(".ts")
#: Seconds the server has to listen (its first start loads the npm client from the cache).
START_SECONDS = 60


def drained(stream: IO[str], keep: deque[str]) -> threading.Thread:
    """A thread reading ``stream`` to its end, keeping its last lines in ``keep`` (a server that
    writes errors under load never blocks on a full pipe)."""
    thread = threading.Thread(target=lambda: keep.extend(stream), daemon=True)
    thread.start()
    return thread


@contextmanager
def serving(dsn: str, statement: str) -> Iterator[str]:
    """floor.ts answering ``statement`` (``$1``: the bearer token's ``sub``) on a free port, on
    ``dsn``; its URL. Stopped (and waited for) on leaving, so its CPU is not counted later."""
    port = system.free_port()
    errors: deque[str] = deque(maxlen=20)
    with subprocess.Popen(
        deno_scripts.command(SCRIPT, str(port), statement),
        env=deno_scripts.environment(dsn),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as server:  # fmt: skip
        assert server.stdout is not None and server.stderr is not None
        reader = drained(server.stderr, errors)
        deadline = threading.Timer(START_SECONDS, server.kill)
        deadline.start()
        try:
            first = server.stdout.readline()
        finally:
            deadline.cancel()
        try:
            if not first.startswith('{"listening"') or json.loads(first)["listening"] != port:
                server.kill()
                server.wait()
                reader.join()
                raise SystemExit(
                    f"{SCRIPT.name} did not start listening (exit {server.returncode}; -9: "
                    f"killed after {START_SECONDS} s): " + deno_scripts.said("".join(errors), dsn)
                )
            yield f"http://127.0.0.1:{port}/"
        finally:
            server.terminate()
            server.wait()
