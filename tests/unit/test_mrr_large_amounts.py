"""Large contracts must not overflow DECIMAL arithmetic in the MRR models (found by benchmarks/)."""

from datetime import date
from decimal import Decimal as D

from tests.support.story import Landing, account, build, starts


def test_thousand_seat_yearly_subscription_with_discount(tmp_path):
    landing = Landing(tmp_path)
    # 1,000 seats x 1,320.00/year x (100 - 15)% = 1,122,000.00/year -> 93,500.00/month.
    # unit_price x seats x (100 - discount) = 112,200,000 needs 19 digits at DECIMAL(18, 10).
    landing.add(account("E", "2025-01-02", segment="Enterprise"),
                starts("E", "2025-01-05", plan="enterprise", seats=1000, price="1320.00", interval="year",
                       discount=15))
    con = build(landing)
    assert con.sql("select month, mrr from marts.account_mrr_monthly where account_id = 'E'").fetchall() == [
        (date(2025, 1, 1), D("93500.00"))
    ]
