"""Every hot function path next to its baseline, measured in the same run, as one table.

Runs the apps' benches one after another, each on its own throwaway local target (so one app's
load never competes with another's): `transaction-recommendations` and `user-archetype`
(bench.personalized), `book` and `events-search` (bench.events), `webhook-handler` and
`subscription-status` (bench.billing), `submit-bid` (bench.bidding), `ingest` next to COPY and
`metrics` (bench.observai, with ``--points`` points behind the series). Each prints its own
figures (CPU per request included) as it goes; then the table: the function path, its
baseline (the SQL the function runs, or COPY), and the share; then where each share comes from
(bench.load.Comparison.cpu_row: the CPU a request on each side, and the most the function path
may take for half its baseline's rate), and for subscription-status its floor's share
(bench.floor: no function serving its query can be cheaper). Goal: every path >= 50 %. The
read paths (recommendations, user-archetype, events-search, subscription-status, metrics) run
their load for ``bench.load.WARM_UP_SECONDS`` first, unmeasured, on both sides: what is
measured is the path hot (bench.load.Run); the write paths, whose requests cannot be sent again
as the same work, are measured from their start.

    .venv/bin/python -m bench.functions_vs_sql [--seconds 10] [--repeat 3] [--only events ...]

A share moves by up to 10-15 points between runs on the 2-core development machine; with
``--repeat N`` every bench runs N times, one whole round after another, and each path's row is
its median run (an actual run, the lower middle one for an even N), with every run's share
beside it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bench import bidding, billing, events, observai, personalized
from bench.load import CPU_TABLE_HEAD, TABLE_HEAD, Comparison


def benches(seconds: int, points: int) -> dict[str, Callable[[], list[Comparison]]]:
    ingest = ["--seconds", str(seconds), "--points", str(points)]
    return {
        "personalized": lambda: personalized.compare(seconds),
        "events": lambda: events.compare(seconds),
        "billing": lambda: billing.compare(seconds),
        "bidding": lambda: bidding.compare(seconds),
        "observai": lambda: observai.compare(observai.arguments(ingest)),
    }


def medians(rounds: list[list[Comparison]]) -> list[tuple[Comparison, list[float]]]:
    """Each path's run with the median share over the rounds (the lower middle one for an even
    number), and every round's share of it in order."""
    chosen = []
    for runs in zip(*rounds, strict=True):
        paths = {run.path for run in runs}
        if len(paths) != 1:
            raise ValueError(f"the rounds measured different paths: {sorted(paths)}")
        ordered = sorted(runs, key=lambda run: run.share)
        chosen.append((ordered[(len(ordered) - 1) // 2], [run.share for run in runs]))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per path and side")
    parser.add_argument("--points", type=int, default=1_000_000, help="behind the series read")
    parser.add_argument("--repeat", type=int, default=1, help="whole rounds; medians printed")
    parser.add_argument("--only", nargs="+", choices=list(benches(0, 0)), default=None)
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat: at least 1")
    rounds: list[list[Comparison]] = []
    for round_ in range(1, args.repeat + 1):
        rows: list[Comparison] = []
        for name, compare in benches(args.seconds, args.points).items():
            if args.only is None or name in args.only:
                print(
                    f"\n== {name}"
                    + (f" (round {round_} of {args.repeat})" if args.repeat > 1 else "")
                )
                rows += compare()
        rounds.append(rows)
    chosen = medians(rounds)
    head, rule = TABLE_HEAD.splitlines()
    if args.repeat > 1:
        print(f"\nEach path's median run of {args.repeat}, and every run's share in order")
        head, rule = f"{head} every run |", f"{rule}---|"
    print(f"\n{head}\n{rule}")
    for row, shares in chosen:
        every = ", ".join(f"{100 * share:.0f}" for share in shares)
        print(row.row() + (f" {every} % |" if args.repeat > 1 else ""))
    print("\nWhere each share comes from: the CPU a request took in the processes measured, "
          "and the cores each run kept busy")  # fmt: skip
    print(CPU_TABLE_HEAD)
    for line in filter(None, (row.cpu_row() for row, _ in chosen)):
        print(line)
    below = [row.path for row, _ in chosen if row.share < 0.5]
    print(f"\n{len(chosen) - len(below)} of {len(chosen)} paths at >= 50 % of their baseline"
          + (f"; below: {', '.join(below)}" if below else ""))  # fmt: skip


if __name__ == "__main__":
    main()
