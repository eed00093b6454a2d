"""SaaS metrics, cohorts, and MRR by segment and plan on hand-worked event logs (docs/metrics.md).

The main story runs five accounts over fifteen months (January 2024 - March 2025), so the 12-month figures
exist for its last three months. Every expected number was worked out by hand; comments show the sums.
"""

from datetime import date
from decimal import Decimal as D

import pytest

from tests.support.dbt import METRICS, qualified
from tests.support.story import (
    Landing,
    account,
    build,
    build_metrics,
    cancels,
    changes,
    payment,
    rows,
    starts,
    trial,
)
from transforms import metrics_checks
from transforms.dbt_project import model_doc


def m(year, month):
    return date(year, month, 1)


MONTHS = [m(2024, k) for k in range(1, 13)] + [m(2025, k) for k in range(1, 4)]


def subscription_story():
    """Five accounts; month-end MRR in USD (EUR at 1.10 throughout):

    month    A    B    C    D    E   | closing  customers
    2024-01  0    -    -    -    -   |    0     0   A is trialing
    2024-02  100  200  -    -    -   |  300     2   A converts, B new
    2024-03  100  200  60   -    -   |  360     3   C new
    2024-04  100  100  60   110  -   |  370     4   B contracts 200->100, D new (100 EUR)
    2024-05  150  100  60   110  30  |  450     5   A expands 100->150, E new
    2024-06  150  100  0    110  30  |  390     4   C churns (its cohort of one is gone)
    2024-07  150  0    -    110  30  |  290     3   B churns
    2024-08  150  -    -    110  30  |  290     3
    2024-09  150  -    -    110  0   |  260     2   E churns
    2024-10  150  50   -    88   -   |  288     3   B reactivates (new subscription), D contracts to 80 EUR
    2024-11 .. 2025-02 unchanged     |  288     3
    2025-03  200  50   -    88   -   |  338     3   A expands 150->200
    """
    return [
        account("A", "2024-01-03", segment="SMB", country="US"), trial("A", "2024-01-05"),
        starts("A", "2024-02-01", plan="starter", seats=10, price="10"),
        changes("A", "2024-05-10", seats=15), changes("A", "2025-03-10", seats=20),
        account("B", "2024-02-02", segment="Mid-Market", country="DE"),
        starts("B", "2024-02-05", plan="growth", seats=10, price="20"),
        changes("B", "2024-04-15", seats=5), cancels("B", "2024-07-20"),
        starts("B", "2024-10-03", sub="B-2", plan="starter", seats=5, price="10"),
        account("C", "2024-03-01", segment="SMB", country="GB"),
        starts("C", "2024-03-01", plan="scale", seats=2, price="30"), cancels("C", "2024-06-10"),
        account("D", "2024-04-01", segment="Enterprise", country="FR"),
        starts("D", "2024-04-02", plan="growth", seats=5, price="20", currency="EUR"),
        changes("D", "2024-10-08", seats=4),
        # E never sent account_created: no segment or country.
        starts("E", "2024-05-01", plan="starter", seats=3, price="10"), cancels("E", "2024-09-10"),
        # Money collected (cohort LTV). A pays during its trial, before its first paid month.
        payment("A", "2024-01-31", "100"), payment("A", "2024-05-10", "300"), payment("A", "2024-12-01", "150"),
        payment("A", "2024-12-15", "50", kind="refund_issued"), payment("A", "2025-03-15", "200"),
        payment("B", "2024-02-05", "200"), payment("B", "2024-03-05", "200"),
        payment("B", "2024-07-25", "100", kind="refund_issued"), payment("B", "2024-10-03", "50", sub="B-2"),
        payment("C", "2024-03-01", "60"), payment("C", "2024-04-01", "60", kind="payment_failed"),
        payment("C", "2024-04-05", "60"),
        payment("D", "2024-04-02", "100", currency="EUR"), payment("D", "2024-06-02", "200", currency="EUR"),
        payment("E", "2024-05-01", "30"), payment("E", "2024-06-01", "30"),
    ]


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    landing = Landing(tmp_path_factory.mktemp("metrics"))
    landing.add(*subscription_story())
    return landing


@pytest.fixture(scope="module")
def story(landing):
    return build_metrics(build(landing))


def by_month(con, table):
    return {r["month"]: r for r in rows(con, f"select * from {table} order by month")}


# --------------------------------------------------------------------------------------- saas metrics

N = None
# month: mrr, customers, arpa, logo churn, gross MRR churn, net MRR churn, nrr, grr, quick ratio
EXPECTED_MONTHLY = {
    # No customers at the end of December or January: every rate has a zero denominator.
    m(2024, 1): ("0.00", 0, N, N, N, N, N, N, N),
    # Opening 0 again (nobody paid in January); quick ratio 300 / 0 -> NULL.
    m(2024, 2): ("300.00", 2, "150.00", N, N, N, N, N, N),
    # Opening 300 (2 customers), nothing lost: churn 0, NRR = GRR = 1; quick ratio 60 / 0 -> NULL.
    m(2024, 3): ("360.00", 3, "120.00", "0", "0", "0", "1", "1", N),
    # Opening 360: B contracts 100. gross = net = 100/360; NRR = GRR = 260/360; quick = 110 new / 100.
    m(2024, 4): ("370.00", 4, "92.50", "0", "0.277778", "0.277778", "0.722222", "0.722222", "1.1"),
    # Opening 370: A expands 50, E new 30. net = -50/370; NRR = 420/370; GRR 1; quick 80 / 0 -> NULL.
    m(2024, 5): ("450.00", 5, "90.00", "0", "0", "-0.135135", "1.135135", "1", N),
    # Opening 450 (5): C churns 60. logo 1/5; churn 60/450; NRR = GRR = 390/450; quick 0 / 60 = 0.
    m(2024, 6): ("390.00", 4, "97.50", "0.2", "0.133333", "0.133333", "0.866667", "0.866667", "0"),
    # Opening 390 (4): B churns 100. logo 1/4; churn 100/390; NRR = GRR = 290/390; ARPA 290/3 = 96.666.
    m(2024, 7): ("290.00", 3, "96.67", "0.25", "0.256410", "0.256410", "0.743590", "0.743590", "0"),
    m(2024, 8): ("290.00", 3, "96.67", "0", "0", "0", "1", "1", N),
    # Opening 290 (3): E churns 30. logo 1/3; churn 30/290; NRR = GRR = 260/290.
    m(2024, 9): ("260.00", 2, "130.00", "0.333333", "0.103448", "0.103448", "0.896552", "0.896552", "0"),
    # Opening 260 (2): B reactivates +50, D contracts 22. gross 22/260; net (22 - 50)/260: reactivation
    # counts in net churn but not in NRR = (260 - 22)/260; quick (50 reactivation) / 22.
    m(2024, 10): ("288.00", 3, "96.00", "0", "0.084615", "-0.107692", "0.915385", "0.915385", "2.272727"),
    m(2024, 11): ("288.00", 3, "96.00", "0", "0", "0", "1", "1", N),
    m(2024, 12): ("288.00", 3, "96.00", "0", "0", "0", "1", "1", N),
    m(2025, 1): ("288.00", 3, "96.00", "0", "0", "0", "1", "1", N),
    m(2025, 2): ("288.00", 3, "96.00", "0", "0", "0", "1", "1", N),
    # Opening 288: A expands 50. net -50/288; NRR 338/288; ARPA 338/3 = 112.666.
    m(2025, 3): ("338.00", 3, "112.67", "0", "0", "-0.173611", "1.173611", "1", N),
}


def test_saas_metrics_every_month(story):
    metrics = by_month(story, "marts.saas_metrics_monthly")
    assert list(metrics) == MONTHS
    columns = ["mrr", "customers", "arpa", "logo_churn_rate", "gross_mrr_churn_rate", "net_mrr_churn_rate",
               "nrr", "grr", "quick_ratio"]
    for month, expected in EXPECTED_MONTHLY.items():
        row = metrics[month]
        want = tuple(v if v is None or isinstance(v, int) else D(v) for v in expected)
        assert tuple(row[c] for c in columns) == want, month
        assert row["arr"] == row["mrr"] * 12


def test_rates_with_zero_denominator_are_null_not_zero(story):
    january, february = (by_month(story, "marts.saas_metrics_monthly")[k] for k in (m(2024, 1), m(2024, 2)))
    for column in ["arpa", "logo_churn_rate", "gross_mrr_churn_rate", "net_mrr_churn_rate", "nrr", "grr",
                   "nrr_12m", "grr_12m", "quick_ratio", "ltv"]:
        assert january[column] is None, column
    assert february["logo_churn_rate"] is None and february["nrr"] is None  # opening customers 0
    assert february["arpa"] == D("150.00")


def test_twelve_month_retention(story):
    metrics = by_month(story, "marts.saas_metrics_monthly")
    # Fewer than 12 months of history before January 2025.
    assert all(metrics[k]["nrr_12m"] is None and metrics[k]["grr_12m"] is None for k in MONTHS[:12])
    # January 2025: January 2024 exists but had no customers, so the denominator is 0.
    assert metrics[m(2025, 1)]["nrr_12m"] is None and metrics[m(2025, 1)]["grr_12m"] is None
    # February 2025 vs February 2024: A 100 -> 150, B 200 -> 50 (churned and came back: it counts).
    # NRR (150 + 50) / 300; GRR (min(150, 100) + min(50, 200)) / 300 = 150 / 300.
    assert (metrics[m(2025, 2)]["nrr_12m"], metrics[m(2025, 2)]["grr_12m"]) == (D("0.666667"), D("0.5"))
    # March 2025 vs March 2024: A 100 -> 200, B 200 -> 50, C 60 -> 0. NRR 250 / 360; GRR (100 + 50 + 0) / 360.
    assert (metrics[m(2025, 3)]["nrr_12m"], metrics[m(2025, 3)]["grr_12m"]) == (D("0.694444"), D("0.416667"))


# Logo churn by month: Jan, Feb NULL; Mar-May 0; Jun 1/5; Jul 1/4; Aug 0; Sep 1/3; Oct 2024-Mar 2025 0.
EXPECTED_LTV = {
    # Sep: months Mar-Aug all have a rate: (0 + 0 + 0 + 0.2 + 0.25 + 0) / 6 = 0.075; ARPA 130 / 0.075.
    m(2024, 9): ("0.075", "1733.33"),
    # Oct: Apr-Sep (0.2 + 0.25 + 1/3) / 6 = 47/360; ARPA 96 x 360/47 = 735.319...
    m(2024, 10): ("0.130556", "735.32"),
    m(2024, 11): ("0.130556", "735.32"),  # May-Oct: the same three churns
    m(2024, 12): ("0.130556", "735.32"),  # Jun-Nov
    # Jan 2025: Jul-Dec (0.25 + 1/3) / 6 = 7/72; 96 x 72/7 = 987.428...
    m(2025, 1): ("0.097222", "987.43"),
    # Feb: Aug-Jan (1/3) / 6 = 1/18; 96 x 18.
    m(2025, 2): ("0.055556", "1728.00"),
    # Mar: Sep-Feb 1/18; unrounded ARPA 338/3 x 18 = 2028 (the rounded 112.67 would give 2028.06).
    m(2025, 3): ("0.055556", "2028.00"),
}


def test_ltv_uses_the_six_months_before(story):
    metrics = by_month(story, "marts.saas_metrics_monthly")
    # Until August the 6 months before include January or February, whose rate is NULL: no LTV.
    for month in MONTHS[:8]:
        assert metrics[month]["ltv"] is None and metrics[month]["trailing_logo_churn_rate_6m"] is None, month
    for month, (churn, ltv) in EXPECTED_LTV.items():
        assert (metrics[month]["trailing_logo_churn_rate_6m"], metrics[month]["ltv"]) == (D(churn), D(ltv)), month
    assert {r["gross_margin"] for r in metrics.values()} == {D("1")}


def test_ltv_with_a_gross_margin(landing):
    con = build_metrics(build(landing), gross_margin="0.8")
    metrics = by_month(con, "marts.saas_metrics_monthly")
    assert metrics[m(2025, 2)]["ltv"] == D("1382.40")  # 96 x 0.8 x 18
    assert metrics[m(2024, 9)]["ltv"] == D("1386.67")  # 130 x 0.8 / 0.075 = 1386.666...
    assert metrics[m(2025, 2)]["gross_margin"] == D("0.8")


def test_ltv_is_null_when_nobody_churned_for_six_months(tmp_path):
    landing = Landing(tmp_path)
    landing.add(account("Z", "2025-01-02"), starts("Z", "2025-01-05", seats=1, price="10"),
                payment("Z", "2025-09-05", "10"))
    metrics = by_month(build_metrics(build(landing)), "marts.saas_metrics_monthly")
    # Feb-Jul all have rate 0: the mean is 0, so LTV would be infinite.
    assert metrics[m(2025, 8)]["trailing_logo_churn_rate_6m"] == D("0")
    assert metrics[m(2025, 8)]["ltv"] is None and metrics[m(2025, 9)]["ltv"] is None


# ------------------------------------------------------------------------------------------- cohorts


def test_cohort_retention_triangle(story):
    retention = rows(story, "select * from marts.cohort_retention order by cohort_month, months_since_start")
    # Four cohorts, each up to March 2025: Feb 2024 k=0..13, Mar 0..12, Apr 0..11, May 0..10.
    assert len(retention) == 14 + 13 + 12 + 11
    table = {(r["cohort_month"], r["months_since_start"]): r for r in retention}
    sizes = {r["cohort_month"]: (r["cohort_customers"], r["cohort_starting_mrr"]) for r in retention}
    assert sizes == {m(2024, 2): (2, D("300.00")), m(2024, 3): (1, D("60.00")), m(2024, 4): (1, D("110.00")),
                     m(2024, 5): (1, D("30.00"))}

    def row(cohort, k):
        r = table[(cohort, k)]
        assert r["month"] == date(cohort.year + (cohort.month - 1 + k) // 12, (cohort.month - 1 + k) % 12 + 1, 1)
        return (r["active_customers"], str(r["logo_retention"]), str(r["mrr"]), str(r["revenue_retention"]))

    # Cohort Feb 2024 {A, B}, starting MRR 300.
    feb = m(2024, 2)
    assert row(feb, 0) == (2, "1.000000", "300.00", "1.000000")
    assert row(feb, 2) == (2, "1.000000", "200.00", "0.666667")  # B contracted: 100 + 100
    assert row(feb, 3) == (2, "1.000000", "250.00", "0.833333")  # A expanded: 150 + 100
    assert row(feb, 5) == (1, "0.500000", "150.00", "0.500000")  # B churned in July
    assert row(feb, 8) == (2, "1.000000", "200.00", "0.666667")  # B is back in October with 50
    assert row(feb, 13) == (2, "1.000000", "250.00", "0.833333")  # A 200 + B 50
    # Cohort Mar 2024 {C} fully churns in June (k = 3) and keeps its rows, at zero, to the end.
    mar = m(2024, 3)
    assert [row(mar, k) for k in range(3)] == [(1, "1.000000", "60.00", "1.000000")] * 3
    assert [row(mar, k) for k in range(3, 13)] == [(0, "0.000000", "0.00", "0.000000")] * 10
    # Cohort Apr 2024 {D}: 110 until D contracts to 88 in October (k = 6).
    assert row(m(2024, 4), 5) == (1, "1.000000", "110.00", "1.000000")
    assert row(m(2024, 4), 6) == (1, "1.000000", "88.00", "0.800000")
    # Cohort May 2024 {E}: gone from September (k = 4).
    assert row(m(2024, 5), 3) == (1, "1.000000", "30.00", "1.000000")
    assert row(m(2024, 5), 4) == (0, "0.000000", "0.00", "0.000000")


def test_cohort_ltv_collected_money(story):
    ltv = {(r["cohort_month"], r["months_since_start"]): r
           for r in rows(story, "select * from marts.cohort_ltv")}
    assert len(ltv) == 50  # the same triangle as retention

    def curve(cohort, ks):
        return [str(ltv[(cohort, k)]["cumulative_revenue_per_customer"]) for k in ks]

    # Cohort Feb 2024 {A, B}: k0 A's 100 paid in January (before its first paid month) + B 200 = 300 -> 150;
    # k1 B 200 -> 500; k3 A 300 -> 800; k5 B's refund -100 -> 700; k8 B 50 -> 750; k10 A 150 - 50 -> 850;
    # k13 A 200 -> 1050. Divided by 2 customers.
    assert curve(m(2024, 2), range(14)) == [
        "150.00", "250.00", "250.00", "400.00", "400.00", "350.00", "350.00", "350.00", "375.00", "375.00",
        "425.00", "425.00", "425.00", "525.00"]
    assert ltv[(m(2024, 2), 5)]["collected_usd"] == D("-100.00")
    assert ltv[(m(2024, 2), 13)]["cumulative_collected_usd"] == D("1050.00")
    # Cohort Mar 2024 {C}: 60 in March, 60 in April (the failed payment is not money); flat after churning.
    assert curve(m(2024, 3), range(13)) == ["60.00"] + ["120.00"] * 12
    # Cohort Apr 2024 {D}: 100 EUR in April and 200 EUR in June at 1.10.
    assert curve(m(2024, 4), range(12)) == ["110.00", "110.00"] + ["330.00"] * 10
    # Cohort May 2024 {E}: 30 + 30.
    assert curve(m(2024, 5), range(11)) == ["30.00"] + ["60.00"] * 10


# ----------------------------------------------------------------------------- MRR by segment and plan

WATERFALL = ["opening_mrr", "new_mrr", "expansion_mrr", "reactivation_mrr", "contraction_mrr", "churned_mrr",
             "fx_adjustment", "closing_mrr", "opening_customers", "new_customers", "reactivated_customers",
             "churned_customers", "closing_customers"]


def segment_rows(con, dimension, month):
    return {r["dimension_value"]: tuple(str(r[c]) for c in WATERFALL) for r in rows(
        con, f"select * from marts.mrr_waterfall_by_segment where dimension = '{dimension}' and month = '{month}'")}


def test_waterfall_by_segment_answers_where_churn_came_from(story):
    # April 2024: the contraction is Mid-Market (B 200 -> 100); the new MRR Enterprise (D).
    assert segment_rows(story, "segment", m(2024, 4)) == {
        "SMB": ("160.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "160.00", "2", "0", "0", "0", "2"),
        "Mid-Market": ("200.00", "0.00", "0.00", "0.00", "100.00", "0.00", "0.00", "100.00", "1", "0", "0", "0", "1"),
        "Enterprise": ("0.00", "110.00", "0.00", "0.00", "0.00", "0.00", "0.00", "110.00", "0", "1", "0", "0", "1"),
        # E has no account_created event; it has a row of zeros before its first month.
        "(unknown)": ("0.00",) * 8 + ("0",) * 5,
    }
    # June: C's churn is SMB (and GB); September: E's churn has no known segment.
    june = segment_rows(story, "segment", m(2024, 6))
    assert june["SMB"][WATERFALL.index("churned_mrr")] == "60.00"
    assert segment_rows(story, "country", m(2024, 6))["GB"][WATERFALL.index("churned_mrr")] == "60.00"
    assert segment_rows(story, "segment", m(2024, 9))["(unknown)"][WATERFALL.index("churned_mrr")] == "30.00"
    # October by currency: B's reactivation is USD, D's contraction EUR.
    october = segment_rows(story, "currency", m(2024, 10))
    assert october["USD"] == ("150.00", "0.00", "0.00", "50.00", "0.00", "0.00", "0.00", "200.00", "1", "0", "1", "0", "2")
    assert october["EUR"] == ("110.00", "0.00", "0.00", "0.00", "22.00", "0.00", "0.00", "88.00", "1", "0", "0", "0", "1")
    values = dict(story.sql("select dimension, list(distinct dimension_value order by dimension_value) "
                            "from marts.mrr_waterfall_by_segment group by all").fetchall())
    assert values == {"segment": ["(unknown)", "Enterprise", "Mid-Market", "SMB"],
                      "country": ["(unknown)", "DE", "FR", "GB", "US"], "currency": ["EUR", "USD"]}
    # Every value has every month: 15 months x (4 + 5 + 2) values.
    assert story.sql("select count(*) from marts.mrr_waterfall_by_segment").fetchall() == [(15 * 11,)]


def test_mrr_by_plan(story):
    plans = {(r["month"], r["plan_id"]): (str(r["mrr"]), r["customers"], r["subscriptions"])
             for r in rows(story, "select * from marts.mrr_by_plan")}
    assert len(plans) == 15 * 4  # every plan of plans.csv every month, zeros included
    assert plans[(m(2024, 4), "starter")] == ("100.00", 1, 1)  # A
    assert plans[(m(2024, 4), "growth")] == ("210.00", 2, 2)  # B 100 + D 110
    assert plans[(m(2024, 4), "scale")] == ("60.00", 1, 1)  # C
    assert plans[(m(2024, 4), "enterprise")] == ("0.00", 0, 0)
    assert plans[(m(2024, 10), "starter")] == ("200.00", 2, 2)  # A 150 + B's new subscription 50
    assert plans[(m(2024, 10), "growth")] == ("88.00", 1, 1)  # D
    assert plans[(m(2024, 10), "scale")] == ("0.00", 0, 0)


# ------------------------------------------------------------------------ FX, rounding, two plans


def fx_story():
    """EUR at 1.10 in January 2025, 1.20 in February, 1.25 in March.

    P (Enterprise, FR, EUR): growth 2 x 50 EUR = 100 EUR from January -> 110.00, 120.00, 125.00; plus a
      starter subscription of 10 EUR from February -> 12.00, 12.50. Account MRR: 110.00, 132.00, 137.50.
      February: re-valuing January's 100 EUR at 1.20 gives FX +10.00; the new 10 EUR is expansion +12.00.
      March: FX 110 EUR x (1.25 - 1.20) = +5.50.
    Q (SMB, US, USD): starter 1 x 10.01 = 10.01 every month.
    R (SMB, DE, EUR): scale 1 x 30 EUR from February -> 36.00, 37.50 (FX +1.50 in March).
    """
    return [
        account("P", "2025-01-02", segment="Enterprise", country="FR"),
        starts("P", "2025-01-05", plan="growth", seats=2, price="50", currency="EUR"),
        starts("P", "2025-02-01", sub="P-2", plan="starter", seats=1, price="10", currency="EUR"),
        account("Q", "2025-01-02", segment="SMB", country="US"),
        starts("Q", "2025-01-03", plan="starter", seats=1, price="10.01"),
        account("R", "2025-01-02", segment="SMB", country="DE"),
        starts("R", "2025-02-10", plan="scale", seats=1, price="30", currency="EUR"),
        # P paid 100 EUR in December 2024, before the calendar starts: converted at January's 1.10.
        payment("P", "2024-12-20", "100", currency="EUR"), payment("Q", "2025-01-03", "10.01"),
        payment("P", "2025-02-05", "110", currency="EUR"), payment("R", "2025-02-10", "30", currency="EUR"),
        payment("P", "2025-03-02", "10", kind="refund_issued", currency="EUR"),
    ]


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    landing = Landing(tmp_path_factory.mktemp("fx"), fx=[("2025-01", "EUR", "1.10"), ("2025-02", "EUR", "1.20"),
                                                          ("2025-03", "EUR", "1.25")])
    landing.add(*fx_story())
    return build_metrics(build(landing))


def test_collected_revenue_at_the_collection_months_rate(fx):
    collected = {(r["account_id"], r["month"]): (r["rate_month"], str(r["collected_usd"]))
                 for r in rows(fx, "select * from intermediate.collected_revenue_monthly")}
    assert collected == {
        ("P", m(2024, 12)): (m(2025, 1), "110.00"),  # outside the calendar: nearest month's rate
        ("Q", m(2025, 1)): (m(2025, 1), "10.01"),
        ("P", m(2025, 2)): (m(2025, 2), "132.00"),  # 110 EUR x 1.20
        ("R", m(2025, 2)): (m(2025, 2), "36.00"),
        ("P", m(2025, 3)): (m(2025, 3), "-12.50"),  # refund 10 EUR x 1.25
    }


def test_cohort_ltv_rounds_half_up_per_customer(fx):
    ltv = {(r["cohort_month"], r["months_since_start"]): str(r["cumulative_revenue_per_customer"])
           for r in rows(fx, "select * from marts.cohort_ltv")}
    # Cohort January {P, Q}: (110.00 + 10.01) / 2 = 60.005 -> 60.01; + 132.00 = 252.01 / 2 = 126.005 -> 126.01;
    # - 12.50 = 239.51 / 2 = 119.755 -> 119.76. Cohort February {R}: 36.00.
    assert ltv == {(m(2025, 1), 0): "60.01", (m(2025, 1), 1): "126.01", (m(2025, 1), 2): "119.76",
                   (m(2025, 2), 0): "36.00", (m(2025, 2), 1): "36.00"}


def test_arpa_rounds_half_up(fx):
    arpa = {k: str(v["arpa"]) for k, v in by_month(fx, "marts.saas_metrics_monthly").items()}
    # 120.01 / 2 = 60.005 -> 60.01 (a DOUBLE division would give 60.00); 178.01 / 3; 185.01 / 3.
    assert arpa == {m(2025, 1): "60.01", m(2025, 2): "59.34", m(2025, 3): "61.67"}


def test_waterfall_by_segment_with_fx(fx):
    # Feb: Enterprise P: opening 110, expansion 12, FX 10 -> 132; SMB: Q 10.01 + R new 36.
    assert segment_rows(fx, "segment", m(2025, 2)) == {
        "Enterprise": ("110.00", "0.00", "12.00", "0.00", "0.00", "0.00", "10.00", "132.00", "1", "0", "0", "0", "1"),
        "SMB": ("10.01", "36.00", "0.00", "0.00", "0.00", "0.00", "0.00", "46.01", "1", "1", "0", "0", "2"),
    }
    # Mar by currency: EUR re-valued 5.50 (P) + 1.50 (R); USD unchanged.
    assert segment_rows(fx, "currency", m(2025, 3)) == {
        "EUR": ("168.00", "0.00", "0.00", "0.00", "0.00", "0.00", "7.00", "175.00", "2", "0", "0", "0", "2"),
        "USD": ("10.01", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "10.01", "1", "0", "0", "0", "1"),
    }
    assert metrics_checks.segment_waterfall_breaks(fx) == []


def test_mrr_by_plan_counts_each_subscription_under_its_own_plan(fx):
    plans = {(r["month"], r["plan_id"]): (str(r["mrr"]), r["customers"], r["subscriptions"])
             for r in rows(fx, "select * from marts.mrr_by_plan where month >= '2025-02-01'")}
    # P's account plan is growth, but its starter subscription counts under starter: P is a customer of both.
    assert plans[(m(2025, 2), "growth")] == ("120.00", 1, 1)
    assert plans[(m(2025, 2), "starter")] == ("22.01", 2, 2)  # P-2 12.00 + Q 10.01
    assert plans[(m(2025, 2), "scale")] == ("36.00", 1, 1)
    assert plans[(m(2025, 3), "starter")] == ("22.51", 2, 2)  # 12.50 + 10.01
    assert metrics_checks.plan_mrr_breaks(fx) == []


def test_an_account_with_two_subscriptions_on_a_plan_is_one_customer_of_it(tmp_path):
    # Y pays for starter twice (5 + 3 seats x $10) from March; Z once (2 x $10); Y's second one ends in April.
    landing = Landing(tmp_path)
    landing.add(
        account("Y", "2025-03-01"), account("Z", "2025-03-01"),
        starts("Y", "2025-03-02", sub="Y-1", plan="starter", seats=5, price="10"),
        starts("Y", "2025-03-03", sub="Y-2", plan="starter", seats=3, price="10"),
        starts("Z", "2025-03-04", sub="Z-1", plan="starter", seats=2, price="10"),
        cancels("Y", "2025-04-10", sub="Y-2"),
    )
    con = build_metrics(build(landing))
    starter = {r["month"]: (str(r["mrr"]), r["customers"], r["subscriptions"])
               for r in rows(con, "select * from marts.mrr_by_plan where plan_id = 'starter'")}
    assert starter == {m(2025, 3): ("100.00", 2, 3), m(2025, 4): ("70.00", 2, 2)}


def test_mrr_by_plan_lists_only_the_plans_paid_for_in_a_reported_month(tmp_path):
    # X's legacy plan (not in plans.csv) only paid in January, which the calendar does not reach: the
    # start was sent in March, backdated, and changed to starter from February.
    landing = Landing(tmp_path)
    landing.add(
        account("X", "2025-03-01"),
        starts("X", "2025-03-10", plan="legacy", price="10", effective="2025-01-15"),
        changes("X", "2025-03-10", plan="starter", effective="2025-02-10"),
    )
    con = build_metrics(build(landing))
    plans = {r["plan_id"]: (str(r["mrr"]), r["customers"])
             for r in rows(con, "select * from marts.mrr_by_plan where month = '2025-03-01'")}
    assert plans == {"starter": ("10.00", 1), "growth": ("0.00", 0), "scale": ("0.00", 0),
                     "enterprise": ("0.00", 0)}


# --------------------------------------------------------------------- checks, catalog, descriptions

ALL_CHECKS = [
    metrics_checks.saas_metric_bound_breaks, metrics_checks.cohort_retention_bound_breaks,
    metrics_checks.nrr_below_grr_12m, metrics_checks.metrics_mrr_mismatches, metrics_checks.cohort_size_breaks,
    metrics_checks.cohort_triangle_breaks, metrics_checks.segment_waterfall_breaks, metrics_checks.plan_mrr_breaks,
]


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_checks_hold_on_the_story(story, fx, check):
    assert check(story) == []
    assert check(fx) == []


@pytest.mark.parametrize("tamper, check", [
    ("update marts.saas_metrics_monthly set logo_churn_rate = 1.5 where month = '2024-06-01'",
     metrics_checks.saas_metric_bound_breaks),
    ("update marts.saas_metrics_monthly set grr_12m = 0.9 where month = '2025-02-01'",
     metrics_checks.nrr_below_grr_12m),
    ("update marts.saas_metrics_monthly set mrr = mrr + 0.01 where month = '2024-06-01'",
     metrics_checks.metrics_mrr_mismatches),
    ("update marts.cohort_retention set cohort_customers = 3 where cohort_month = '2024-02-01' "
     "and months_since_start = 4", metrics_checks.cohort_size_breaks),
    ("update marts.cohort_retention set active_customers = 2 where cohort_month = '2024-03-01' "
     "and months_since_start = 5", metrics_checks.cohort_size_breaks),
    ("delete from marts.cohort_retention where cohort_month = '2024-03-01' and months_since_start = 12",
     metrics_checks.cohort_triangle_breaks),
    ("update marts.cohort_retention set logo_retention = 0.5 where months_since_start = 0",
     metrics_checks.cohort_retention_bound_breaks),
    ("update marts.mrr_waterfall_by_segment set churned_mrr = 0 where month = '2024-06-01' "
     "and dimension = 'segment' and dimension_value = 'SMB'", metrics_checks.segment_waterfall_breaks),
    ("update marts.mrr_by_plan set mrr = mrr + 1 where month = '2024-06-01' and plan_id = 'starter'",
     metrics_checks.plan_mrr_breaks),
])
def test_checks_catch_broken_tables(story, tamper, check):
    story.execute("begin transaction")
    try:
        story.execute(tamper)
        assert check(story) != []
    finally:
        story.execute("rollback")
    assert check(story) == []


def test_every_metrics_table_and_column_is_described_in_the_catalog(story):
    for name in qualified(METRICS):
        model = model_doc(name)
        comment = story.sql(f"select comment from duckdb_tables() where schema_name = '{model.schema}' "
                            f"and table_name = '{model.table}'").fetchall()[0][0]
        assert comment and comment == model.description
        columns = dict(story.sql(f"select column_name, comment from duckdb_columns() where schema_name = "
                                 f"'{model.schema}' and table_name = '{model.table}'").fetchall())
        undescribed = [c for c, text in columns.items() if not text]
        if model.schema == "marts":
            assert undescribed == [], name
        assert {c: columns[c] for c in model.columns} == model.columns


def test_public_columns_of_spec_section_6(story):
    spec = {
        "marts.saas_metrics_monthly": "month, mrr, arr, customers, arpa, logo_churn_rate, gross_mrr_churn_rate, "
                                      "net_mrr_churn_rate, nrr, grr, nrr_12m, grr_12m, quick_ratio, ltv",
        "marts.cohort_retention": "cohort_month, months_since_start, cohort_customers, active_customers, "
                                  "logo_retention, cohort_starting_mrr, mrr, revenue_retention",
        "marts.cohort_ltv": "cohort_month, months_since_start, cumulative_revenue_per_customer",
        "marts.mrr_waterfall_by_segment": "month, dimension, dimension_value, " + ", ".join(WATERFALL),
        "marts.mrr_by_plan": "month, plan_id, mrr, customers",
    }
    for table, columns in spec.items():
        actual = [r[0] for r in story.sql(f"describe {table}").fetchall()]
        assert set(columns.split(", ")) <= set(actual), table
    types = dict(story.sql("select column_name, data_type from duckdb_columns() where schema_name = 'marts' "
                           "and table_name = 'saas_metrics_monthly'").fetchall())
    assert types["mrr"] == types["arpa"] == types["ltv"] == "DECIMAL(18,2)"
    assert types["nrr"] == types["logo_churn_rate"] == types["quick_ratio"] == "DECIMAL(18,6)"
    assert types["month"] == "DATE"
