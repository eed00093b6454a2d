"""Report: the offline revenue report (one HTML file per run), and the charts other assets attach.

The chart hooks are attached by the dbt models' asset (orchestration/assets/dbt_models.py): after dbt built
the model, each draws its chart from the table it just built (transforms/report/charts.py) and adds it
to the materialization as a Markdown image, so the Dagster UI shows the waterfall, the metrics and the
cohorts as pictures. docs/report.md describes both.
"""

from collections.abc import Callable

import dagster as dg
import duckdb
import polars as pl

from orchestration.automation import follows_inputs
from orchestration.metadata import MetadataHook, frame_table, table_key
from orchestration.resources import Warehouse
from orchestration.settings import WAREHOUSE_POOL
from transforms import report, sales
from transforms.report import charts, sparklines

GROUP = "report"
REVENUE_REPORT = dg.AssetKey(["reports", "revenue_report"])

# Every table the report reads (transforms/report/), so it runs after all of them.
REPORT_INPUTS = [
    table_key(name)
    for name in (
        "marts.saas_metrics_monthly",
        "marts.mrr_waterfall",
        "marts.cohort_retention",
        "marts.accounts",
        "marts.mrr_movements",
        "marts.account_mrr_monthly",
        sales.UPSELL_TABLE,
        sales.CHURN_RISK_TABLE,
        sales.JOURNEY_TABLE,
        "marts.churn_predictions",  # the Churn outlook section
        "marts.churn_model_backtest",
        "raw.subscription_events",
        "staging.calendar",
    )
]


def markdown_charts(draw: Callable[[duckdb.DuckDBPyConnection], dict[str, str]]) -> MetadataHook:
    """A metadata hook from a chart function (connection -> {key: Markdown image}).

    A chart never blocks the data: if drawing fails, the table is still materialized and the metadata says
    why the chart is missing (`chart_error`)."""

    def hook(con: duckdb.DuckDBPyConnection) -> dict:
        try:
            return {key: dg.MetadataValue.md(image) for key, image in draw(con).items()}
        except Exception as error:  # reported in the metadata instead
            return {"chart_error": dg.MetadataValue.text(f"{type(error).__name__}: {error}")}

    return hook


def with_trends(model_name: str, hook: MetadataHook) -> MetadataHook:
    """`hook` preceded by the mart's inline trend lines (transforms/report/sparklines.py): short enough for the
    UI to show on the asset's page, where the full charts sit behind "[Show Markdown]"."""
    draw_trends = markdown_charts(lambda con: sparklines.trends(con, model_name))
    return lambda con: {**draw_trends(con), **hook(con)}


waterfall_charts = with_trends("marts/mrr_waterfall", markdown_charts(charts.waterfall_charts))
metrics_charts = with_trends("marts/saas_metrics_monthly", markdown_charts(charts.metrics_charts))
cohort_charts = markdown_charts(charts.cohort_charts)

# Hooks by SQL model, for the assets that build them (orchestration/assets/mrr.py and metrics.py).
CHART_HOOKS: dict[str, MetadataHook] = {
    "marts/mrr_waterfall": waterfall_charts,
    "marts/saas_metrics_monthly": metrics_charts,
    "marts/cohort_retention": cohort_charts,
}


def with_charts(model_name: str, hook: MetadataHook | None = None) -> MetadataHook | None:
    """The model's chart hook (if any) merged with an asset's own hook (if any)."""
    chart = CHART_HOOKS.get(model_name)
    if chart is None or hook is None:
        return chart or hook
    return lambda con: {**hook(con), **chart(con)}


@dg.asset(
    key=REVENUE_REPORT,
    group_name=GROUP,
    deps=REPORT_INPUTS,
    kinds={"html"},
    pool=WAREHOUSE_POOL,  # reads the warehouse: never while another run writes it
    # Like the serving file: follow the marts, but never report numbers a blocking check rejected.
    automation_condition=(
        follows_inputs() & dg.AutomationCondition.all_deps_blocking_checks_passed()
    ),
)
def revenue_report(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """The revenue report for finance and sales: one self-contained HTML file that works offline, with the
    latest month's KPIs, the MRR waterfall and trend, cohort heatmaps, the customer funnel, the top upsell
    opportunities and churn risks, the metric definitions and a what-if simulator (subscription against
    one-time sales). Written to the reports folder as revenue_report_<as-of date>.html and
    revenue_report_latest.html, each replaced atomically."""
    with warehouse.connect() as con:
        files, data = report.build_report(con, warehouse.reports_dir)
    context.log.info(f"wrote {files.dated} ({files.dated.stat().st_size / 1e3:.0f} KB)")
    kpis = data["kpis"]
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(files.dated)),
            "latest_path": dg.MetadataValue.path(str(files.latest)),
            "open": dg.MetadataValue.url(files.latest.as_uri()),
            "as_of": data["as_of"],
            "latest_month": data["latest_month"],
            "kpis": frame_table(_kpi_frame(kpis)),  # a table: shown inline on the asset page
            # One number per KPI, so the UI plots them run after run.
            **{f"kpi_{kpi['key']}": kpi["value"] for kpi in kpis if kpi["value"] is not None},
            "file_bytes": dg.MetadataValue.int(files.dated.stat().st_size),
        }
    )


def _kpi_frame(kpis: list[dict]) -> pl.DataFrame:
    return pl.DataFrame({
        "kpi": [k["label"] for k in kpis],
        "latest month": [k["text"] for k in kpis],
        "change": [k["change_text"] for k in kpis],
        "base": [k.get("note") or "" for k in kpis],  # a small base, LTV's gross margin (docs/metrics.md)
    })
