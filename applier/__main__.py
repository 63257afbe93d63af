"""``python -m applier --project DIR --stack local``: what ``supastack local deploy`` runs
(:mod:`applier.run`). The dynamic-provider host is started before anything heavy is imported,
so its start-up overlaps the applier's (:mod:`applier.host_process`). With ``--await`` (started
ahead by ``supastack local deploy``, :mod:`supastack.entry`) it imports what it needs, then
reads the rest of its command line from its standard input as a JSON list, and exits having
done nothing when that input closes empty."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from applier import host_process


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m applier", description=__doc__)
    parser.add_argument("--project", type=Path, default=Path.cwd())
    parser.add_argument("--stack", default="local")
    parser.add_argument("--message", default="", help="why (kept in the stack's history)")
    parser.add_argument("--refresh", action="store_true", help="read live state first")
    parser.add_argument("--preview", action="store_true", help="show the plan, apply nothing")
    parser.add_argument(
        "--expect-no-changes", action="store_true", help="with --preview: exit 1 on any change"
    )
    parser.add_argument("--await", dest="wait", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    project = args.project.resolve()
    host_process.prestart(project)
    from applier.run import run, run_preview  # noqa: PLC0415 (after the host has started)
    from supastack.errors import SupastackError  # noqa: PLC0415
    from supastack.quick_exit import exit_now  # noqa: PLC0415

    if args.wait:
        given = sys.stdin.readline()
        if not given:
            sys.exit(0)  # no deploy took it
        args = parser.parse_args([*sys.argv[1:], *json.loads(given)])

    try:
        if args.preview:
            code = run_preview(project, args.stack, expect_no_changes=args.expect_no_changes)
        else:
            code = run(project, args.stack, message=args.message, refresh=args.refresh)
    except SupastackError as error:
        print(f"error: {error}", file=sys.stderr)
        code = 1
    exit_now(code)  # without tearing the program's objects down one by one (0.2 s)


if __name__ == "__main__":
    main()
