"""The benches' callers: sized from the function's rate limit in its manifest, so that a
capacity bench never measures a caller's limit, and a run that outran them says so."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench import deno_scripts
from bench.functions_vs_sql import medians
from bench.load import (
    PROJECT,
    WARM_UP_SECONDS,
    Callers,
    Comparison,
    Figures,
    PathResult,
    Run,
    measured,
)
from supastack.config.manifest import load_app
from supastack.functions.specs import RateLimitSpec


def result(done: int, failed: int = 0) -> PathResult:
    return PathResult("function", done, 10.0, 1.0, 2.0, failed, {})


def test_callers_stay_within_half_of_what_the_manifest_limit_allows_in_the_run() -> None:
    spec = load_app(PROJECT, "personalized").functions["user-archetype"].rate_limit
    assert isinstance(spec, RateLimitSpec)
    for seconds in (10, 60):
        callers = Callers.within_limit("personalized", "user-archetype", seconds, 40_000)
        allowed = spec.requests + spec.requests * seconds / spec.per_seconds
        assert callers.each == allowed / 2
        assert callers.count * callers.each >= 40_000 * seconds  # the whole run spread out
        warmed = Callers.within_limit("personalized", "user-archetype", seconds, 40_000,
                                      warmed=True)  # fmt: skip
        assert warmed.count * warmed.each >= 40_000 * (seconds + WARM_UP_SECONDS)
        assert warmed == Callers.within_limit("personalized", "user-archetype",
                                              seconds + WARM_UP_SECONDS, 40_000)  # fmt: skip


def test_a_function_without_a_limit_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"apps/events\.yaml: events-search has no rateLimit"):
        Callers.within_limit("events", "events-search", 10, 1_000)


def test_a_run_that_outran_its_callers_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    customers = Callers.one_each(10, 100)  # 1,000 customers, one booking each
    result(990, 10).print("bookings", callers=customers)
    assert "note:" not in capsys.readouterr().out
    result(990, 11).print("bookings", callers=customers)
    out = capsys.readouterr().out
    assert "1,001 requests over 1,000 callers" in out
    assert "failures may be the callers' own limit" in out


def run(done: int, cpu: dict[str, float]) -> PathResult:
    return PathResult("path", done, 1.0, 1.0, 2.0, 0, cpu)


def test_a_share_is_the_cpu_ratio_times_the_cores_ratio_with_the_budget_for_half() -> None:
    sql = run(40_000, {"postgres": 1.6, "load generator": 0.4})  # 0.05 ms a request, 2 cores
    function = run(6_000, {"deno": 0.9, "postgres": 0.7})  # 0.267 ms a request, 1.6 cores
    row = Comparison("`status`", "requests", function, sql).cpu_row()
    assert row is not None
    assert "| 0.267 ms (deno 0.150 ms, postgres 0.117 ms) |" in row
    assert "| 0.050 ms (postgres 0.040 ms, load generator 0.010 ms) |" in row
    assert "0.19 * 1.60 / 2.00 cores = 15 % | 0.080 ms |" in row
    # a function path taking exactly that budget, at the same cores, runs at half the SQL's rate
    at_budget = run(20_000, {"deno": 0.9, "postgres": 0.7})
    assert at_budget.cpu_ms == pytest.approx(0.080)
    assert Comparison("`status`", "requests", at_budget, sql).share == pytest.approx(0.5)


def test_a_floor_is_printed_as_its_own_share_of_the_baseline() -> None:
    sql, function, bare = run(40_000, {}), run(6_000, {}), run(19_000, {})
    plain = Comparison("`status`", "requests", function, sql).row()
    assert plain.endswith("| **15 %** |")
    row = Comparison("`status`", "requests", function, sql, floor=bare).row()
    assert row.endswith("| **15 %** (a bare server's floor: 48 %) |")


def test_no_cpu_row_where_the_baseline_is_not_measured_per_request() -> None:
    copy = PathResult("COPY", 1_000_000, 5.0, 0.0, 0.0, 0, {})  # one psql \copy: no CPU read
    ingest = run(200, {"deno": 0.5, "postgres": 1.0})
    assert Comparison("`ingest`", "points", ingest, copy, per_request=1_000).cpu_row() is None


def test_a_warmed_path_is_warmed_once_before_its_measured_run_and_outside_its_cpu() -> None:
    calls: list[str] = []

    def warm_up() -> None:  # a load generator's warm-up: a child process that spends CPU
        calls.append("warm up")
        subprocess.run([sys.executable, "-c", "sum(range(20_000_000))"], check=True)

    def measure() -> Figures:
        calls.append("measure")
        return 100, 1.0, 1.0, 2.0, 0

    result = measured(Run(measure, warm_up), "function")
    assert calls == ["warm up", "measure"]
    assert (result.done, result.warmed) == (100, True)
    assert result.cpu.get("load generator", 0.0) < 0.05  # the warm-up's CPU is not the run's
    alone = measured(Run(measure), "function")  # not warmed: measured alone
    assert (alone.done, alone.warmed) == (100, False)
    assert calls == ["warm up", "measure", "measure"]


def comparison(path: str, function_done: int) -> Comparison:
    return Comparison(path, "requests", run(function_done, {}), run(1_000, {}))


def test_repeated_rounds_print_each_paths_median_run_and_every_share() -> None:
    rounds = [
        [comparison("`a`", 400), comparison("`b`", 700)],
        [comparison("`a`", 600), comparison("`b`", 500)],
        [comparison("`a`", 500), comparison("`b`", 300)],
    ]
    (a, a_shares), (b, b_shares) = medians(rounds)
    assert (a.path, a.share, a_shares) == ("`a`", 0.5, [0.4, 0.6, 0.5])
    assert (b.path, b.share, b_shares) == ("`b`", 0.5, [0.7, 0.5, 0.3])
    assert a is rounds[2][0] and b is rounds[1][1]  # an actual run, not an average
    # an even number of rounds: the lower middle run, never one better than half of them
    (low, _), _ = medians(rounds[:2])
    assert low.share == 0.4
    with pytest.raises(ValueError, match=r"the rounds measured different paths"):
        medians([[comparison("`a`", 1)], [comparison("`c`", 1)]])


def test_a_scripts_error_output_never_shows_the_database_password() -> None:
    dsn = "postgresql://authenticator:s3cr%21t@127.0.0.1:5432/postgres"
    told = deno_scripts.said("x" * 3000 + "connect failed: password s3cr!t for s3cr!t", dsn)
    assert "s3cr" not in told and told.endswith("password ******** for ********")
    assert len(told) == 2000  # the end of a long output
