"""Stripe fixtures -> `import_stripe_log` -> the warehouse: account MRR worked out by hand (docs/metrics.md, docs/stripe.md).

Needs the warehouse side of the §1 additions (discount_amount, interval_count, subscription_cancel_withdrawn).
"""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.story import Landing, build, rows
from transforms.ingestion.event_schema import REQUIRED_FIELDS
from transforms.stripe import import_stripe_log

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stripe"
FX = [("2025-01", "EUR", "1.10"), ("2025-01", "GBP", "1.25"), ("2025-01", "JPY", "0.0065"), ("2025-01", "KWD", "3.25")]


@pytest.mark.skipif("subscription_cancel_withdrawn" not in REQUIRED_FIELDS["subscription_events"],
                    reason="the warehouse does not read the §1 additions yet (merge the warehouse branch first)")
def test_imported_stripe_log_builds_the_mrr_worked_out_by_hand(tmp_path):
    landing = Landing(tmp_path / "landing", fx=FX)
    # the fixtures of the two API shapes and the page (clover.jsonl has its own build in test_stripe_clover.py)
    shutil.copytree(FIXTURES, tmp_path / "in", ignore=shutil.ignore_patterns("clover.jsonl"))
    report = import_stripe_log(tmp_path / "in", landing.root)
    assert report.lines_rejected == 0
    con = build(landing)
    assert rows(con, "select reason, detail from raw.quarantine") == []
    got = {(r["account_id"], r["month"].month): r["mrr"]
           for r in rows(con, "select account_id, month, mrr from marts.account_mrr_monthly where mrr > 0")}
    months = range(1, 8)  # January to July 2025 (the last event is cus_B's cancellation on 2025-07-20)
    expected = {}
    # cus_A: 5 seats x 10.00 USD from the trial's end (Jan 19) = 50.00; 20% off from Feb 1 = 40.00; 8 seats from
    # Mar 10 = 64.00 (the cancellation for Mar 19 was withdrawn on Mar 15); the discount ends May 1 = 80.00.
    expected |= {("cus_A", m): Decimal(v) for m, v in zip(months, ["50.00", "40.00", "64.00", "64.00", "80.00",
                                                                     "80.00", "80.00"], strict=True)}
    # cus_B: 60000 JPY per 6 months (month x 6) = 10000 JPY a month x 0.0065 = 65.00 USD, Jan-Jun; canceled Jul 20.
    expected |= {("cus_B", m): Decimal("65.00") for m in range(1, 7)}
    # cus_C: 3 x 20.00 - 8.57 + 1 x 10.00 - 1.43 = 60.00 USD (the 10.00 coupon spread 857/143 cents), Jan-May;
    # cancel_at 2025-06-30 00:00: no MRR at June's end.
    expected |= {("cus_C", m): Decimal("60.00") for m in range(1, 6)}
    # cus_D: 2 x 120.500 KWD x 0.9 = 216.900 a year / 12 = 18.075 KWD x 3.25 = 58.74375 -> 58.74 USD; paused
    # through February (resumed Mar 10).
    expected |= {("cus_D", m): Decimal("58.74") for m in months if m != 2}
    # cus_E: 2 seats x 19.00 GBP (Growth, from Feb 3) = 38.00 x 1.25 = 47.50 USD from February.
    expected |= {("cus_E", m): Decimal("47.50") for m in range(2, 8)}
    assert got == expected
    # the withdrawn cancellation is no churn-risk signal; the accounts come from the Stripe customers
    accounts = {r["account_id"]: r for r in rows(con, "select * from marts.accounts")}
    assert (accounts["cus_B"]["account_name"], accounts["cus_B"]["segment"], accounts["cus_B"]["country"]) == (
        "billing@berlin.test", "unknown", "DE")
    assert accounts["cus_A"]["sales_owner"] == "ana"
    assert max(r["month"] for r in rows(con, "select month from marts.account_mrr_monthly")) == date(2025, 7, 1)
