"""Sales: the upsell and churn-risk follow-up lists (docs/sales.md) and their CRM export.

DuckDB models reduce usage, failed payments and scheduled cancellations to a few rows per account;
`transforms.sales` turns them into signals, scores, offers and sentences (docs/sales.md)."""


import dagster as dg

from orchestration.automation import follows_inputs
from orchestration.metadata import frame_table, table_key, table_metadata
from orchestration.resources import Warehouse
from orchestration.settings import WAREHOUSE_POOL
from transforms import sales
from transforms.sql_models import summarize_table

GROUP = "sales"

UPSELL = table_key(sales.UPSELL_TABLE)
CHURN_RISK = table_key(sales.CHURN_RISK_TABLE)
JOURNEY = table_key(sales.JOURNEY_TABLE)
FOLLOW_UP_EXPORT = dg.AssetKey(["exports", "follow_up"])

_LIST_INPUTS = [
    *(table_key(name.replace("/", ".")) for name in sales.SALES_MODELS),
    table_key("marts.accounts"),
    table_key("marts.mrr_movements"),
    table_key("raw.plans"),
    table_key("staging.calendar"),
    # the churn-risk list carries the model's probability and MRR at risk (transforms/sales/retention.py)
    table_key("marts.churn_predictions"),
]


def _declared_schema(columns: list[sales.Column]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(c.name, c.sql_type, description=c.description) for c in columns])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(UPSELL, group_name=GROUP, deps=_LIST_INPUTS, kinds={"duckdb", "polars"},
                     automation_condition=follows_inputs(),
                     description=sales.UPSELL_DESCRIPTION,
                     metadata={"dagster/column_schema": _declared_schema(sales.UPSELL_COLUMNS)}),
        dg.AssetSpec(CHURN_RISK, group_name=GROUP, deps=_LIST_INPUTS, kinds={"duckdb", "polars"},
                     automation_condition=follows_inputs(),
                     description=sales.CHURN_RISK_DESCRIPTION,
                     metadata={"dagster/column_schema": _declared_schema(sales.CHURN_RISK_COLUMNS)}),
        dg.AssetSpec(JOURNEY, group_name=GROUP, deps=_LIST_INPUTS, kinds={"duckdb", "polars"},
                     automation_condition=follows_inputs(),
                     description=sales.JOURNEY_DESCRIPTION,
                     metadata={"dagster/column_schema": _declared_schema(sales.JOURNEY_COLUMNS)}),
    ],
    pool=WAREHOUSE_POOL,
)
def sales_follow_up_lists(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """Compute both lists and the journey in Polars from the sales models; replace the three marts in one
    transaction."""
    with warehouse.connect() as con:
        inputs = sales.read_inputs(con)
        lists = sales.follow_up_lists(inputs)
        sales.write_marts(con, lists)
        summaries = {name: summarize_table(con, name, order_by="rank")
                     for name in (sales.UPSELL_TABLE, sales.CHURN_RISK_TABLE)}
        summaries[sales.JOURNEY_TABLE] = summarize_table(con, sales.JOURNEY_TABLE, order_by="account_id")
    context.log.info(f"as of {inputs.as_of}: {lists.upsell.height} upsell opportunities, "
                     f"{lists.churn_risk.height} accounts at churn risk")
    yield dg.MaterializeResult(
        asset_key=UPSELL,
        metadata=table_metadata(
            summaries[sales.UPSELL_TABLE],
            as_of=str(inputs.as_of),
            top_accounts=frame_table(sales.top_accounts_frame(lists.upsell)),
            accounts_by_reason=dg.MetadataValue.json(sales.reason_counts(lists.upsell, sales.UPSELL_REASONS)),
            expected_mrr_uplift_total=float(sum(lists.upsell["expected_mrr_uplift"].to_list(), start=0)),
            listed_without_uplift=lists.upsell_without_uplift,
            **lists.notes,
        ),
    )
    yield dg.MaterializeResult(
        asset_key=CHURN_RISK,
        metadata=table_metadata(
            summaries[sales.CHURN_RISK_TABLE],
            as_of=str(inputs.as_of),
            top_accounts=frame_table(sales.top_accounts_frame(lists.churn_risk)),
            accounts_by_reason=dg.MetadataValue.json(sales.reason_counts(lists.churn_risk, sales.CHURN_RISK_REASONS)),
            mrr_at_risk_total=float(sum(lists.churn_risk["mrr"].to_list(), start=0)),
            expected_mrr_at_risk_total=float(sum(lists.churn_risk["expected_mrr_at_risk"].drop_nulls().to_list(),
                                                 start=0)),
            accounts_with_churn_probability=lists.churn_risk["churn_probability"].is_not_null().sum(),
            actions=dg.MetadataValue.json(sales.action_counts(lists.churn_risk)),
        ),
    )
    yield dg.MaterializeResult(
        asset_key=JOURNEY,
        metadata=table_metadata(
            summaries[sales.JOURNEY_TABLE],
            as_of=str(inputs.as_of),
            accounts_by_stage=dg.MetadataValue.json(sales.stage_counts(lists.journey)),
        ),
    )


@dg.asset(key=FOLLOW_UP_EXPORT, group_name=GROUP, deps=[UPSELL, CHURN_RISK], kinds={"csv"}, pool=WAREHOUSE_POOL,
          # a list that failed its checks never reaches the CRM
          automation_condition=follows_inputs() & dg.AutomationCondition.all_deps_blocking_checks_passed())
def follow_up_export(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """The CRM follow-up file: both lists by score with a sentence per account, written to the exports folder
    as follow_up_<latest data day>.csv and follow_up_latest.csv (each replaced atomically)."""
    with warehouse.connect() as con:
        upsell = con.sql(f"select * from {sales.UPSELL_TABLE} order by rank").pl()
        churn_risk = con.sql(f"select * from {sales.CHURN_RISK_TABLE} order by rank").pl()
        as_of = con.sql("select max(as_of) from staging.calendar").fetchall()[0][0]
    frame = sales.follow_up_frame(upsell, churn_risk)
    dated, latest = sales.write_follow_up_csv(frame, warehouse.exports_dir, as_of.date())
    context.log.info(f"wrote {frame.height} accounts to {dated}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(dated)),
            "latest_path": dg.MetadataValue.path(str(latest)),
            "dagster/row_count": dg.MetadataValue.int(frame.height),
            "accounts_by_list": dg.MetadataValue.json({"upsell": upsell.height, "churn_risk": churn_risk.height}),
            "preview": frame_table(frame.head(10)),
        }
    )


def _rules_result(warehouse: Warehouse, prefix: str) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        broken = {rule: n for rule, n in sales.list_violations(con).items() if rule.startswith(f"{prefix}_")}
    return dg.AssetCheckResult(passed=not broken, severity=dg.AssetCheckSeverity.ERROR,
                               metadata={"rules_broken": dg.MetadataValue.json(broken)})


@dg.asset_check(asset=UPSELL, blocking=True,
                description="Every upsell account is active and not at churn risk, has reasons, a 0-100 score in rank "
                            "order and an expected uplift of at least 0; one row per account.")
def upsell_list_keeps_its_rules(warehouse: Warehouse) -> dg.AssetCheckResult:
    return _rules_result(warehouse, "upsell")


@dg.asset_check(asset=CHURN_RISK, blocking=True,
                description="Every churn-risk account is active, has reasons and a 0-100 score in rank order; "
                            "one row per account.")
def churn_risk_list_keeps_its_rules(warehouse: Warehouse) -> dg.AssetCheckResult:
    return _rules_result(warehouse, "churn_risk")
