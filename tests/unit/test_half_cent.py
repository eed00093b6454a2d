"""MRR is rounded to the cent half away from zero (docs/metrics.md), in USD and after FX conversion.

Every case below lands exactly on half a cent (or just below it), worked out by hand, so that any other
rounding fails at least one assertion:
- half down and truncation give the lower cent at every .xx5;
- half to even gives the lower cent where the cent before the 5 is even (102.905, 26.865, 21.945, 52.185);
- ceiling gives the upper cent just below the half (102.904166…, 21.934).
MRR is never negative, so "half up" and "half away from zero" are the same rule here.

EUR is at 1.10 in January 2025 and 1.05 in February; the as-of instant is in February.
"""

from datetime import date
from decimal import Decimal as D

import pytest

from tests.support.story import Landing, account, build, build_metrics, changes, payment, rows, starts

JAN, FEB = date(2025, 1, 1), date(2025, 2, 1)


def half_cent_story():
    return [
        # U1: USD annual 1,234.86 / 12 = 102.905 -> 102.91 (half even, half down, truncation: 102.90)
        account("U1", "2025-01-02"), starts("U1", "2025-01-05", interval="year", price="1234.86"),
        # U2: USD annual 1,234.85 / 12 = 102.904166... -> 102.90 (ceiling: 102.91)
        account("U2", "2025-01-02"), starts("U2", "2025-01-05", interval="year", price="1234.85"),
        # U3: USD monthly 3 seats x 9.95 x (1 - 10%) = 26.865 -> 26.87 (half even, half down: 26.86)
        account("U3", "2025-01-02"), starts("U3", "2025-01-05", seats=3, price="9.95", discount=10),
        # E1: EUR monthly 19.95: Jan x 1.10 = 21.945 -> 21.95 (half even: 21.94); Feb x 1.05 = 20.9475 -> 20.95
        account("E1", "2025-01-02"), starts("E1", "2025-01-05", price="19.95", currency="EUR"),
        # E2: EUR annual 239.40: Jan 239.40 x 1.10 = 263.34 / 12 = 21.945 -> 21.95;
        #     Feb 239.40 x 1.05 = 251.37 / 12 = 20.9475 -> 20.95
        account("E2", "2025-01-02"), starts("E2", "2025-01-05", interval="year", price="239.40", currency="EUR"),
        # E3: EUR monthly 19.94: Jan x 1.10 = 21.934 -> 21.93 (ceiling: 21.94); Feb x 1.05 = 20.937 -> 20.94
        account("E3", "2025-01-02"), starts("E3", "2025-01-05", price="19.94", currency="EUR"),
        # E4: EUR monthly 49.70: Jan x 1.10 = 54.67; Feb x 1.05 = 52.185 -> 52.19 (half even, half down: 52.18)
        account("E4", "2025-01-02"), starts("E4", "2025-01-05", price="49.70", currency="EUR"),
        # E5: EUR 49.70 in January (54.67), 60.00 from 10 February (x 1.05 = 63.00). February's movement compares
        #     with January's 49.70 EUR re-valued at February's rate: prev_mrr 52.185 -> 52.19, expansion
        #     63.00 - 52.19 = 10.81 (half even or down: prev 52.18, expansion 10.82).
        account("E5", "2025-01-02"), starts("E5", "2025-01-05", price="49.70", currency="EUR"),
        changes("E5", "2025-02-10", price="60.00"),
        # Money collected is rounded the same way, once per account and month: E1 pays 19.95 EUR in January
        # (x 1.10 = 21.945 -> 21.95; half even 21.94) and is refunded 19.94 EUR (21.934 -> 21.93; ceiling 21.94).
        payment("E1", "2025-01-20", "19.95", currency="EUR"),
        payment("E1", "2025-01-25", "19.94", kind="refund_issued", currency="EUR"),
    ]


@pytest.fixture(scope="module")
def half_cents(tmp_path_factory):
    landing = Landing(tmp_path_factory.mktemp("half-cent"), fx=[("2025-01", "EUR", "1.10"), ("2025-02", "EUR", "1.05")])
    landing.add(*half_cent_story())
    return build_metrics(build(landing))


def mrr(con, table, month):
    key = "subscription_id" if table.startswith("intermediate") else "account_id"
    return {r[key]: str(r["mrr"]) for r in rows(con, f"select * from {table} where month = '{month}' order by 1")}


def test_account_mrr_rounds_half_away_from_zero_in_usd_and_after_fx(half_cents):
    assert mrr(half_cents, "marts.account_mrr_monthly", JAN) == {
        "U1": "102.91", "U2": "102.90", "U3": "26.87",
        "E1": "21.95", "E2": "21.95", "E3": "21.93", "E4": "54.67", "E5": "54.67",
    }
    assert mrr(half_cents, "marts.account_mrr_monthly", FEB) == {
        "U1": "102.91", "U2": "102.90", "U3": "26.87",
        "E1": "20.95", "E2": "20.95", "E3": "20.94", "E4": "52.19", "E5": "63.00",
    }


def test_subscription_mrr_rounds_the_same_way(half_cents):
    # One subscription per account: each subscription's own rounding gives the account's figures.
    assert mrr(half_cents, "intermediate.subscription_mrr_monthly", JAN) == {
        "U1-1": "102.91", "U2-1": "102.90", "U3-1": "26.87",
        "E1-1": "21.95", "E2-1": "21.95", "E3-1": "21.93", "E4-1": "54.67", "E5-1": "54.67",
    }
    assert mrr(half_cents, "intermediate.subscription_mrr_monthly", FEB)["E4-1"] == "52.19"


def test_last_months_mrr_revalued_at_this_months_rate_rounds_half_away_from_zero(half_cents):
    movements = {r["account_id"]: (r["movement"], str(r["prev_mrr"]), str(r["mrr"]), str(r["mrr_change"]))
                 for r in rows(half_cents, f"select * from marts.mrr_movements where month = '{FEB}'")}
    assert movements == {"E5": ("expansion", "52.19", "63.00", "10.81")}
    (waterfall,) = rows(half_cents, f"select * from marts.mrr_waterfall where month = '{FEB}'")
    # FX: the EUR accounts' January MRR re-valued at 1.05 minus as reported (E4 and E5 each 52.19 - 54.67):
    # E1 20.95 - 21.95, E2 20.95 - 21.95, E3 20.94 - 21.93, E4 -2.48, E5 -2.48 = -1.00 - 1.00 - 0.99 - 4.96 = -7.95
    assert waterfall["fx_adjustment"] == D("-7.95")
    assert waterfall["expansion_mrr"] == D("10.81")
    # closing: 102.91 + 102.90 + 26.87 + 20.95 + 20.95 + 20.94 + 52.19 + 63.00 = 410.71
    assert waterfall["closing_mrr"] == D("410.71")


def test_money_collected_rounds_half_away_from_zero_after_fx(half_cents):
    (collected,) = rows(half_cents, "select * from intermediate.collected_revenue_monthly where account_id = 'E1'")
    assert (collected["month"], str(collected["payments_usd"]), str(collected["refunds_usd"]),
            str(collected["collected_usd"])) == (JAN, "21.95", "21.93", "0.02")
