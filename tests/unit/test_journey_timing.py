"""The customer journey, the contact timing of the upsell list, and the churn-risk list's probability, MRR at
risk and recommended action (docs/sales.md), on hand-built accounts.

Every story ends on the latest data day 2025-06-30 (a Monday; the last usage event is at 12:00 UTC), so the
first day a call can be made is Tuesday 2025-07-01, "this week" is June 24-30 and the usage windows are
June 1-30 and May 2-31. Plans (story.py): starter 10 seats / $10, growth 50 / $20, scale 200 / $30,
enterprise 1,000 / $50 (USD per seat per month).
"""

from datetime import date, timedelta
from decimal import Decimal

import polars as pl
import pytest

from tests.support.dbt import SALES, run_models
from tests.support.story import (
    Landing,
    account,
    build,
    cancels,
    changes,
    payment,
    rows,
    starts,
    trial,
    usage,
)
from transforms import sales

LATEST = date(2025, 6, 30)


def every_day(account_id: str, metric: str, quantity: float, first: date = date(2025, 5, 2), last: date = LATEST,
              from_day: date | None = None, then: float | None = None) -> list[dict]:
    """One usage event a day from `first` to `last`: `quantity`, or `then` from `from_day` on."""
    events, day = [], first
    while day <= last:
        events.append(usage(account_id, day.isoformat(), metric,
                            then if from_day is not None and day >= from_day else quantity))
        day += timedelta(days=1)
    return events


def near_limit(account_id: str, first: date = date(2025, 5, 2)) -> list[dict]:
    """9 of the starter plan's 10 seats in use every day (seat_limit_near), 100 API calls a day (steady)."""
    return [*every_day(account_id, "active_seats", 9, first=first), *every_day(account_id, "api_calls", 100, first=first)]


def customer(account_id: str, on: str = "2025-01-05", plan: str = "starter", seats: int = 10, price="10",
             interval: str = "month") -> list[dict]:
    return [account(account_id, on=on), starts(account_id, on=on, plan=plan, seats=seats, price=price,
                                               interval=interval)]


def lists_for(landing: Landing, predictions: list[tuple] | None = None):
    """Build the warehouse, optionally with a hand-made marts.churn_predictions, and compute the lists."""
    con = build(landing)
    run_models(con, SALES)
    if predictions is not None:
        con.execute("create schema if not exists marts")
        con.execute("""create table marts.churn_predictions (account_id varchar, as_of timestamp,
                       churn_probability double, expected_mrr_at_risk decimal(18, 2), top_drivers varchar,
                       model_version varchar)""")
        con.executemany("insert into marts.churn_predictions values (?, ?, ?, null, ?, ?)", predictions)
    lists = sales.follow_up_lists(sales.read_inputs(con))
    sales.write_marts(con, lists)
    return con, lists


def by_account(frame: pl.DataFrame) -> dict[str, dict]:
    return {row["account_id"]: row for row in frame.iter_rows(named=True)}


# ------------------------------------------------------------------------------------------ when to call


@pytest.fixture(scope="module")
def timing(tmp_path_factory):
    landing = Landing(tmp_path_factory.mktemp("timing"))
    landing.add(
        # STEADY: a customer since January, 9 of 10 seats every day: no timing signal -> the first day, July 1.
        *customer("STEADY"), *near_limit("STEADY"),
        # PEAK: as STEADY, but API calls 100 -> 150 a day over June 24-30: this week (1,050) is above each of
        # the 3 weeks before (700) -> usage at its peak this week -> July 1.
        *customer("PEAK"), *every_day("PEAK", "active_seats", 9),
        *every_day("PEAK", "api_calls", 100, from_day=date(2025, 6, 24), then=150),
        # NEW: signed up on June 10 -> the first 6 weeks run to July 21 -> not before Tuesday July 22.
        *customer("NEW", on="2025-06-10"), *near_limit("NEW", first=date(2025, 6, 10)),
        # FAILED: a payment failed on June 25 and was retried the next day (not a churn risk) -> not
        # before July 9 (June 25 + 14 days).
        *customer("FAILED"), *near_limit("FAILED"),
        payment("FAILED", on="2025-06-25", amount="100.00", kind="payment_failed", invoice_id="FAILED-june"),
        payment("FAILED", on="2025-06-26", amount="100.00", invoice_id="FAILED-june"),
        # ANNUAL: billed yearly since 2024-09-15 -> renews 2025-09-15, within 90 days of July 1 (Sep 29) ->
        # call 30 days ahead, August 16, a Saturday -> Monday August 18.
        *customer("ANNUAL", on="2024-09-15", price="120", interval="year"), *near_limit("ANNUAL"),
        # QUARTER: billed quarterly since April 10 -> renews July 10: 30 days ahead is already past -> July 1.
        *customer("QUARTER", on="2025-04-10", price="30", interval="quarter"), *near_limit("QUARTER"),
        # FAR: billed yearly since January 5 -> renews 2026-01-05, beyond 90 days: no hold -> July 1.
        *customer("FAR", price="120", interval="year"), *near_limit("FAR"),
    )
    return lists_for(landing)


def test_contact_day_and_reason_for_each_timing_rule(timing):
    _, lists = timing
    upsell = by_account(lists.upsell)
    assert set(upsell) == {"STEADY", "PEAK", "NEW", "FAILED", "ANNUAL", "QUARTER", "FAR"}
    got = {a: (r["contact_on"], r["timing_reason"]) for a, r in upsell.items()}
    assert got == {
        "STEADY": (date(2025, 7, 1), "no timing signal: call while the usage signals are fresh"),
        "PEAK": (date(2025, 7, 1), "usage at its peak this week"),
        "NEW": (date(2025, 7, 22), "no timing signal: call while the usage signals are fresh; not before "
                                   "2025-07-22 (the first 6 weeks after signup on 2025-06-10)"),
        "FAILED": (date(2025, 7, 9), "no timing signal: call while the usage signals are fresh; not before "
                                     "2025-07-09 (14 days after the failed payment of 2025-06-25)"),
        "ANNUAL": (date(2025, 8, 18), "annual plan renews on 2025-09-15: call 30 days ahead"),
        "QUARTER": (date(2025, 7, 1), "quarterly plan renews on 2025-07-10: call before it"),
        "FAR": (date(2025, 7, 1), "no timing signal: call while the usage signals are fresh"),
    }


def test_weekly_usage_behind_the_peak(timing):
    con, _ = timing
    # PEAK's API calls: June 24-30 = 7 x 150 = 1,050; each of the 3 weeks before (June 3-23) 7 x 100 = 700.
    peak = rows(con, "select this_week_total, earlier_weeks_peak_total, this_week_daily_mean, "
                     "earlier_weeks_peak_daily_mean from intermediate.account_usage_windows "
                     "where account_id = 'PEAK' and metric = 'api_calls'")
    assert peak == [{"this_week_total": 1050.0, "earlier_weeks_peak_total": 700.0, "this_week_daily_mean": 150.0,
                     "earlier_weeks_peak_daily_mean": 100.0}]
    renewals = rows(con, "select account_id, next_renewal_on, renewal_months from intermediate.account_milestones "
                         "where renewal_months is not null order by account_id")
    assert renewals == [
        {"account_id": "ANNUAL", "next_renewal_on": date(2025, 9, 15), "renewal_months": 12},
        {"account_id": "FAR", "next_renewal_on": date(2026, 1, 5), "renewal_months": 12},
        {"account_id": "QUARTER", "next_renewal_on": date(2025, 7, 10), "renewal_months": 3},
    ]


def test_the_crm_file_and_the_journey_carry_the_contact_day(timing, tmp_path):
    con, lists = timing
    export = sales.follow_up_frame(lists.upsell, lists.churn_risk)
    assert by_account(export)["ANNUAL"]["contact_on"] == date(2025, 8, 18)
    path, _ = sales.write_follow_up_csv(export, tmp_path, LATEST)
    header = path.read_text().splitlines()[0].split(",")
    assert header[-3:] == ["contact_on", "timing_reason", "recommended_action"]
    journey = rows(con, "select account_id, contact_on from marts.account_journey where account_id = 'NEW'")
    assert journey == [{"account_id": "NEW", "contact_on": date(2025, 7, 22)}]
    assert sales.list_violations(con) == {}


# ------------------------------------------------------------------------------------------ the journey


@pytest.fixture(scope="module")
def journey(tmp_path_factory):
    landing = Landing(tmp_path_factory.mktemp("journey"))
    landing.add(
        # TRIAL: a trial started June 1, never paid -> trial since June 1.
        account("TRIAL", on="2025-05-30"), trial("TRIAL", on="2025-06-01", plan="growth"),
        # GONE: paid Jan-April, canceled on May 10 -> churned since May 1 (the first month without MRR).
        *customer("GONE"), cancels("GONE", on="2025-05-10"),
        # RISK: a payment of June 12 failed and is unpaid -> at_risk since June 12.
        *customer("RISK"), *near_limit("RISK"),
        payment("RISK", on="2025-06-12", amount="100.00", kind="payment_failed", invoice_id="RISK-june"),
        # BACK: paid in January, canceled on February 10, started again on May 10 -> reactivated in May,
        # within the latest 3 months (April-June) -> reactivated since May 1.
        *customer("BACK"), cancels("BACK", on="2025-02-10"),
        starts("BACK", on="2025-05-10", sub="BACK-2", plan="starter", seats=5, price=10),
        # FRESH: signed up June 1 -> onboarding (until July 12) since June 1.
        *customer("FRESH", on="2025-06-01"),
        # GROWN: 10 -> 20 seats on May 15: an expansion in May, no usage signal -> expanding since May 1.
        *customer("GROWN"), changes("GROWN", on="2025-05-15", seats=20),
        # OUTGROWS: on the upsell list (9 of 10 seats), no MRR expansion -> expanding since the usage
        # window's first day, June 1.
        *customer("OUTGROWS"), *near_limit("OUTGROWS"),
        # SETTLED: expanded in February, quiet since -> adopting since May 1 (February + 3 months).
        *customer("SETTLED"), changes("SETTLED", on="2025-02-15", seats=12),
        # QUIET: a customer since January 5, nothing since -> adopting since February 16 (signup + 42 days).
        *customer("QUIET"),
        # usage elsewhere carries the data to June 30
        *every_day("RISK", "api_calls", 1, first=LATEST),
    )
    return lists_for(landing)


def test_each_stage_and_since_when(journey):
    _, lists = journey
    got = {r["account_id"]: (r["stage"], r["stage_since"]) for r in lists.journey.iter_rows(named=True)}
    assert got == {
        "TRIAL": ("trial", date(2025, 6, 1)),
        "GONE": ("churned", date(2025, 5, 1)),
        "RISK": ("at_risk", date(2025, 6, 12)),
        "BACK": ("reactivated", date(2025, 5, 1)),
        "FRESH": ("onboarding", date(2025, 6, 1)),
        "GROWN": ("expanding", date(2025, 5, 1)),
        "OUTGROWS": ("expanding", date(2025, 6, 1)),
        "SETTLED": ("adopting", date(2025, 5, 1)),
        "QUIET": ("adopting", date(2025, 2, 16)),
    }
    assert set(lists.journey["stage"]) <= set(sales.STAGES)
    assert sales.stage_counts(lists.journey) == {"trial": 1, "onboarding": 1, "adopting": 2, "expanding": 2,
                                                 "at_risk": 1, "churned": 1, "reactivated": 1}


# ---------------------------------------------------------------------- churn outlook on the risk list


def risk_stories() -> list[dict]:
    return [
        # MONTHLY: growth, 48 seats x $20 = $960, cancelling on July 31 -> an annual plan with 2 months free
        # keeps 960 x 10 / 12 = $800 (83%); starter (10 seats) cannot hold 48 seats.
        *customer("MONTHLY", plan="growth", seats=48, price="20"), *near_limit("MONTHLY"),
        cancels("MONTHLY", on="2025-06-20", effective="2025-07-31T00:00:00Z"),
        # YEARLY: scale billed yearly, 50 seats x $360 a year = $1,500 MRR, cancelling on Sep 15 -> already
        # annual; growth holds exactly its 50 seats: 50 x $20 = $1,000 of $1,500 (66%).
        *customer("YEARLY", on="2024-09-15", plan="scale", seats=50, price="360", interval="year"),
        *near_limit("YEARLY"), cancels("YEARLY", on="2025-06-20", effective="2025-09-15T00:00:00Z"),
        # BOTTOM: starter billed yearly, 10 seats x $120 = $100 MRR, cancelling: nothing lower, already annual
        # -> a success call before the cancellation.
        *customer("BOTTOM", price="120", interval="year"), *near_limit("BOTTOM"),
        cancels("BOTTOM", on="2025-06-20", effective="2025-08-01T00:00:00Z"),
        # UNPAID: starter, 10 x $10.01 = $100.10 MRR, June's payment failed -> fix the payment method.
        *customer("UNPAID", price="10.01"), *near_limit("UNPAID"),
        payment("UNPAID", on="2025-06-05", amount="100.10", kind="payment_failed", invoice_id="UNPAID-june"),
        # BOTH: a failed payment and a scheduled cancellation: the cancellation decides -> the retention offer
        # (annual: 100 x 10 / 12 = 83.333 -> $83.33).
        *customer("BOTH"), *near_limit("BOTH"),
        payment("BOTH", on="2025-06-05", amount="100.00", kind="payment_failed", invoice_id="BOTH-june"),
        cancels("BOTH", on="2025-06-20", effective="2025-07-31T00:00:00Z"),
        # QUIETER: API calls 100 -> 40 a day -> a success call about the drop.
        *customer("QUIETER"), *every_day("QUIETER", "active_seats", 9),
        *every_day("QUIETER", "api_calls", 100, from_day=date(2025, 6, 1), then=40),
    ]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    landing = Landing(tmp_path_factory.mktemp("scored"))
    landing.add(*risk_stories())
    as_of = "2025-06-30 12:00:00"
    return lists_for(landing, predictions=[
        ("MONTHLY", as_of, 0.35, "cancellation scheduled", "gbm-1"),
        ("YEARLY", as_of, 0.1, "seats near the limit", "gbm-1"),
        ("BOTTOM", as_of, 0.9, "cancellation scheduled", "gbm-1"),
        ("UNPAID", as_of, 0.25, "failed payment", "gbm-1"),
        ("BOTH", as_of, 0.5, "failed payment", "gbm-1"),
        ("QUIETER", as_of, 0.02, "usage down", "gbm-1"),
        # an older scoring is ignored
        ("MONTHLY", "2025-05-31 00:00:00", 0.99, "old", "gbm-0"),
    ])


def test_recommended_action_for_each_reason(scored):
    _, lists = scored
    actions = {a: r["recommended_action"] for a, r in by_account(lists.churn_risk).items()}
    assert actions == {
        "MONTHLY": "Offer an annual plan with 2 months free before the cancellation on 2025-07-31: keeps $800 of "
                   "$960 MRR (83%)",
        "YEARLY": "Offer a downgrade to Growth for its 50 seats before the cancellation on 2025-09-15: keeps $1,000 "
                  "of $1,500 MRR (66%)",
        "BOTTOM": "Success call before the cancellation on 2025-08-01: ask what would keep them",
        "UNPAID": "Fix the payment method: $100.10 unpaid since 2025-06-05",
        "BOTH": "Offer an annual plan with 2 months free before the cancellation on 2025-07-31: keeps $83.33 of "
                "$100 MRR (83%)",
        "QUIETER": "Success call about the usage drop: API calls down 60% in 30 days",
    }


def test_ranked_by_expected_mrr_at_risk(scored):
    con, lists = scored
    got = [(r["account_id"], r["churn_probability"], r["expected_mrr_at_risk"])
           for r in lists.churn_risk.sort("rank").iter_rows(named=True)]
    # probability x MRR, rounded half away from zero to the cent:
    #   MONTHLY 0.35 x 960 = 336.00; YEARLY 0.1 x 1,500 = 150.00; BOTTOM 0.9 x 100 = 90.00;
    #   BOTH 0.5 x 100 = 50.00; UNPAID 0.25 x 100.10 = 25.025 -> 25.03 (half to even would give 25.02);
    #   QUIETER 0.02 x 100 = 2.00
    assert got == [
        ("MONTHLY", 0.35, Decimal("336.00")),
        ("YEARLY", 0.1, Decimal("150.00")),
        ("BOTTOM", 0.9, Decimal("90.00")),
        ("BOTH", 0.5, Decimal("50.00")),
        ("UNPAID", 0.25, Decimal("25.03")),
        ("QUIETER", 0.02, Decimal("2.00")),
    ]
    assert sales.list_violations(con) == {}
    stored = rows(con, "select expected_mrr_at_risk from marts.churn_risk_accounts where account_id = 'UNPAID'")
    assert stored == [{"expected_mrr_at_risk": Decimal("25.03")}]


@pytest.mark.parametrize("predictions", [None, "rules"], ids=["no_model_table", "rules_fallback"])
def test_without_a_model_the_rules_order_the_list(tmp_path, predictions):
    landing = Landing(tmp_path / "landing")
    landing.add(*risk_stories())
    # the churn model falling back to the rules may write rows without a probability
    table = None if predictions is None else [
        (a, "2025-06-30 12:00:00", None, "too little history", "rules")
        for a in ("MONTHLY", "YEARLY", "BOTTOM", "UNPAID", "BOTH", "QUIETER")]
    con, lists = lists_for(landing, predictions=table)
    frame = lists.churn_risk.sort("rank")
    assert frame["churn_probability"].null_count() == frame.height == 6
    assert frame["expected_mrr_at_risk"].null_count() == 6
    # by score, then MRR, as the rules rank: the cancellations first (30 + 10 x share), BOTH adding the failed
    # payment's 20
    scores = frame.select("account_id", "score").rows()
    assert scores == sorted(scores, key=lambda r: -r[1]) and scores[0] == ("BOTH", 60)
    assert sales.list_violations(con) == {}
