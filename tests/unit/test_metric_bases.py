"""The base a rate stands on, shown next to it where it is small (transforms/metric_bases.py, docs/metrics.md)."""

from datetime import date
from decimal import Decimal as D

import pytest

from tests.support.story import Landing, build, build_metrics, rows
from tests.unit.test_metrics import subscription_story
from transforms import report
from transforms.metric_bases import Base, metric_bases

MAR_2025 = date(2025, 3, 1)


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    landing = Landing(tmp_path_factory.mktemp("bases"))
    landing.add(*subscription_story())
    return build_metrics(build(landing))


def test_bases_of_march_2025(story):
    bases = metric_bases(story, MAR_2025)
    # Opening = February 2025: A 150 + B 50 + D 88 (80 EUR x 1.10) = 288 from 3 accounts; A's 150 is 52.08%.
    assert bases["nrr"] == Base(3, D("288.00"), D("150.00"))
    assert bases["nrr"].text == "on $288.00 from 3 accounts, the largest 52%"
    assert bases["logo_churn_rate"].text == "of 3 customers"
    # NRR 12m: the accounts of March 2024, A 100 + B 200 + C 60 = 360; B's 200 is 55.6%.
    assert bases["nrr_12m"].text == "on $360.00 from 3 accounts, the largest 56%"
    # Nothing lost in March (A expands): no account under the quick ratio, which is NULL.
    assert bases["quick_ratio"] == Base(0, D("0"), None, kind="lost")
    # LTV divides by the churn of September 2024 - February 2025: E's churn in September only.
    assert bases["ltv"].text == "from 1 churned customer in 6 months"
    assert all(base.small for base in bases.values())


def test_cards_name_small_bases_and_ltv_gross_margin(story):
    latest, previous = rows(story, "select * from marts.saas_metrics_monthly order by month desc limit 2")
    cards = {c["key"]: c for c in report.headline_kpis(latest, previous, metric_bases(story, MAR_2025))}
    assert cards["nrr_12m"]["text"] == "69.4%"  # (200 + 50 + 0) / 360
    assert cards["nrr_12m"]["note"] == "on $360.00 from 3 accounts, the largest 56%"
    assert cards["nrr"]["note"] == "on $288.00 from 3 accounts, the largest 52%"
    assert cards["quick_ratio"]["note"] is None  # NULL: no base to state
    assert cards["mrr"]["note"] is None
    assert cards["ltv"]["note"] == "at 100% gross margin; from 1 churned customer in 6 months"
    html = report._kpi_cards(list(cards.values()))
    assert '<div class="kpi-note">on $360.00 from 3 accounts, the largest 56%</div>' in html


def test_the_thresholds():
    # 30 accounts with no account above a quarter: not small; 29: small.
    assert not Base(30, D("3000"), D("100")).small
    assert Base(29, D("2900"), D("100")).small
    # one account at exactly a quarter of the MRR: small, however many accounts; just below: not.
    assert Base(1000, D("400000"), D("100000")).small
    assert not Base(1000, D("400000"), D("99999.99")).small
    assert Base(1000, D("400000"), D("100000")).text == "on $400,000 from 1,000 accounts, the largest 25%"
    # counts alone (logo churn, LTV's churn events) only by the number
    assert not Base(30, kind="customers").small and Base(29, kind="customers").small
    assert Base(1, kind="customers").text == "of 1 customer"
    assert Base(2, D("980.5"), D("500"), kind="lost").text == "on $980.50 lost by 2 accounts, the largest 51%"

