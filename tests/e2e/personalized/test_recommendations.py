"""Recommendations per archetype and context, date changes, and the business views."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tests.clock import DAYS, EACH_DAY
from tests.e2e.conftest import As
from tests.e2e.personalized.deployed import (
    Stack,
    short_notice_weekday,
    synthetic_user,
    weekday_ahead,
    weekend_ahead,
)


@pytest.mark.parametrize(
    ("archetype", "primary"),
    [("big_spender", "pay_premium"), ("high_flexibility", "swap_dates"),
     ("average_user", "split_cost")],
)  # fmt: skip
def test_the_primary_option_follows_the_archetype(
    stack: Stack, archetype: str, primary: str
) -> None:
    user, roommate = synthetic_user(stack, archetype)
    answer = stack.recommend(
        user, roommateId=roommate, targetDate=weekday_ahead(stack, 10).isoformat()
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) >= {"primaryRecommendation", "options", "userArchetype", "contextFactors"}
    assert body["primaryRecommendation"]["option"] == primary
    assert len(body["options"]) == 3
    assert {o["option"] for o in body["options"]} == {"swap_dates", "split_cost", "pay_premium"}
    scores = [o["score"] for o in body["options"]]
    assert scores == sorted(scores, reverse=True)
    assert body["userArchetype"]["type"] == archetype and body["personalized"] is True
    logged = stack.rows(
        "select user_id::text, primary_option, archetype_type, personalized "
        "from personalized.recommendation_logs where id = %s", body["recommendationId"],
    )  # fmt: skip
    assert logged == [(user, primary, archetype, True)]


@EACH_DAY
def test_the_context_moves_the_scores(stack: Stack, day: dt.date) -> None:
    """On each day of the week and where a month or a year rolls over (the database's clock
    moved there): notice and weekend are counted from the database's today. Users of their own
    (past the ones other tests take): the limiter's buckets they use carry the moved clock."""
    user, roommate = synthetic_user(stack, "average_user", 100 + list(DAYS.values()).index(day))
    with stack.services.clock.moved_to(day, stack.services.dsn()):
        calm_day, rushed_day = weekday_ahead(stack, 10), short_notice_weekday(stack)
        weekend_day = weekend_ahead(stack, 10)
        calm = stack.recommend(user, roommateId=roommate, targetDate=calm_day.isoformat()).json()
        rushed = stack.recommend(user, roommateId=roommate, targetDate=rushed_day.isoformat())
        weekend = stack.recommend(user, roommateId=roommate,
                                  targetDate=weekend_day.isoformat()).json()  # fmt: skip
        assert {o["option"]: o["score"] for o in calm["options"]} == {
            "split_cost": 0.5, "swap_dates": 0.3, "pay_premium": 0.2,
        }  # fmt: skip
        assert rushed.status_code == 200, rushed.text
        assert rushed.json()["contextFactors"]["daysNotice"] == (rushed_day - day).days <= 2
        assert {o["option"]: o["score"] for o in rushed.json()["options"]} == {
            "split_cost": 0.5, "pay_premium": 0.4, "swap_dates": 0.1,
        }  # fmt: skip
        assert weekend["contextFactors"]["weekend"] is True
        assert {o["option"]: o["score"] for o in weekend["options"]} == {
            "split_cost": 0.5, "swap_dates": 0.2, "pay_premium": 0.2,
        }  # fmt: skip
        # a roommate who declined three cost splits and accepted three premiums
        for option, status in [("split_cost", "declined")] * 3 + [("pay_premium", "accepted")] * 3:
            stack.scalar(
                "insert into personalized.date_change_requests (user_id, roommate_id, "
                "target_date, option, status, decided_at) values (%s, %s, current_date + 5, %s, "
                "%s, now()) returning 1", user, roommate, option, status,
            )  # fmt: skip
        known = stack.recommend(user, roommateId=roommate, targetDate=rushed_day.isoformat())
        assert known.json()["contextFactors"]["roommateAcceptance"] == {
            "split_cost": 0, "pay_premium": 1,
        }  # fmt: skip
        assert known.json()["primaryRecommendation"]["option"] == "pay_premium"  # 0.55 over 0.35
    logged = (
        "select count(*) from personalized.recommendation_logs where user_id = %s and "
        "target_date = %s"
    )
    assert stack.scalar(logged, user, rushed_day) == 2


def test_a_followed_recommendation_and_an_accepted_request_show_in_the_views(
    stack: Stack,
) -> None:
    user, roommate = synthetic_user(stack, "big_spender")
    ahead = weekday_ahead(stack, 10).isoformat()
    answer = stack.recommend(user, roommateId=roommate, targetDate=ahead).json()
    recommendation = answer["recommendationId"]
    views = "select sum(submitted)::int, sum(accepted)::int from personalized.request_conversion"
    submitted_before, accepted_before = stack.rows(views)[0]
    submit = "select personalized.submit_date_change(%s, %s)"
    stranger = As(stack.services, "authenticated", str(uuid.uuid4()))
    assert stranger.run(submit, [recommendation, "pay_premium"]) == "PD404"  # not theirs

    made = stack.call(user, submit, recommendation, "pay_premium")
    assert stack.scalar("select followed_recommendation from personalized.recommendation_logs "
                        "where id = %s", recommendation) is True  # fmt: skip
    again = As(stack.services, "authenticated", user).run(submit, [recommendation, "swap_dates"])
    assert again == "PD409"  # one date change per recommendation
    decide = "select personalized.decide_date_change(%s, true)"
    assert stranger.run(decide, [made]) == "PD404"  # only the roommate decides
    transactions = "select count(*) from personalized.transactions where user_id = %s"
    before = stack.scalar(transactions, user)
    assert stack.call(roommate, decide, made) == "accepted"
    assert stack.scalar(transactions, user) == before + 1  # the asking user's history grows
    assert stack.rows(views)[0] == (submitted_before + 1, accepted_before + 1)
    assert stack.scalar("select sum(request_count) from personalized.follow_rate_hourly") >= 1
    assert stack.rows("select archetype_type from personalized.follow_rate_by_archetype "
                      "where acted_on > 0") == [("big_spender",)]  # fmt: skip
    assert stack.scalar("select count(*) from personalized.edge_function_logs where "
                        "function_name = 'transaction-recommendations'") >= 1  # fmt: skip
