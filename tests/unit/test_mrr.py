"""MRR, movements and the waterfall on hand-worked event logs (docs/metrics.md).

Every expected number below was worked out by hand from the story in the test; comments show the sums.
"""

from datetime import date
from decimal import Decimal as D

import pytest

from tests.support.story import (
    Landing,
    account,
    build,
    cancels,
    changes,
    pauses,
    resumes,
    rows,
    starts,
    trial,
    usage,
)
from transforms.reconciliation import waterfall_breaks

JAN, FEB, MAR, APR = date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1), date(2025, 4, 1)
FX = [("2025-01", "EUR", "1.10"), ("2025-02", "EUR", "1.20"), ("2025-04", "EUR", "1.25"), ("2025-01", "GBP", "1.25")]


def company_story():
    """Ten accounts over January-April 2025, as-of 2025-04-20 12:00 UTC."""
    return [
        # A: 5 seats x $10 monthly = 50; upgraded mid-February to growth at $20/seat = 100.
        account("A", "2025-01-02"), starts("A", "2025-01-05", plan="starter", seats=5, price="10"),
        changes("A", "2025-02-10", plan="growth", price="20"),
        # B: 10 x $20 = 200; downgraded to 6 seats on 3 March = 120.
        account("B", "2025-01-02"), starts("B", "2025-01-10", plan="growth", seats=10, price="20"),
        changes("B", "2025-03-03", seats=6),
        # C: annual plan, 1,200/year -> 100.00 MRR.
        account("C", "2025-01-02"), starts("C", "2025-01-20", plan="growth", interval="year", seats=1, price="1200"),
        # D: quarterly, 3 seats x 90/quarter, 10% off -> 3*90*0.9/3 = 81.00, from February.
        account("D", "2025-02-01"),
        starts("D", "2025-02-14", plan="scale", interval="quarter", seats=3, price="90", discount=10),
        # E: EUR account, 2 x 49 EUR = 98 EUR: Jan at 1.10 = 107.80, Feb-Mar at 1.20 = 117.60, Apr at 1.25 = 122.50.
        account("E", "2025-01-02", country="DE", segment="Mid-Market"),
        starts("E", "2025-01-08", seats=2, price="49", currency="EUR"),
        # F: $30, cancellation sent 10 Feb, effective 15 March -> churn in March.
        account("F", "2025-01-02"), starts("F", "2025-01-05", seats=3, price="10"),
        cancels("F", "2025-02-10", effective="2025-03-15"),
        # G: $20, canceled 5 Feb (churn in Feb), back with a new subscription in April at $40 (reactivation).
        account("G", "2025-01-02"), starts("G", "2025-01-06", seats=2, price="10"), cancels("G", "2025-02-05"),
        starts("G", "2025-04-02", sub="G-2", seats=4, price="10"),
        # H: trial converts in January, $10.
        account("H", "2025-01-02"), trial("H", "2025-01-03"), starts("H", "2025-01-17", seats=1, price="10"),
        # I: $20, paused in February (MRR 0: churn), resumed in March (reactivation).
        account("I", "2025-01-02"), starts("I", "2025-01-09", seats=2, price="10"),
        pauses("I", "2025-02-05"), resumes("I", "2025-03-10"),
        # J: a trial that lapses: never pays.
        account("J", "2025-02-01"), trial("J", "2025-02-01"), cancels("J", "2025-02-15"),
        # K: $50 from March; cancellation scheduled for 1 May, after the as-of instant: still active in April.
        account("K", "2025-03-01"), starts("K", "2025-03-01", seats=5, price="10"),
        cancels("K", "2025-04-10", effective="2025-05-01T00:00:00Z"),
        # The latest event of any stream sets the as-of instant.
        usage("A", "2025-04-20", "api_calls", 120),
    ]


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    landing = Landing(tmp_path_factory.mktemp("company"), fx=FX)
    landing.add(*company_story())
    return build(landing)


def mrr_by_account(con, month):
    return {r["account_id"]: r["mrr"] for r in rows(con, f"select * from marts.account_mrr_monthly where month = '{month}'")}


def test_account_mrr_at_each_month_end(company):
    assert mrr_by_account(company, JAN) == {
        "A": D("50.00"), "B": D("200.00"), "C": D("100.00"), "E": D("107.80"), "F": D("30.00"),
        "G": D("20.00"), "H": D("10.00"), "I": D("20.00"),
    }
    assert mrr_by_account(company, FEB) == {
        "A": D("100.00"), "B": D("200.00"), "C": D("100.00"), "D": D("81.00"), "E": D("117.60"),
        "F": D("30.00"), "H": D("10.00"),
    }
    assert mrr_by_account(company, MAR) == {
        "A": D("100.00"), "B": D("120.00"), "C": D("100.00"), "D": D("81.00"), "E": D("117.60"),
        "H": D("10.00"), "I": D("20.00"), "K": D("50.00"),
    }
    assert mrr_by_account(company, APR) == {
        "A": D("100.00"), "B": D("120.00"), "C": D("100.00"), "D": D("81.00"), "E": D("122.50"),
        "G": D("40.00"), "H": D("10.00"), "I": D("20.00"), "K": D("50.00"),
    }


def test_plan_follows_the_upgrade(company):
    plans = {(r["account_id"], r["month"]): r["plan_id"] for r in rows(company, "select * from marts.account_mrr_monthly")}
    assert plans[("A", JAN)] == "starter"
    assert plans[("A", FEB)] == "growth"


def test_movements(company):
    movements = {(r["account_id"], r["month"]): (r["movement"], r["prev_mrr"], r["mrr"], r["mrr_change"])
                 for r in rows(company, "select * from marts.mrr_movements")}
    assert movements[("A", JAN)] == ("new", D("0.00"), D("50.00"), D("50.00"))
    assert movements[("A", FEB)] == ("expansion", D("50.00"), D("100.00"), D("50.00"))
    assert movements[("B", MAR)] == ("contraction", D("200.00"), D("120.00"), D("-80.00"))
    assert movements[("D", FEB)] == ("new", D("0.00"), D("81.00"), D("81.00"))
    assert movements[("F", MAR)] == ("churn", D("30.00"), D("0.00"), D("-30.00"))
    assert movements[("G", FEB)] == ("churn", D("20.00"), D("0.00"), D("-20.00"))
    assert movements[("G", APR)] == ("reactivation", D("0.00"), D("40.00"), D("40.00"))
    assert movements[("I", FEB)] == ("churn", D("20.00"), D("0.00"), D("-20.00"))
    assert movements[("I", MAR)] == ("reactivation", D("0.00"), D("20.00"), D("20.00"))
    assert movements[("K", MAR)] == ("new", D("0.00"), D("50.00"), D("50.00"))
    # FX alone is never a movement: E's 98 EUR is re-valued, not expanded.
    assert not [k for k in movements if k[0] == "E" and k[1] != JAN]
    assert ("K", APR) not in movements  # the scheduled cancellation is not in force yet
    assert len(movements) == 8 + 4 + 4 + 1  # Jan new x8; Feb A, D, G, I; Mar B, F, I, K; Apr G


def test_waterfall_by_hand(company):
    waterfall = {r["month"]: r for r in rows(company, "select * from marts.mrr_waterfall")}
    assert list(waterfall) == [JAN, FEB, MAR, APR]
    expected = {
        # opening, new, expansion, reactivation, contraction, churned, fx, closing
        # Jan: 50+200+100+107.80+30+20+10+20 = 537.80 all new.
        JAN: ("0.00", "537.80", "0.00", "0.00", "0.00", "0.00", "0.00", "537.80"),
        # Feb: D new 81; A +50; G and I churn 20+20; E re-valued 117.60-107.80 = 9.80.
        FEB: ("537.80", "81.00", "50.00", "0.00", "0.00", "40.00", "9.80", "638.60"),
        # Mar: K new 50; I back 20; B -80; F churns 30; EUR rate carried forward: no FX.
        MAR: ("638.60", "50.00", "0.00", "20.00", "80.00", "30.00", "0.00", "598.60"),
        # Apr: G back 40; E re-valued 98 x 1.25 - 117.60 = 4.90.
        APR: ("598.60", "0.00", "0.00", "40.00", "0.00", "0.00", "4.90", "643.50"),
    }
    columns = ["opening_mrr", "new_mrr", "expansion_mrr", "reactivation_mrr", "contraction_mrr", "churned_mrr",
               "fx_adjustment", "closing_mrr"]
    for month, values in expected.items():
        assert tuple(str(waterfall[month][c]) for c in columns) == values, month
    customers = ["opening_customers", "new_customers", "reactivated_customers", "churned_customers", "closing_customers"]
    assert tuple(waterfall[JAN][c] for c in customers) == (0, 8, 0, 0, 8)
    assert tuple(waterfall[FEB][c] for c in customers) == (8, 1, 0, 2, 7)
    assert tuple(waterfall[MAR][c] for c in customers) == (7, 1, 1, 1, 8)
    assert tuple(waterfall[APR][c] for c in customers) == (8, 0, 1, 0, 9)
    assert waterfall_breaks(company) == []


def test_accounts_dimension(company):
    accounts = {r["account_id"]: r for r in rows(company, "select * from marts.accounts")}
    status = {k: v["status"] for k, v in accounts.items()}
    assert status == {"A": "active", "B": "active", "C": "active", "D": "active", "E": "active", "F": "churned",
                      "G": "active", "H": "active", "I": "active", "J": "never_paid", "K": "active"}
    assert accounts["E"]["currency"] == "EUR" and accounts["E"]["mrr"] == D("122.50")
    assert accounts["E"]["segment"] == "Mid-Market" and accounts["E"]["country"] == "DE"
    assert accounts["D"]["first_paid_month"] == FEB
    assert accounts["J"]["first_paid_month"] is None
    assert accounts["A"]["plan_id"] == "growth" and accounts["F"]["mrr"] == D("0.00")


def test_money_columns_are_decimal(company):
    types = dict(company.sql(
        "select column_name, data_type from duckdb_columns() where schema_name = 'marts' and table_name = 'mrr_waterfall'"
    ).fetchall())
    assert types["closing_mrr"] == "DECIMAL(18,2)" and types["fx_adjustment"] == "DECIMAL(18,2)"
    assert types["month"] == "DATE"


def test_current_status_trialing_and_paused(tmp_path):
    landing = Landing(tmp_path)
    landing.add(
        account("P", "2025-01-02"), starts("P", "2025-01-05", seats=1, price="10"), pauses("P", "2025-02-03"),
        account("T", "2025-01-02"), trial("T", "2025-02-01"),
    )
    con = build(landing)
    status = dict(con.sql("select account_id, status from marts.accounts").fetchall())
    assert status == {"P": "paused", "T": "trialing"}


def test_a_trial_left_open_beside_a_paid_subscription_does_not_outlive_its_churn(tmp_path):
    """The log has no trial end: a trial counts as current only if it began after the account last paid."""
    landing = Landing(tmp_path)
    landing.add(
        # S: trial on S-1 in January never converted nor canceled; paid on S-2 January-February, canceled
        # in March -> churned, not trialing.
        account("S", "2025-01-02"), trial("S", "2025-01-03", sub="S-1"),
        starts("S", "2025-01-10", sub="S-2", seats=1, price="10"), cancels("S", "2025-03-05", sub="S-2"),
        # W: paid in January, canceled in February, a win-back trial in March -> trialing.
        account("W", "2025-01-02"), starts("W", "2025-01-10", seats=1, price="10"), cancels("W", "2025-02-05"),
        trial("W", "2025-03-02", sub="W-2"),
        # N: a trial that is still open and never paid -> trialing.
        account("N", "2025-01-02"), trial("N", "2025-03-01"),
        account("Z", "2025-03-20"),
    )
    con = build(landing)
    status = dict(con.sql("select account_id, status from marts.accounts").fetchall())
    assert status == {"S": "churned", "W": "trialing", "N": "trialing", "Z": "never_paid"}


def test_start_and_end_within_one_month_never_shows_mrr(tmp_path):
    """docs/metrics.md: MRR is measured at month end, so a customer who comes and goes inside a month is invisible."""
    landing = Landing(tmp_path)
    landing.add(account("Q", "2025-01-02"), starts("Q", "2025-01-05", seats=1, price="10"), cancels("Q", "2025-01-25"),
                account("R", "2025-01-02"), starts("R", "2025-02-05", seats=1, price="10"))
    con = build(landing)
    assert con.sql("select count(*) from marts.account_mrr_monthly where account_id = 'Q'").fetchall() == [(0,)]
    assert dict(con.sql("select account_id, status from marts.accounts").fetchall())["Q"] == "never_paid"


def test_late_file_restates_an_earlier_month(tmp_path):
    landing = Landing(tmp_path / "landing", fx=FX)
    landing.add(*company_story())
    warehouse = tmp_path / "warehouse.duckdb"
    con = build(landing, warehouse)
    assert mrr_by_account(con, FEB)["B"] == D("200.00")
    con.close()
    # A file landing in April says B went to 12 seats on 20 February: February and March are restated.
    landing.add(changes("B", "2025-02-20", seats=12), suffix="-late")
    con = build(landing, warehouse)
    assert mrr_by_account(con, FEB)["B"] == D("240.00")
    assert mrr_by_account(con, MAR)["B"] == D("120.00")  # the 3 March downgrade still applies after it
    feb = rows(con, f"select * from marts.mrr_waterfall where month = '{FEB}'")[0]
    assert feb["expansion_mrr"] == D("90.00")  # A +50, B +40
    assert feb["closing_mrr"] == D("678.60")
    mar = rows(con, f"select * from marts.mrr_waterfall where month = '{MAR}'")[0]
    assert mar["contraction_mrr"] == D("120.00")  # B 240 -> 120
    assert waterfall_breaks(con) == []


def test_event_before_its_start_waits_for_it(tmp_path):
    landing = Landing(tmp_path / "landing")
    warehouse = tmp_path / "warehouse.duckdb"
    landing.add(account("X", "2025-01-02"), changes("X", "2025-01-20", seats=3),
                account("Y", "2025-01-02"), starts("Y", "2025-01-05", seats=1, price="10"))
    con = build(landing, warehouse)
    assert "X" not in mrr_by_account(con, JAN)
    con.close()
    landing.add(starts("X", "2025-01-10", seats=1, price="10"), suffix="-start")
    con = build(landing, warehouse)
    assert mrr_by_account(con, JAN)["X"] == D("30.00")  # the change (3 seats) applies after the start


def test_offset_timestamps_are_converted_to_utc(tmp_path):
    landing = Landing(tmp_path)
    # 1 Feb 01:00 at +02:00 is 31 Jan 23:00 UTC: the subscription is in force at January's end.
    landing.add(account("Z", "2025-01-02"), starts("Z", "2025-02-01T01:00:00+02:00", seats=1, price="10"),
                usage("Z", "2025-02-10", "api_calls", 1))
    con = build(landing)
    assert mrr_by_account(con, JAN) == {"Z": D("10.00")}
    assert con.sql("select occurred_at::varchar from raw.subscription_events where event_type = 'subscription_started'"
                   ).fetchall() == [("2025-01-31 23:00:00",)]


def test_half_cent_rounds_up_once_per_account(tmp_path):
    landing = Landing(tmp_path)
    # Two annual subscriptions of 0.06/year: each is 0.005/month; the account's sum 0.01 is rounded once.
    landing.add(account("R", "2025-01-02"),
                starts("R", "2025-01-05", sub="R-1", interval="year", seats=1, price="0.06"),
                starts("R", "2025-01-05", sub="R-2", interval="year", seats=1, price="0.06"),
                starts("R", "2025-01-05", sub="R-3", interval="year", seats=1, price="1000"))
    con = build(landing)
    # 0.06 + 0.06 + 1000 = 1000.12 / 12 = 83.343333 -> 83.34
    assert mrr_by_account(con, JAN) == {"R": D("83.34")}


def test_subscriptions_waiting_for_their_start_are_listed(tmp_path):
    from transforms.reconciliation import never_started_subscriptions

    landing = Landing(tmp_path)
    # W's change and cancellation arrived, its start has not; S started and changed
    landing.add(account("A", "2025-01-02"), starts("A", "2025-01-05", sub="S"), changes("A", "2025-01-20", sub="S"),
                changes("A", "2025-01-10", sub="W", seats=3), cancels("A", "2025-01-25", sub="W"))
    con = build(landing)
    waiting = never_started_subscriptions(con)
    assert [(w["subscription_id"], w["events"], str(w["first_event_at"])) for w in waiting] == [
        ("W", 2, "2025-01-10 12:00:00")]
