"""SaaS metrics on generated data: cross-checks against the MRR marts and an independent recomputation in
Python, every metrics check holds, and the metrics assets materialize in Dagster with their column
descriptions (the same text BI tools read from the DuckDB catalog)."""

from collections import defaultdict
from datetime import date
from decimal import Decimal

import dagster as dg
import pytest

from orchestration.definitions import build_definitions
from orchestration.settings import Settings
from tests.support.dbt import METRICS, dbt_materialization, qualified
from tests.support.story import Landing, build, build_metrics, rows
from tests.unit.test_metrics import subscription_story
from transforms import metrics_checks
from transforms.dbt_project import model_doc
from transforms.sql_models import connect

CHECKS = [
    metrics_checks.saas_metric_bound_breaks, metrics_checks.cohort_retention_bound_breaks,
    metrics_checks.nrr_below_grr_12m, metrics_checks.metrics_mrr_mismatches, metrics_checks.cohort_size_breaks,
    metrics_checks.cohort_triangle_breaks, metrics_checks.segment_waterfall_breaks, metrics_checks.plan_mrr_breaks,
]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    generator = pytest.importorskip("sample_data.generator")  # only these tests need it
    landing = tmp_path_factory.mktemp("generated")
    generator.generate(landing, accounts=120, months=14, seed=5, progress=False)
    return build_metrics(build(landing))


def months_back(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 - n
    return date(index // 12, index % 12 + 1, 1)


@pytest.fixture(scope="module")
def account_mrr(generated):
    """month -> {account: MRR}, every calendar month present."""
    by_month = {r[0]: {} for r in generated.sql("select month from staging.calendar").fetchall()}
    for account_id, month, mrr in generated.sql("select account_id, month, mrr from marts.account_mrr_monthly").fetchall():
        by_month[month][account_id] = mrr
    return by_month


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_metrics_checks_hold(generated, check):
    assert check(generated) == []


def test_cohorts_add_up_to_each_months_customers(generated):
    assert generated.sql("""
        with cohorts as (select month, sum(active_customers) as active from marts.cohort_retention group by month)
        select count(*) from marts.saas_metrics_monthly as metrics left join cohorts using (month)
        where coalesce(cohorts.active, 0) <> metrics.customers
    """).fetchall() == [(0,)]


def test_every_cohort_starts_fully_retained(generated):
    starts = generated.sql("select cohort_month, logo_retention, revenue_retention from marts.cohort_retention "
                           "where months_since_start = 0").fetchall()
    cohorts = generated.sql("select count(distinct first_paid_month) from marts.accounts").fetchall()[0][0]
    assert len(starts) == cohorts >= 12
    assert {(r[1], r[2]) for r in starts} == {(Decimal("1"), Decimal("1"))}


def test_rates_match_a_recomputation_from_account_mrr(generated, account_mrr):
    metrics = {r["month"]: r for r in rows(generated, "select * from marts.saas_metrics_monthly")}
    months = sorted(account_mrr)
    logo_churn: dict[date, float | None] = {}
    for previous, month in zip(months, months[1:], strict=False):
        opening, closing = account_mrr[previous], account_mrr[month]
        churned = len(set(opening) - set(closing))
        logo_churn[month] = churned / len(opening) if opening else None
        assert metrics[month]["customers"] == len(closing)
        expected = logo_churn[month]
        actual = metrics[month]["logo_churn_rate"]
        assert (actual is None) == (expected is None) and (actual is None or abs(float(actual) - expected) < 1e-6)
    twelve_month_months = 0
    for month in months:
        year_ago = account_mrr.get(months_back(month, 12), {})
        base = sum(year_ago.values())
        if not base:
            assert metrics[month]["nrr_12m"] is None and metrics[month]["grr_12m"] is None
            continue
        twelve_month_months += 1
        now = account_mrr[month]
        nrr = sum(now.get(a, 0) for a in year_ago) / base
        grr = sum(min(now.get(a, 0), mrr) for a, mrr in year_ago.items()) / base
        assert abs(float(metrics[month]["nrr_12m"]) - float(nrr)) < 1e-6
        assert abs(float(metrics[month]["grr_12m"]) - float(grr)) < 1e-6
    assert twelve_month_months >= 1  # 14 months of data: the 12-month figures exist at the end
    # LTV: ARPA / mean of the 6 monthly logo churn rates before the month.
    ltv_months = 0
    for i, month in enumerate(months):
        previous_six = [logo_churn.get(m) for m in months[max(0, i - 6):i]]
        if len(previous_six) < 6 or None in previous_six or not sum(previous_six) or not account_mrr[month]:
            assert metrics[month]["ltv"] is None
            continue
        ltv_months += 1
        arpa = float(sum(account_mrr[month].values())) / len(account_mrr[month])
        assert abs(float(metrics[month]["ltv"]) - arpa / (sum(previous_six) / 6)) <= 0.01
    assert ltv_months >= 1


def test_cohort_ltv_collects_every_payment_of_cohort_accounts(generated):
    """The last k of every cohort holds all the money its accounts collected: recomputed from raw events."""
    (first_month, latest_month), = generated.sql("select min(month), max(month) from staging.calendar").fetchall()
    rates = {(m, c): r for m, c, r in generated.sql(
        "select month, currency, usd_per_unit from staging.fx_rates_monthly").fetchall()}
    cohort_of = dict(generated.sql(
        "select account_id, first_paid_month from marts.accounts where first_paid_month is not null").fetchall())
    collected: dict[date, Decimal] = defaultdict(Decimal)
    account_months = defaultdict(set)
    for account_id, event_type, occurred_at, amount, currency in generated.sql(
            "select account_id, event_type, occurred_at, amount, currency from raw.billing_events "
            "where event_type in ('payment_succeeded', 'refund_issued')").fetchall():
        if account_id not in cohort_of:
            continue
        month = min(max(occurred_at.date().replace(day=1), first_month), latest_month)
        sign = 1 if event_type == "payment_succeeded" else -1
        collected[cohort_of[account_id]] += sign * amount * rates[(month, currency)]
        account_months[cohort_of[account_id]].add((account_id, month))
    final = {r[0]: r[1] for r in generated.sql(
        "select cohort_month, cumulative_collected_usd from marts.cohort_ltv "
        f"where month = '{latest_month}'").fetchall()}
    assert set(final) == set(cohort_of.values())
    for cohort, total in final.items():
        # Rounded to the cent once per account and month (payments and refunds apart).
        assert abs(total - collected[cohort]) <= Decimal("0.01") * len(account_months[cohort]), cohort


METRICS_CHECK_NAMES = {
    "saas_metrics_rates_within_bounds", "nrr_12m_at_least_grr_12m", "saas_metrics_mrr_matches_waterfall",
    "cohort_size_never_grows", "cohort_retention_within_bounds", "cohorts_complete_and_add_up",
    "mrr_waterfall_by_segment_reconciles", "mrr_by_plan_adds_up",
}


def test_metrics_assets_materialize_with_described_columns(tmp_path):
    landing = Landing(tmp_path / "landing")
    landing.add(*subscription_story())
    settings = Settings(landing_dir=tmp_path / "landing", warehouse_path=tmp_path / "warehouse.duckdb",
                        serving_path=tmp_path / "serving.duckdb", exports_dir=tmp_path / "exports",
                        reports_dir=tmp_path / "reports")
    build(landing.root, settings.warehouse_path).close()  # upstream tables, without Dagster: only metrics run
    defs = build_definitions(settings)
    metrics_keys = dg.AssetSelection.groups("metrics").resolve(defs.resolve_asset_graph())
    assert {k.to_user_string() for k in metrics_keys} == {name.replace(".", "/") for name in qualified(METRICS)}
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), asset_selection=list(metrics_keys))
    assert result.success
    checks = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
              for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert checks == dict.fromkeys(METRICS_CHECK_NAMES, True)
    specs = {s.key: s for s in defs.resolve_all_asset_specs()}
    con = connect(settings.warehouse_path, read_only=True)
    for name in qualified(METRICS):
        model = model_doc(name)
        key = dg.AssetKey(model.qualified_name.split("."))
        assert specs[key].group_name == "metrics" and specs[key].description == model.description
        declared = {c.name: c.description for c in specs[key].metadata["dagster/column_schema"].columns}
        catalog = dict(con.sql(f"select column_name, comment from duckdb_columns() where schema_name = "
                               f"'{model.schema}' and table_name = '{model.table}'").fetchall())
        assert declared == {c: catalog[c] for c in declared}, name
        materialized = dbt_materialization(result, ".".join(key.path))
        shown = {c.name: c.description for c in materialized.metadata["dagster/column_schema"].schema.columns}
        assert shown == catalog, name
    headline = dbt_materialization(result, "marts.saas_metrics_monthly").metadata
    assert headline["latest_month"].value == "2025-03-01" and headline["latest_mrr"].value == 338.0
    assert headline["latest_nrr_12m"].value == pytest.approx(0.694444)
    # a small base is stated beside the rate (March 2024's A 100, B 200, C 60); LTV's margin is shown
    assert headline["latest_nrr_12m_base"].value == "on $360.00 from 3 accounts, the largest 56%"
    assert headline["latest_gross_margin"].value == 1.0
    assert "latest_quick_ratio_base" not in headline  # the quick ratio is NULL in March 2025
    # a keyed_incremental model says what its build did (here its first: in full)
    said = dbt_materialization(result, "intermediate.collected_revenue_monthly").metadata["build"].value
    assert said.startswith("rebuilt in full (first build): ")
    assert "build" not in dbt_materialization(result, "marts.saas_metrics_monthly").metadata
    con.close()
