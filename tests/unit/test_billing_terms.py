"""Fixed-amount coupons, billing periods of several intervals and withdrawn cancellations (docs/input-format.md, docs/metrics.md, docs/sales.md).

Every expected number was worked out by hand from the story; comments show the sums. The story runs
January-April 2025 and its as-of instant is 2025-04-20 12:00 UTC (the latest event).
"""

import json
from datetime import date, datetime
from decimal import Decimal as D

import pytest

from tests.support.dbt import SALES, render, run_models
from tests.support.story import (
    Landing,
    account,
    build,
    cancels,
    changes,
    load_new_files,
    rows,
    starts,
    usage,
    withdraws,
)
from transforms import sales
from transforms.ingestion import ensure_raw_tables, event_schema, load_stream
from transforms.reconciliation import waterfall_breaks
from transforms.sql_models import connect

JAN, FEB, MAR, APR = date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1), date(2025, 4, 1)


def terms_story():
    return [
        # A: 5 seats x $10 = 50, 10% off, then $5 off each charge: 50 x 0.9 - 5 = 40.00
        # (the fixed amount comes after the percentage: (50 - 5) x 0.9 would be 40.50).
        account("A", "2025-01-02"), starts("A", "2025-01-05", seats=5, price="10", discount=10, discount_amount="5"),
        # B: B-1 $10 with $15 off: the charge stops at 0 (not -5); B-2 $30. Jan-Feb 0 + 30 = 30.
        # 1 March B-1 goes to $20, the coupon kept (a change leaves it): 20 - 15 = 5, so 35 from March.
        account("B", "2025-01-02"), starts("B", "2025-01-05", sub="B-1", price="10", discount_amount="15"),
        starts("B", "2025-01-05", sub="B-2", price="30"),
        changes("B", "2025-03-01", sub="B-1", price="20"),
        # C: half-year plan (month x 6), 600 a charge: 600 / 6 = 100.00 a month.
        account("C", "2025-01-02"), starts("C", "2025-01-05", price="600", interval_count=6),
        # D: quarterly x 2 (6 months), 300 a charge: 300 / 6 = 50.00; on 10 March 360 (interval_count kept):
        # 360 / 6 = 60.00.
        account("D", "2025-01-02"), starts("D", "2025-01-05", price="300", interval="quarter", interval_count=2),
        changes("D", "2025-03-10", price="360"),
        # E: two 7-month plans of 100: each 14.285714...; the account's 28.571428... rounds once -> 28.57
        # (each rounded on its own would be 14.29 x 2 = 28.58).
        account("E", "2025-01-02"), starts("E", "2025-01-05", sub="E-1", price="100", interval_count=7),
        starts("E", "2025-01-05", sub="E-2", price="100", interval_count=7),
        # F: $30; cancellation sent 10 Feb for 15 March, withdrawn 1 March: never takes effect, MRR 30 throughout.
        account("F", "2025-01-02"), starts("F", "2025-01-05", seats=3, price="10"),
        cancels("F", "2025-02-10", effective="2025-03-15"), withdraws("F", "2025-03-01"),
        # G: $40; cancellation sent 10 April for 1 May (after as-of), withdrawn 15 April: no signal.
        account("G", "2025-01-02"), starts("G", "2025-01-05", seats=4, price="10"),
        cancels("G", "2025-04-10", effective="2025-05-01T00:00:00Z"), withdraws("G", "2025-04-15"),
        # H: $50; the same cancellation, not withdrawn: a scheduled cancellation (the control for G).
        account("H", "2025-01-02"), starts("H", "2025-01-05", seats=5, price="10"),
        cancels("H", "2025-04-10", effective="2025-05-01T00:00:00Z"),
        # I: $20; cancellation sent 10 Feb for 15 March, "withdrawn" 20 March, after it took effect: churn in March.
        account("I", "2025-01-02"), starts("I", "2025-01-05", seats=2, price="10"),
        cancels("I", "2025-02-10", effective="2025-03-15"), withdraws("I", "2025-03-20"),
        # J: $60; a withdrawal on 5 April, then a cancellation sent 10 April for 1 May: the withdrawal came
        # first and voids nothing, so J's cancellation is scheduled.
        account("J", "2025-01-02"), starts("J", "2025-01-05", seats=6, price="10"),
        withdraws("J", "2025-04-05"), cancels("J", "2025-04-10", effective="2025-05-01T00:00:00Z"),
        # K: $70; cancellation for 15 March withdrawn 20 Feb, a new one sent 1 March for 15 April: only the
        # first is voided, K churns in April.
        account("K", "2025-01-02"), starts("K", "2025-01-05", seats=7, price="10"),
        cancels("K", "2025-02-10", effective="2025-03-15"), withdraws("K", "2025-02-20"),
        cancels("K", "2025-03-01", effective="2025-04-15"),
        usage("A", "2025-04-20", "api_calls", 1),
    ]


@pytest.fixture(scope="module")
def terms(tmp_path_factory):
    landing = Landing(tmp_path_factory.mktemp("terms"))
    landing.add(*terms_story())
    con = build(landing)
    run_models(con, SALES)
    lists = sales.follow_up_lists(sales.read_inputs(con))
    sales.write_marts(con, lists)
    return con


def mrr_by_account(con, month):
    return {r["account_id"]: r["mrr"] for r in rows(con, f"select * from marts.account_mrr_monthly where month = '{month}'")}


def test_account_mrr_with_coupons_periods_and_withdrawals(terms):
    steady = {"A": D("40.00"), "C": D("100.00"), "E": D("28.57"), "F": D("30.00"), "G": D("40.00"),
              "H": D("50.00"), "J": D("60.00")}
    assert mrr_by_account(terms, JAN) == {**steady, "B": D("30.00"), "D": D("50.00"), "I": D("20.00"), "K": D("70.00")}
    assert mrr_by_account(terms, FEB) == {**steady, "B": D("30.00"), "D": D("50.00"), "I": D("20.00"), "K": D("70.00")}
    # March: B 5 + 30, D 60; I's cancellation took effect on the 15th (its later withdrawal changes nothing)
    assert mrr_by_account(terms, MAR) == {**steady, "B": D("35.00"), "D": D("60.00"), "K": D("70.00")}
    # April: K's second cancellation took effect on the 15th; G, H, J cancel on 1 May, after as-of
    assert mrr_by_account(terms, APR) == {**steady, "B": D("35.00"), "D": D("60.00")}


def test_a_fixed_amount_larger_than_the_charge_stops_at_zero(terms):
    periods = rows(terms, "select valid_from_month, arr_local, discount_amount from intermediate.subscription_periods "
                          "where subscription_id = 'B-1' order by valid_from_month")
    # Jan: max(0, 10 - 15) = 0; from March: (20 - 15) x 12 = 60 a year
    assert [(p["valid_from_month"], p["arr_local"], p["discount_amount"]) for p in periods] == [
        (JAN, D("0"), D("15")), (MAR, D("60"), D("15"))]


def test_periods_carry_the_new_terms(terms):
    periods = {r["subscription_id"]: r for r in rows(
        terms, "select * from intermediate.subscription_periods where valid_to_month = date '2025-04-01'")}
    assert (periods["C-1"]["billing_interval"], periods["C-1"]["interval_count"]) == ("month", 6)
    assert (periods["D-1"]["billing_interval"], periods["D-1"]["interval_count"]) == ("quarter", 2)
    assert periods["D-1"]["arr_local"] == D("720")  # 360 x 12 / 6
    assert periods["A-1"]["arr_local"] == D("480")  # 40 x 12
    assert periods["E-1"]["arr_local"] == D("171.428571428571")  # 100 x 12 / 7, to 12 places
    assert periods["A-1"]["interval_count"] == 1  # a start without it: one interval
    # 1 x 12 / 7 = 1.7142857142857...: half away from zero at 12 places
    sql = render(terms, "select {{ annualized('1', '7') }}, {{ annualized('2.5', '24') }}")
    assert terms.sql(sql).fetchall() == [(D("1.714285714286"), D("1.25"))]


def test_movements_know_nothing_of_withdrawn_cancellations(terms):
    movements = {(r["account_id"], r["month"]): (r["movement"], r["mrr_change"])
                 for r in rows(terms, "select * from marts.mrr_movements where month > '2025-01-01'")}
    assert movements == {
        ("B", MAR): ("expansion", D("5.00")),
        ("D", MAR): ("expansion", D("10.00")),
        ("I", MAR): ("churn", D("-20.00")),
        ("K", APR): ("churn", D("-70.00")),
    }
    waterfall = {r["month"]: r for r in rows(terms, "select * from marts.mrr_waterfall")}
    # Jan: 40 + 30 + 100 + 50 + 28.57 + 30 + 40 + 50 + 20 + 60 + 70 = 518.57
    assert waterfall[JAN]["closing_mrr"] == D("518.57")
    # Mar: 518.57 + 5 + 10 - 20 = 513.57; Apr: 513.57 - 70 = 443.57
    assert (waterfall[MAR]["expansion_mrr"], waterfall[MAR]["churned_mrr"]) == (D("15.00"), D("20.00"))
    assert waterfall[APR]["closing_mrr"] == D("443.57")
    assert waterfall_breaks(terms) == []


def test_a_withdrawn_cancellation_is_no_churn_risk(terms):
    scheduled = {r["subscription_id"]: r for r in rows(terms, "select * from intermediate.scheduled_cancellations")}
    # G's was withdrawn; J's came after its withdrawal; H's was never withdrawn
    assert set(scheduled) == {"H-1", "J-1"}
    assert scheduled["J-1"]["cancels_at"] == datetime(2025, 5, 1)
    assert scheduled["J-1"]["mrr"] == D("60.00")
    risk = {r["account_id"]: r["reasons"] for r in rows(terms, "select * from marts.churn_risk_accounts")}
    assert risk == {"H": "cancellation_scheduled", "J": "cancellation_scheduled"}


def build_with_sales_models(landing, warehouse):
    con = build(landing, warehouse)
    run_models(con, SALES)
    return con


def withdrawal_landing_later(tmp_path):
    """A warehouse built before the withdrawal arrived, then the next run: returns its connection."""
    landing = Landing(tmp_path / "landing")
    warehouse = tmp_path / "warehouse.duckdb"
    landing.add(account("F", "2025-01-02"), starts("F", "2025-01-05", seats=3, price="10"),
                cancels("F", "2025-02-10", effective="2025-03-15"), usage("F", "2025-03-02", "api_calls", 1))
    con = build_with_sales_models(landing, warehouse)
    assert con.sql("select subscription_id from intermediate.scheduled_cancellations").fetchall() == [("F-1",)]
    con.close()
    # 5 March: the cancellation is withdrawn; the data now runs to 20 March, past the 15 March it was due
    landing.add(withdraws("F", "2025-03-05"), usage("F", "2025-03-20", "api_calls", 1), suffix="-later")
    return build_with_sales_models(landing, warehouse)


def test_a_withdrawal_landing_later_voids_the_cancellation(tmp_path):
    con = withdrawal_landing_later(tmp_path)
    assert mrr_by_account(con, MAR) == {"F": D("30.00")}  # 3 x 10, not churned on 15 March
    assert con.sql("select count(*) from intermediate.scheduled_cancellations").fetchall() == [(0,)]
    assert con.sql("select count(*) from marts.mrr_movements where movement = 'churn'").fetchall() == [(0,)]


def test_a_withdrawal_landing_later_restates_the_subscription(tmp_path):
    con = withdrawal_landing_later(tmp_path)
    # the same months: the subscription was restated, not the table rebuilt
    assert con.sql("select kind from pipeline.model_builds where model = 'intermediate/subscription_periods' "
                   "order by build_id desc limit 1").fetchall() == [("restated",)]


@pytest.mark.parametrize(("line", "reason", "detail"), [
    ({"interval_count": 0}, "wrong_type", "interval_count=0 is below 1"),
    ({"interval_count": 1.5}, "wrong_type", "interval_count=1.5 is not a whole number"),
    ({"interval_count": "x"}, "wrong_type", "interval_count=x is not a whole number"),
    ({"interval_count": -2}, "wrong_type", "interval_count=-2 is below 1"),
    ({"discount_amount": "-0.01"}, "negative_value", "discount_amount=-0.01 is negative"),
    ({"discount_amount": "5 EUR"}, "wrong_type", "discount_amount=5 EUR is not a decimal amount"),
])
def test_bad_terms_are_quarantined(tmp_path, line, reason, detail):
    landing = Landing(tmp_path)
    start = {"event_id": "s-1", "event_type": "subscription_started", "occurred_at": "2025-01-05T10:00:00Z",
             "account_id": "A", "subscription_id": "A-1", "plan_id": "starter", "billing_interval": "month",
             "quantity": 1, "unit_price": "10", "currency": "USD"}
    landing.add_lines("subscription_events", "2025-01-05.jsonl", [
        json.dumps({**start, **line}),
        json.dumps({**start, "event_id": "s-2", "subscription_id": "A-2", "interval_count": 12,
                    "discount_amount": "0"}),
        json.dumps({"event_id": "w-1", "event_type": "subscription_cancel_withdrawn",
                    "occurred_at": "2025-01-06T10:00:00Z", "account_id": "A"}),
    ])
    con = connect(":memory:")
    ensure_raw_tables(con)
    load_new_files(con, landing.root)
    assert con.sql("select line_number, reason, detail from raw.quarantine order by 1").fetchall() == [
        (1, reason, detail), (3, "missing_field", "subscription_cancel_withdrawn needs subscription_id")]
    assert con.sql("select event_id, interval_count, discount_amount from raw.subscription_events").fetchall() == [
        ("s-2", 12, D("0"))]


OLD_SUBSCRIPTION_FIELDS = tuple(f for f in event_schema.STREAM_FIELDS["subscription_events"]
                                if f.name not in ("discount_amount", "interval_count"))


def test_a_warehouse_from_before_the_new_fields_is_upgraded(tmp_path, monkeypatch):
    """Raw loaded by the code of before (no discount_amount, interval_count), then the new code runs."""
    landing = Landing(tmp_path / "landing")
    warehouse = tmp_path / "warehouse.duckdb"
    landing.add(account("A", "2025-01-02"), starts("A", "2025-01-05", seats=5, price="10", discount=10))
    with monkeypatch.context() as old_code:
        old_code.setitem(event_schema.STREAM_FIELDS, "subscription_events", OLD_SUBSCRIPTION_FIELDS)
        con = connect(warehouse)
        ensure_raw_tables(con)
        load_new_files(con, landing.root)
        old_columns = [r[0] for r in con.sql("describe raw.subscription_events").fetchall()]
        con.close()
    assert "interval_count" not in old_columns
    # New files with the new fields land; the new code loads them into the old warehouse and builds.
    landing.add(starts("A", "2025-02-03", sub="A-2", price="600", interval_count=6, discount_amount="60"),
                suffix="-new")
    con = build(landing, warehouse)
    fresh = connect(":memory:")
    ensure_raw_tables(fresh)
    assert con.sql("describe raw.subscription_events").fetchall() == fresh.sql("describe raw.subscription_events").fetchall()
    # A-1 loaded before: 5 x 10 x 0.9 = 45 (its missing interval_count and discount_amount default at its start);
    # (600 - 60) / 6 = 90, from February
    assert mrr_by_account(con, JAN) == {"A": D("45.00")}
    assert mrr_by_account(con, FEB) == {"A": D("135.00")}
    assert con.sql("select count(*), count(interval_count) from raw.subscription_events").fetchall() == [(3, 1)]
    # the rows loaded before kept their provenance, and a re-run loads nothing again
    assert load_stream(con, landing.root, "subscription_events").files_read == []


def test_the_largest_terms_do_not_stop_a_run(tmp_path):
    """interval_count is a 32-bit integer and a charge can reach 10^18: months and the annualized charge are
    worked out in 64- and 128-bit integers, not in the raw columns' types."""
    landing = Landing(tmp_path)
    landing.add(account("A", "2025-01-02"),
                starts("A", "2025-01-05", price="999999999999", seats=1_000_000, interval="year",
                       interval_count=2_147_483_647))
    con = build(landing)
    # 999,999,999,999 x 1,000,000 / (2,147,483,647 x 12 months) = 38,805,107.2886... -> 38,805,107.29
    assert mrr_by_account(con, JAN) == {"A": D("38805107.29")}
