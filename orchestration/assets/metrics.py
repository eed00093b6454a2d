"""SaaS metrics (docs/metrics.md): churn, NRR/GRR, ARPA, quick ratio, LTV, cohorts, MRR by segment and by plan.

Every table is a dbt model under sql/models/ (docs/metrics.md explains each number), built by
orchestration/assets/dbt_models.py; the checks below hold them to the invariants their definitions imply.
"""


import dagster as dg

from orchestration.assets.report import with_charts
from orchestration.resources import Warehouse
from transforms import metrics_checks
from transforms.metric_bases import metric_bases

GROUP = "metrics"

# The asset's preview shows the latest months first: that is what someone opening it wants to see.
PREVIEW_ORDER = {
    "marts/saas_metrics_monthly": "month desc",
    "marts/mrr_waterfall_by_segment": "month desc, dimension, dimension_value",
    "marts/mrr_by_plan": "month desc, tier_rank",
}


def latest_month_metrics(con) -> dict:
    """The latest month's headline numbers, as asset metadata (plotted over runs in the Dagster UI)."""
    relation = con.sql("select * from marts.saas_metrics_monthly order by month desc limit 1")
    found = relation.fetchall()
    if not found:
        return {}
    latest = dict(zip(relation.columns, found[0], strict=True))
    headline = ["mrr", "customers", "arpa", "logo_churn_rate", "net_mrr_churn_rate", "nrr_12m", "grr_12m",
                "quick_ratio", "ltv"]
    bases = metric_bases(con, latest["month"])
    return {
        "latest_month": dg.MetadataValue.text(str(latest["month"])),
        **{f"latest_{name}": dg.MetadataValue.float(float(latest[name]))
           for name in headline if latest[name] is not None},
        "latest_gross_margin": dg.MetadataValue.float(float(latest["gross_margin"])),  # what LTV assumes
        # a rate on a small base says what it stands on (docs/metrics.md, "Small bases")
        **{f"latest_{name}_base": dg.MetadataValue.text(bases[name].text)
           for name in headline if name in bases and bases[name].small and latest[name] is not None},
    }


def preview_order(qualified_name: str) -> str | None:
    """How a model's preview is ordered when the latest month first is not enough (orchestration/assets/dbt_models.py)."""
    return PREVIEW_ORDER.get(qualified_name.replace(".", "/"))


def model_metadata_hook(qualified_name: str):
    """What a model's materialization carries besides its table summary: charts, the latest month's metrics."""
    name = qualified_name.replace(".", "/")
    return with_charts(name, latest_month_metrics if name == "marts/saas_metrics_monthly" else None)

# A check reading a table its asset does not depend on must wait for that table too.
MRR_WATERFALL = dg.AssetKey(["marts", "mrr_waterfall"])
COHORT_RETENTION = dg.AssetKey(["marts", "cohort_retention"])


def _result(breaks: list[dict], checked: str, con) -> dg.AssetCheckResult:
    rows_checked = con.sql(f"select count(*) from {checked}").fetchall()[0][0]
    return dg.AssetCheckResult(
        passed=not breaks,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "rows_checked": rows_checked,
            "breaks": len(breaks),
            "first_breaks": dg.MetadataValue.json([{k: str(v) for k, v in b.items()} for b in breaks[:10]]),
        },
    )


@dg.asset_check(asset=["marts", "saas_metrics_monthly"], blocking=True,
                description="Every rate lies within the bounds its definition allows: logo churn, GRR 12m in "
                            "[0, 1]; gross MRR churn >= 0 and GRR <= 1 (FX re-valuation aside); net churn <= "
                            "gross churn; NRR >= GRR; quick ratio, NRR 12m, LTV >= 0; ARPA > 0 when there are customers.")
def saas_metrics_rates_within_bounds(warehouse: Warehouse) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        return _result(metrics_checks.saas_metric_bound_breaks(con), "marts.saas_metrics_monthly", con)


@dg.asset_check(asset=["marts", "saas_metrics_monthly"], blocking=True,
                description="NRR 12m >= GRR 12m every month (both NULL together).")
def nrr_12m_at_least_grr_12m(warehouse: Warehouse) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        return _result(metrics_checks.nrr_below_grr_12m(con), "marts.saas_metrics_monthly", con)


@dg.asset_check(asset=["marts", "saas_metrics_monthly"], blocking=True,
                description="saas_metrics_monthly has the waterfall's months, and its MRR, ARR/12 and customers "
                            "equal the waterfall's closing MRR and closing customers.")
def saas_metrics_mrr_matches_waterfall(warehouse: Warehouse) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        return _result(metrics_checks.metrics_mrr_mismatches(con), "marts.saas_metrics_monthly", con)


@dg.asset_check(asset=["marts", "cohort_retention"], blocking=True,
                description="A cohort's size never changes with k, and no month has more active accounts than "
                            "the cohort; at k = 0 all of them are active.")
def cohort_size_never_grows(warehouse: Warehouse) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        return _result(metrics_checks.cohort_size_breaks(con), "marts.cohort_retention", con)


@dg.asset_check(asset=["marts", "cohort_retention"], blocking=True,
                description="Logo retention in [0, 1], revenue retention >= 0, both 1.0 at k = 0.")
def cohort_retention_within_bounds(warehouse: Warehouse) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        return _result(metrics_checks.cohort_retention_bound_breaks(con), "marts.cohort_retention", con)


@dg.asset_check(asset=["marts", "cohort_ltv"], blocking=True, additional_deps=[COHORT_RETENTION, MRR_WATERFALL],
                description="Both cohort tables are complete triangles (every k up to the latest month), and "
                            "each month's cohorts add up to that month's customers and MRR.")
def cohorts_complete_and_add_up(warehouse: Warehouse) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        return _result(metrics_checks.cohort_triangle_breaks(con), "marts.cohort_retention", con)


@dg.asset_check(asset=["marts", "mrr_waterfall_by_segment"], blocking=True, additional_deps=[MRR_WATERFALL],
                description="Each segment, country and currency reconciles on its own to the cent (opening + "
                            "movements + FX = closing, opening = last closing), and each dimension's values add "
                            "up to mrr_waterfall in every column.")
def mrr_waterfall_by_segment_reconciles(warehouse: Warehouse) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        return _result(metrics_checks.segment_waterfall_breaks(con), "marts.mrr_waterfall_by_segment", con)


@dg.asset_check(asset=["marts", "mrr_by_plan"], blocking=True, additional_deps=[MRR_WATERFALL],
                description="The plans' MRR adds up to the waterfall's closing MRR, up to half a cent of "
                            "rounding per subscription and per account.")
def mrr_by_plan_adds_up(warehouse: Warehouse) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        return _result(metrics_checks.plan_mrr_breaks(con), "marts.mrr_by_plan", con)
