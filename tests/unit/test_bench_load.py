"""The benches' callers: sized from the function's rate limit in its manifest, so that a
capacity bench never measures a caller's limit, and a run that outran them says so."""

from __future__ import annotations

import pytest

from bench.load import PROJECT, Callers, PathResult
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
