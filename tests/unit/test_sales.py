"""Upsell and churn-risk lists (docs/sales.md) on hand-built accounts, one story per signal and per exclusion.

Every story ends on the same latest data day, 2025-06-30 (the last usage event is at 12:00 UTC), so
the current window is 2025-06-01..06-30 and the previous one 2025-05-02..05-31. Plans (story.py):
starter 10 seats / 10,000 calls / $10, growth 50 / 100,000 / $20, scale 200 / 1,000,000 / $30,
enterprise 1,000 / unlimited / $50 (USD per seat per month).
"""

import os
import stat
from datetime import date, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest

from tests.support.dbt import SALES, run_models
from tests.support.story import Landing, account, build, cancels, pauses, payment, rows, starts, trial, usage
from transforms import report, sales

FIRST_DAY = date(2025, 5, 2)  # previous window's first day
CURRENT_START = date(2025, 6, 1)
LATEST = date(2025, 6, 30)


def daily(account_id: str, metric: str, previous: float, current: float, first: date = FIRST_DAY,
          last: date = LATEST) -> list[dict]:
    """One usage event a day: `previous` on each day of May 2-31, `current` on each day of June."""
    events, day = [], first
    while day <= last:
        events.append(usage(account_id, day.isoformat(), metric, previous if day < CURRENT_START else current))
        day += timedelta(days=1)
    return events


def customer(account_id: str, plan: str, seats: int, price, **terms) -> list[dict]:
    return [account(account_id, on="2025-01-02", sales_owner=f"owner-{account_id}"),
            starts(account_id, on="2025-01-05", plan=plan, seats=seats, price=price, **terms)]


def near_seat_limit(account_id: str) -> list[dict]:
    """Growth, 48 seats x $20 = $960 MRR; 46 of 50 seats in use (92%); API calls 1,000 -> 1,700 a day (+70%)."""
    return [*customer(account_id, "growth", 48, 20), *daily(account_id, "active_seats", 44, 46),
            *daily(account_id, "api_calls", 1000, 1700)]


def build_lists(landing: Landing):
    con = build(landing)
    run_models(con, SALES)
    lists = sales.follow_up_lists(sales.read_inputs(con))
    sales.write_marts(con, lists)
    return con, lists


@pytest.fixture(scope="module")
def morning(tmp_path_factory):
    landing = Landing(tmp_path_factory.mktemp("sales_landing"))
    landing.add(
        # A: near the seat limit and growing API use -> upsell to Scale.
        *near_seat_limit("A"),
        # B: the same usage, but June's payment failed and nothing was paid since -> churn risk only.
        *near_seat_limit("B"),
        payment("B", on="2025-05-05", amount="960.00", invoice_id="B-may"),
        payment("B", on="2025-06-05", amount="960.00", kind="payment_failed", invoice_id="B-june"),
        # C: a failure retried successfully on the same invoice -> not at risk, upsell as A.
        *near_seat_limit("C"),
        payment("C", on="2025-06-05", amount="960.00", kind="payment_failed", invoice_id="C-june"),
        payment("C", on="2025-06-08", amount="960.00", invoice_id="C-june"),
        # C2: a failure, then a later invoice of the same subscription paid -> not at risk.
        *near_seat_limit("C2"),
        payment("C2", on="2025-06-02", amount="960.00", kind="payment_failed", invoice_id="C2-a"),
        payment("C2", on="2025-06-20", amount="960.00", invoice_id="C2-b"),
        # D: an unpaid failure older than 30 days -> not a signal.
        *near_seat_limit("D"),
        payment("D", on="2025-05-20", amount="960.00", kind="payment_failed", invoice_id="D-may"),
        # E: top tier, 850 of 1,000 seats -> 63 more seats (850 / 1,063 < 80% <= 850 / 1,062) x $50.
        *customer("E", "enterprise", 900, 50), *daily("E", "active_seats", 850, 850),
        *daily("E", "api_calls", 1000, 1000),
        # F: API calls 2,000 -> 800 a day (down 60%) -> churn risk.
        *customer("F", "growth", 10, 20), *daily("F", "active_seats", 8, 8), *daily("F", "api_calls", 2000, 800),
        # G: seat pressure as A, but a cancellation is scheduled for July 31 -> churn risk only.
        *near_seat_limit("G"),
        cancels("G", on="2025-06-20", effective="2025-07-31T00:00:00Z"),
        # H: starter, 300 API calls a day = 9,000 in 30 days = 90% of 10,000 -> Growth, 5 x $20 - $50 = +$50.
        *customer("H", "starter", 5, 10), *daily("H", "active_seats", 3, 3), *daily("H", "api_calls", 300, 300),
        # K: growth at 50% off (40 x $20 x 0.5 = $400); 42 seats in use, more than the 40 contracted ->
        # priced for 42: 42 x $30 - $400 = +$860.
        *customer("K", "growth", 40, 20, discount=50), *daily("K", "active_seats", 42, 42),
        *daily("K", "api_calls", 100, 100),
        # L: pays above list (45 x $40 = $1,800): Scale at list would be cheaper, so the uplift is the
        # list-price gap: (30 - 20) x 45 = +$450.
        *customer("L", "growth", 45, 40), *daily("L", "active_seats", 45, 45), *daily("L", "api_calls", 100, 100),
        # Q: exactly 1.5x the API calls, far from the limits -> usage_growth at its threshold: 20 x $30 - $400.
        *customer("Q", "growth", 20, 20), *daily("Q", "active_seats", 10, 10), *daily("Q", "api_calls", 1000, 1500),
        # Z: top tier, 50 of 1,000 seats, API calls doubling: usage_growth at 2x (10 + 10 x 1/3 = 13 points)
        # with nothing more to sell at list price -> still an opportunity (docs/sales.md), uplift $0.00.
        *customer("Z", "enterprise", 100, 50), *daily("Z", "active_seats", 50, 50), *daily("Z", "api_calls", 500, 1000),
        # N: a customer since May 20, steady at 1,000 API calls a day: its previous window is partial, so
        # 12 x 1,000 -> 30 x 1,000 is 2.5x growth under docs/sales.md (no customer-since condition) -> upsell to
        # Scale, 10 x $30 - $200 = +$100.
        account("N", on="2025-05-18"), starts("N", on="2025-05-20", plan="growth", seats=10, price=20),
        *daily("N", "active_seats", 5, 5, first=date(2025, 5, 20)),
        *daily("N", "api_calls", 1000, 1000, first=date(2025, 5, 20)),
        # M: API calls only in June (none in May): previous = 0 is never growth -> neither list.
        *customer("M", "growth", 10, 20), *daily("M", "active_seats", 5, 5),
        *daily("M", "api_calls", 0, 1000, first=CURRENT_START),
        # T: trialing at 48 of 50 seats -> neither list.
        account("T", on="2025-05-30"), trial("T", on="2025-06-01", plan="growth"),
        *daily("T", "active_seats", 0, 48, first=CURRENT_START),
        # P: paused on June 10 with seat pressure and a failed payment -> neither list.
        *near_seat_limit("P"), pauses("P", on="2025-06-10"),
        payment("P", on="2025-06-05", amount="960.00", kind="payment_failed", invoice_id="P-june"),
        # X: canceled on June 10, usage gone -> churned, neither list.
        *customer("X", "growth", 48, 20), *daily("X", "active_seats", 46, 0, last=date(2025, 6, 9)),
        cancels("X", on="2025-06-10"),
    )
    return build_lists(landing)


def by_account(frame: pl.DataFrame) -> dict[str, dict]:
    return {row["account_id"]: row for row in frame.iter_rows(named=True)}


def test_windows_end_on_the_latest_data_day(morning):
    con, _ = morning
    windows = rows(con, "select distinct latest_data_day, current_window_start, previous_window_start "
                        "from intermediate.account_usage_windows")
    assert windows == [{"latest_data_day": LATEST, "current_window_start": CURRENT_START,
                        "previous_window_start": FIRST_DAY}]
    # A: 30 days of 46 seats and of 1,700 calls now, 30 days of 44 and 1,000 before.
    a = {r["metric"]: r for r in rows(con, "select * from intermediate.account_usage_windows where account_id = 'A'")}
    assert (a["active_seats"]["current_days_reported"], a["active_seats"]["current_daily_mean"]) == (30, 46.0)
    assert (a["api_calls"]["current_total"], a["api_calls"]["previous_total"]) == (51000.0, 30000.0)


def test_window_days_and_means_count_days_not_events(tmp_path):
    # W's API calls: two events on the previous window's first day (3 + 5 = one day of 8), one the day
    # before it (outside both windows), 2 on its last day; 10 at 00:00 and 20 at 23:59 on the current
    # window's first day (one day of 30), 30 on the latest data day.
    landing = Landing(tmp_path)
    landing.add(
        *customer("W", "growth", 10, 20),
        usage("W", "2025-05-01T12:00:00Z", "api_calls", 100),
        usage("W", "2025-05-02T00:00:00Z", "api_calls", 3), usage("W", "2025-05-02T23:59:59Z", "api_calls", 5),
        usage("W", "2025-05-31T12:00:00Z", "api_calls", 2),
        usage("W", "2025-06-01T00:00:00Z", "api_calls", 10), usage("W", "2025-06-01T23:59:59Z", "api_calls", 20),
        usage("W", "2025-06-30T12:00:00Z", "api_calls", 30),
    )
    con = build(landing)
    run_models(con, "account_usage_windows")
    (w,) = rows(con, "select * from intermediate.account_usage_windows where account_id = 'W'")
    assert (w["previous_window_start"], w["current_window_start"], w["latest_data_day"]) == (
        FIRST_DAY, CURRENT_START, LATEST)
    # previous: days May 2 (8) and May 31 (2) -> total 10 over 2 days, a mean of 5 a day (not 10 / 3 events)
    assert (w["previous_total"], w["previous_days_reported"], w["previous_daily_mean"]) == (10.0, 2, 5.0)
    # current: June 1 (30) and June 30 (30) -> 60 over 2 days, 30 a day
    assert (w["current_total"], w["current_days_reported"], w["current_daily_mean"]) == (60.0, 2, 30.0)


def test_near_seat_limit_is_an_upsell_to_the_next_plan(morning):
    _, lists = morning
    a = by_account(lists.upsell)["A"]
    # 46 / 50 = 92% -> 20 + 20 x (0.92 - 0.8) / 0.2 = 32 points; API calls x1.7 -> 10 + 10 x 0.2 / 1.5 = 11.3.
    assert a["reason_codes"] == ["seat_limit_near", "usage_growth"]
    assert a["reasons"] == "seat_limit_near,usage_growth"
    assert a["score"] == 43
    assert a["recommended_plan_id"] == "scale"
    assert a["extra_seats"] is None
    assert a["seats"] == 48
    assert a["mrr"] == Decimal("960.00")
    assert a["expected_mrr_uplift"] == Decimal("480.00")  # 48 x $30 - $960
    assert a["sales_owner"] == "owner-A"
    assert a["as_of"] == datetime(2025, 6, 30, 12, 0)
    assert a["seat_utilisation"] == pytest.approx(0.92)
    assert a["usage_growth_ratio"] == pytest.approx(1.7)
    assert a["summary"] == "Using 46 of 50 seats (92%) on Growth; API calls up 70% in 30 days; suggest Scale, +$480 MRR"


def test_recent_unpaid_failure_makes_the_same_account_churn_risk_only(morning):
    _, lists = morning
    assert "B" not in by_account(lists.upsell)
    b = by_account(lists.churn_risk)["B"]
    assert b["reason_codes"] == ["payment_failed"]
    assert b["score"] == 20
    assert b["unpaid_failed_payments"] == 1
    assert b["unpaid_amount_usd"] == Decimal("960.00")
    assert b["summary"] == "Payment of $960 failed on 2025-06-05, unpaid since"


def test_failure_followed_by_a_success_is_not_risk(morning):
    _, lists = morning
    risk = by_account(lists.churn_risk)
    upsell = by_account(lists.upsell)
    for resolved in ("C", "C2", "D"):  # same invoice retried; later invoice paid; failure older than 30 days
        assert resolved not in risk
        assert upsell[resolved]["expected_mrr_uplift"] == Decimal("480.00")


def test_top_tier_near_the_limit_gets_extra_seats(morning):
    _, lists = morning
    e = by_account(lists.upsell)["E"]
    assert e["reason_codes"] == ["seat_limit_near"]
    assert e["recommended_plan_id"] == "enterprise"
    assert e["extra_seats"] == 63
    assert e["expected_mrr_uplift"] == Decimal("3150.00")  # 63 x $50
    assert e["score"] == 25  # 20 + 20 x (0.85 - 0.8) / 0.2
    assert e["summary"] == "Using 850 of 1,000 seats (85%) on Enterprise; suggest 63 more seats on Enterprise, +$3,150 MRR"


def test_usage_drop_is_churn_risk(morning):
    _, lists = morning
    f = by_account(lists.churn_risk)["F"]
    assert f["reason_codes"] == ["usage_drop"]
    assert f["usage_drop"] == pytest.approx(0.6)
    assert f["score"] == 14  # 10 + 20 x (0.6 - 0.5) / 0.5
    assert f["summary"] == "API calls down 60% in 30 days"


def test_scheduled_cancellation_is_churn_risk_only(morning):
    _, lists = morning
    assert "G" not in by_account(lists.upsell)
    g = by_account(lists.churn_risk)["G"]
    assert g["reason_codes"] == ["cancellation_scheduled"]
    assert g["cancels_at"] == datetime(2025, 7, 31)
    assert g["mrr_cancelling"] == Decimal("960.00")
    assert g["score"] == 40  # 30 + 10 x (all of the MRR)
    assert g["summary"] == "Cancellation scheduled for 2025-07-31 (all $960 MRR)"


def test_usage_limit_near(morning):
    _, lists = morning
    h = by_account(lists.upsell)["H"]
    assert h["reason_codes"] == ["usage_limit_near"]
    assert h["api_utilisation"] == pytest.approx(0.9)
    assert (h["recommended_plan_id"], h["expected_mrr_uplift"], h["score"]) == ("growth", Decimal("50.00"), 30)
    assert h["summary"] == ("API calls at 90% of Starter's monthly limit (9,000 of 10,000 in 30 days); "
                            "suggest Growth, +$50 MRR")


def test_uplift_prices_seats_in_use_at_list_and_never_below_the_list_price_gap(morning):
    _, lists = morning
    upsell = by_account(lists.upsell)
    assert (upsell["K"]["seats"], upsell["K"]["mrr"], upsell["K"]["expected_mrr_uplift"]) == (
        42, Decimal("400.00"), Decimal("860.00"))
    assert (upsell["L"]["mrr"], upsell["L"]["expected_mrr_uplift"]) == (Decimal("1800.00"), Decimal("450.00"))


def test_growth_at_exactly_one_and_a_half_times_is_flagged(morning):
    _, lists = morning
    q = by_account(lists.upsell)["Q"]
    assert (q["reason_codes"], q["score"], q["expected_mrr_uplift"]) == (["usage_growth"], 10, Decimal("200.00"))
    assert q["summary"] == "API calls up 50% in 30 days; suggest Scale, +$200 MRR"


def test_exclusions(morning):
    _, lists = morning
    listed = set(lists.upsell["account_id"]) | set(lists.churn_risk["account_id"])
    # T trialing, P paused, X churned: inactive; M: no previous usage, so no growth.
    assert listed.isdisjoint({"T", "P", "X", "M"})


def test_a_signal_with_nothing_more_to_sell_is_still_an_opportunity(morning):
    _, lists = morning
    z = lists.upsell.filter(pl.col("account_id") == "Z").to_dicts()
    assert len(z) == 1 and lists.upsell_without_uplift == 1
    assert (z[0]["recommended_plan_id"], z[0]["extra_seats"], z[0]["expected_mrr_uplift"], z[0]["score"],
            z[0]["reasons"]) == ("enterprise", 0, Decimal("0.00"), 13, "usage_growth")
    assert z[0]["summary"] == ("API calls up 100% in 30 days; on Enterprise, the top tier, with seats to spare: "
                               "talk about the growth, +$0 MRR")


def test_both_lists_in_rank_order(morning):
    con, lists = morning
    assert lists.upsell["account_id"].to_list() == ["A", "C", "C2", "D", "L", "H", "E", "K", "N", "Z", "Q"]
    assert lists.churn_risk["account_id"].to_list() == ["G", "B", "F"]
    assert lists.upsell["rank"].to_list() == list(range(1, 12))
    assert sales.list_violations(con) == {}
    assert [r["account_id"] for r in rows(con, "select account_id from marts.upsell_opportunities order by rank")] == \
        lists.upsell["account_id"].to_list()


def test_marts_are_typed_and_documented(morning):
    con, _ = morning
    for table, columns in ((sales.UPSELL_TABLE, sales.UPSELL_COLUMNS), (sales.CHURN_RISK_TABLE, sales.CHURN_RISK_COLUMNS)):
        schema, name = table.split(".")
        described = rows(con, f"""select column_name, data_type, comment from duckdb_columns()
                                  where schema_name = '{schema}' and table_name = '{name}' order by column_index""")
        assert [c["column_name"] for c in described] == [c.name for c in columns]
        assert all(c["comment"] for c in described)
        types = {c["column_name"]: c["data_type"] for c in described}
        assert types["mrr"] == "DECIMAL(18,2)"
        assert types["reasons"] == "VARCHAR" and types["reason_codes"] == "VARCHAR[]"
        assert rows(con, f"select comment from duckdb_tables() where schema_name = '{schema}' and table_name = '{name}'")[0][
            "comment"]
    assert con.sql("select typeof(expected_mrr_uplift) from marts.upsell_opportunities limit 1").fetchall() == [
        ("DECIMAL(18,2)",)]


def test_follow_up_export_is_ordered_by_score_and_written_atomically(morning, tmp_path):
    _, lists = morning
    frame = sales.follow_up_frame(lists.upsell, lists.churn_risk)
    # Scores: A C C2 D 43, G 40 (retention first at equal scores), L H 30 (uplift $450 before $50), E 25,
    # K 24, B 20, N 17, F 14, Z 13, Q 10.
    assert frame["account_id"].to_list() == ["A", "C", "C2", "D", "G", "L", "H", "E", "K", "B", "N", "F", "Z", "Q"]
    dated, latest = sales.write_follow_up_csv(frame, tmp_path / "exports", LATEST)
    assert dated.name == "follow_up_2025-06-30.csv" and latest.name == "follow_up_latest.csv"
    assert sorted(p.name for p in dated.parent.iterdir()) == ["follow_up_2025-06-30.csv", "follow_up_latest.csv"]
    assert dated.read_text() == latest.read_text()
    assert stat.S_IMODE(os.stat(dated).st_mode) == 0o644
    exported = pl.read_csv(latest)
    assert exported.columns == sales.FOLLOW_UP_COLUMNS
    first = exported.row(0, named=True)
    assert (first["follow_up"], first["account_id"], first["score"], first["recommended_plan_id"]) == (
        "upsell", "A", 43, "scale")
    assert first["summary"].startswith("Using 46 of 50 seats (92%) on Growth")
    assert first["as_of"] == "2025-06-30T12:00:00Z"
    assert exported.filter(pl.col("account_id") == "G")["follow_up"].to_list() == ["churn_risk"]


def test_reason_counts_and_top_accounts(morning):
    _, lists = morning
    assert sales.reason_counts(lists.upsell, sales.UPSELL_REASONS) == {
        "seat_limit_near": 7, "usage_limit_near": 1, "usage_growth": 7}  # A C C2 D E K L; H; A C C2 D N Q Z
    assert sales.reason_counts(lists.churn_risk, sales.CHURN_RISK_REASONS) == {
        "payment_failed": 1, "cancellation_scheduled": 1, "usage_drop": 1}
    table = sales.top_accounts_markdown(lists.upsell, limit=3)
    assert table.splitlines()[0].startswith("| rank | account_id |")
    assert len(table.splitlines()) == 5


# ----------------------------------------------------------------------------------- pure functions


def comparison(current: float, previous: float | None, metric: str = "api_calls") -> dict:
    usage_windows = pl.DataFrame({
        "account_id": ["A"], "metric": [metric], "current_total": [current], "current_daily_mean": [current],
        "previous_total": [previous or 0.0], "previous_daily_mean": [previous], "previous_window_start": [FIRST_DAY],
    }, schema_overrides={"previous_daily_mean": pl.Float64})
    return sales.metric_comparisons(usage_windows).row(0, named=True)


@pytest.mark.parametrize(("current", "previous", "grew", "dropped"), [
    (150, 100, True, False), (149.99, 100, False, False), (50, 100, False, True), (50.01, 100, False, False),
    (0, 100, False, True), (10, 0, False, False), (0, 0, False, False),
])
def test_thresholds_are_exact(current, previous, grew, dropped):
    row = comparison(current, previous)
    assert (row["grew"], row["dropped"]) == (grew, dropped)


def test_no_growth_without_previous_usage():
    """docs/sales.md: the previous figure must be > 0, however large the current one."""
    for metric in ("api_calls", "active_seats"):
        for previous in (0.0, None):  # None: active_seats not reported on any day of the previous window
            row = comparison(1_000_000, previous, metric=metric)
            assert (row["grew"], row["dropped"], row["ratio"]) == (False, False, None), (metric, previous)


def test_growth_from_a_partial_previous_window_is_flagged(morning):
    """docs/sales.md asks nothing about how long the account has been a customer: N started on May 20, so its
    previous window holds 12 days of 1,000 API calls and its current one 30 -> 2.5x, usage_growth."""
    con, lists = morning
    n_usage = {r["metric"]: r for r in rows(con, "select * from intermediate.account_usage_windows where account_id = 'N'")}
    assert (n_usage["api_calls"]["previous_days_reported"], n_usage["api_calls"]["previous_total"]) == (12, 12000.0)
    assert n_usage["api_calls"]["current_total"] == 30000.0
    n = by_account(lists.upsell)["N"]
    assert n["reason_codes"] == ["usage_growth"]
    assert n["usage_growth_ratio"] == pytest.approx(2.5)
    assert n["score"] == 17  # 10 + 10 x (2.5 - 1.5) / 1.5 = 16.7
    assert (n["recommended_plan_id"], n["seats"], n["expected_mrr_uplift"]) == ("scale", 10, Decimal("100.00"))
    assert n["summary"] == "API calls up 150% in 30 days; suggest Scale, +$100 MRR"


def test_scores_are_monotone_and_bounded():
    grid = [x / 20 for x in range(0, 81)]  # strengths 0 .. 4
    frame = pl.DataFrame({"strength": grid})
    for points in (sales.UPSELL_POINTS, sales.CHURN_RISK_POINTS):
        for code in points:
            flags = {f"has_{c}": pl.lit(c == code) for c in points}
            strengths = {c: pl.col("strength") for c in points}
            scores = frame.with_columns(**flags).select(sales.score_expression(points, strengths))
            values = scores.to_series().to_list()
            assert values == sorted(values), code
            assert min(values) > 0 and max(values) <= 100
        everything = frame.with_columns(**{f"has_{c}": pl.lit(True) for c in points}).select(
            sales.score_expression(points, {c: pl.col("strength") for c in points})).to_series()
        assert everything.max() == 100


def test_top_tier_extra_seats_at_the_boundaries():
    def extra(mean_seats: float) -> int:
        frame = pl.DataFrame({
            "plan_id": ["enterprise"], "plan_name": ["Enterprise"], "next_plan_id": [None], "next_plan_name": [None],
            "next_list_price": [None], "list_price_monthly": [Decimal("50")], "seat_limit": [1000],
            "plan_seats": [900], "plan_mrr": [Decimal("45000.00")], "mean_active_seats": [mean_seats],
        }, schema_overrides={"next_plan_id": pl.String, "next_plan_name": pl.String,
                             "next_list_price": pl.Decimal(18, 6), "list_price_monthly": pl.Decimal(18, 6),
                             "plan_mrr": pl.Decimal(18, 2)})
        return sales.recommend(frame).row(0, named=True)["extra_seats"]

    assert extra(800) == 1  # exactly 80%: one more seat brings it under
    assert extra(799.9) == 0
    assert extra(850) == 63
    assert extra(1100.5) == 376  # 1,100.5 / 1,376 < 80% <= 1,100.5 / 1,375


def texts(expression, values, dtype=None) -> list[str]:
    """A sentence piece worked out for each value."""
    return pl.select(expression(pl.Series("v", values, dtype=dtype))).to_series().to_list()


def test_money_in_sentences():
    amounts = [Decimal("400.00"), Decimal("1234.5"), Decimal("3150"), Decimal("0"), Decimal("1234567.89")]
    assert texts(sales.money, amounts, pl.Decimal(18, 2)) == ["$400", "$1,234.50", "$3,150", "$0", "$1,234,567.89"]


TOP_TIER = {"has_seat_limit_near": False, "has_usage_limit_near": False, "growing": None, "next_plan_id": None,
            "plan_id": "enterprise", "plan_name": "Enterprise", "extra_seats": None, "seat_limit": None,
            "recommended_plan_name": "Enterprise", "recommended_plan_id": "enterprise",
            "expected_mrr_uplift": Decimal("0.00"), "mean_active_seats": None, "seat_utilisation": None,
            "api_utilisation": None, "api_calls_30d": None, "api_call_limit": None}


def upsell_sentence(**changes) -> str:
    frame = pl.DataFrame([TOP_TIER | changes], schema_overrides={
        "growing": pl.List(pl.Struct({"metric": pl.String, "ratio": pl.Float64})), "expected_mrr_uplift": pl.Decimal(18, 2),
        "extra_seats": pl.Int32, "seat_limit": pl.Int64, "api_call_limit": pl.Int64, "mean_active_seats": pl.Float64,
        "seat_utilisation": pl.Float64, "api_utilisation": pl.Float64, "api_calls_30d": pl.Float64,
        "next_plan_id": pl.String, "plan_name": pl.String})
    return sales.upsell_sentences(frame).item()


def test_sentence_for_a_top_tier_account_with_nothing_more_to_sell():
    assert upsell_sentence() == "On Enterprise, the top tier, with no seat limit: talk about the growth, +$0 MRR"
    assert upsell_sentence(extra_seats=0, seat_limit=1000) == (
        "On Enterprise, the top tier, with seats to spare: talk about the growth, +$0 MRR")
    assert upsell_sentence(extra_seats=63, seat_limit=1000, expected_mrr_uplift=Decimal("3150.00")) == (
        "Suggest 63 more seats on Enterprise, +$3,150 MRR")
    # a plan missing from reference/plans.csv is named by its id
    assert upsell_sentence(plan_id="legacy", plan_name=None, growing=[{"metric": "api_calls", "ratio": 2.0}]) == (
        "API calls up 100% in 30 days; on legacy, the top tier, with no seat limit: talk about the growth, +$0 MRR")


def test_a_plan_named_like_a_number_is_still_named():
    assert upsell_sentence(next_plan_id="zero", recommended_plan_name="0", recommended_plan_id="zero",
                           expected_mrr_uplift=Decimal("10.00")) == "Suggest 0, +$10 MRR"


def test_seat_counts_in_sentences():
    assert texts(sales._seats, [46.0, 4.6, 4.98, 23.25, 850.4, 1062.0, 12345.5]) == [
        "46", "4.6", "5", "23.3", "850", "1,062", "12,346"]


def test_no_active_account_gives_empty_typed_lists_and_a_header_only_file(tmp_path):
    landing = Landing(tmp_path / "landing")
    landing.add(account("T", on="2025-05-30"), trial("T", on="2025-06-01", plan="growth"),
                *daily("T", "active_seats", 0, 48, first=CURRENT_START))
    con, lists = build_lists(landing)
    assert (lists.upsell.height, lists.churn_risk.height) == (0, 0)
    assert con.sql(f"select count(*) from {sales.UPSELL_TABLE}").fetchall() == [(0,)]
    assert dict(con.sql(f"describe {sales.CHURN_RISK_TABLE}").fetchall()[i][:2] for i in range(3)) == {
        "account_id": "VARCHAR", "as_of": "TIMESTAMP", "mrr": "DECIMAL(18,2)"}
    assert sales.list_violations(con) == {}
    _, latest = sales.write_follow_up_csv(sales.follow_up_frame(lists.upsell, lists.churn_risk), tmp_path / "out", LATEST)
    assert latest.read_text().strip() == ",".join(sales.FOLLOW_UP_COLUMNS)


def alternating(account_id: str, metric: str, low: float, high: float) -> list[dict]:
    """`low` and `high` on alternate days of May 2 - June 30: a daily mean of (low + high) / 2 in each window."""
    days = [FIRST_DAY + timedelta(days=n) for n in range((LATEST - FIRST_DAY).days + 1)]
    return [usage(account_id, day.isoformat(), metric, low if n % 2 else high) for n, day in enumerate(days)]


def test_limits_are_near_at_or_over_as_the_figures_are(tmp_path):
    # Starter allows 10,000 API calls a month; 330 a day is 9,900 in each 30-day window, plus 0, 100 or 200
    # on the latest day: 9,900 (99%), 10,000 (100%), 10,100 (101%). Growth allows 50 seats: daily means of
    # 49.5, 50 and 50.5 seats (99%, 100%, 101%). Usage is steady otherwise: no growth or drop signal.
    landing = Landing(tmp_path)
    for account_id, extra in (("A99", 0), ("A100", 100), ("A101", 200)):
        landing.add(*customer(account_id, "starter", 5, 10), *daily(account_id, "active_seats", 3, 3),
                    *daily(account_id, "api_calls", 330, 330),
                    *([usage(account_id, LATEST.isoformat(), "api_calls", extra)] if extra else []))
    for account_id, low, high in (("S99", 49, 50), ("S100", 50, 50), ("S101", 50, 51)):
        landing.add(*customer(account_id, "growth", 50, 20), *alternating(account_id, "active_seats", low, high),
                    *daily(account_id, "api_calls", 100, 100))
    _, lists = build_lists(landing)
    first_clause = {a: row["summary"].split("; ")[0] for a, row in by_account(lists.upsell).items()}
    assert first_clause == {
        "A99": "API calls at 99% of Starter's monthly limit (9,900 of 10,000 in 30 days)",
        "A100": "API calls at Starter's monthly limit (10,000 of 10,000 in 30 days)",
        "A101": "API calls over Starter's monthly limit: 101% (10,100 of 10,000 in 30 days)",
        "S99": "Using 49.5 of 50 seats (99%) on Growth",
        "S100": "Using 50 of 50 seats (100%, at the limit) on Growth",
        "S101": "Using 50.5 of 50 seats (101%, over the limit) on Growth",
    }
    # the reason codes stay the public ones (docs/sales.md), whatever the sentence says
    assert {a: row["reasons"] for a, row in by_account(lists.upsell).items()} == {
        "A99": "usage_limit_near", "A100": "usage_limit_near", "A101": "usage_limit_near",
        "S99": "seat_limit_near", "S100": "seat_limit_near", "S101": "seat_limit_near"}


def test_limit_tags_in_the_report_say_over_and_at():
    # the upsell table's tags follow the account's utilisation of its limit, like its sentence
    row = {"seat_utilisation": 1.01, "api_utilisation": 0.99}
    assert report._reasons("seat_limit_near,usage_limit_near,usage_growth", row) == (
        '<span class="reason">over seat limit</span> <span class="reason">usage limit near</span> '
        '<span class="reason">usage growth</span>')
    assert report._reasons("usage_limit_near", {"api_utilisation": 1.0}) == '<span class="reason">at usage limit</span>'
