"""Cron schedules are checked against the target's pg_cron before anything is applied."""

from __future__ import annotations

import re

import pytest

from supastack.errors import SupastackError
from supastack.operations.cron import function_call, validate_schedule

LOCAL, SUPABASE = "1.4.2", "1.6"


@pytest.mark.parametrize(
    "schedule",
    ["* * * * *", "*/5 * * * *", "0 2 * * *", "0 0 1-15/2 jan-mar mon-fri", "0 0 * * 7", "@daily"],
)
def test_five_field_schedules_and_macros_pass_everywhere(schedule: str) -> None:
    assert validate_schedule(schedule, LOCAL, "job") == schedule
    assert validate_schedule(schedule, SUPABASE, "job") == schedule


def test_seconds_and_last_day_need_pg_cron_1_5() -> None:
    assert validate_schedule("30 seconds", SUPABASE, "tick") == "30 seconds"
    assert validate_schedule("0 12 $ * *", SUPABASE, "month-end") == "0 12 $ * *"
    with pytest.raises(
        SupastackError,
        match=r"cron job 'tick': schedule '30 seconds': second-level schedules need pg_cron 1.5 "
        r"or later; this target runs pg_cron 1.4.2",
    ):
        validate_schedule("30 seconds", LOCAL, "tick")
    with pytest.raises(
        SupastackError,
        match=r"cron job 'month-end': .*'\$' \(last day of the month\) needs pg_cron 1.5",
    ):
        validate_schedule("0 12 $ * *", LOCAL, "month-end")


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("61 * * * *", r"minute: '61' is not in 0-59"),
        ("* 24 * * *", r"hour: '24' is not in 0-23"),
        ("* * 0 * *", r"day of month: '0' is not in 1-31"),
        ("* * * 13 *", r"month: '13' is not in 1-12"),
        ("* * * * 8", r"day of week: '8' is not in 0-7"),
        ("* * * * * *", r"expected five fields"),
        ("0 0 L * *", r"day of month: 'L' is not in 1-31"),
        ("*/0 * * * *", r"minute: step '0' is not a positive number"),
        ("30-10 * * * *", r"minute: range '30-10' runs backwards"),
        ("60 seconds", r"expected five fields"),
        ("every minute", r"expected five fields"),
    ],
)
def test_invalid_schedules_name_the_job_and_the_field(schedule: str, message: str) -> None:
    with pytest.raises(
        SupastackError, match=rf"cron job 'nightly': schedule '{re.escape(schedule)}'.*{message}"
    ):
        validate_schedule(schedule, SUPABASE, "nightly")


def test_a_function_call_reads_url_and_token_from_vault() -> None:
    rendered = function_call("session-cleanup", {"batch": 50, "note": "it's"}, "JOB_SECRET")
    assert "name = 'supastack_functions_url'" in rendered
    assert "name = 'JOB_SECRET'" in rendered
    assert "'/functions/v1/session-cleanup'" in rendered
    assert """'{"batch": 50, "note": "it''s"}'::jsonb""" in rendered
    assert "current_setting" not in rendered and "http" not in rendered.split("net.http_post")[1]
