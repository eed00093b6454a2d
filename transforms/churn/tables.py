"""The contract of the churn marts: their names, columns (type and description) and the code that writes them.

marts.churn_predictions is read by other parts of the warehouse (the churn-risk list, the journey stages,
the report's "Churn outlook"): its column names are public.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from transforms.core.sql_types import USD
from transforms.sql_models import comment_table

PREDICTIONS_TABLE = "marts.churn_predictions"
BACKTEST_TABLE = "marts.churn_model_backtest"
TOP_DRIVERS = 3  # drivers named per account


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    description: str


PREDICTION_COLUMNS = [
    Column("account_id", "varchar", "The customer account: every account paying at the as-of instant."),
    Column("as_of", "timestamp", "The data's as-of instant, UTC (staging.calendar.as_of): the features are what "
           "was known then."),
    Column("churn_probability", "double", "Probability that the account churns (its MRR ends) within the 3 "
           "calendar months after the as-of month, calibrated on held-out months: among accounts given 0.2, about "
           "one in five churn."),
    Column("mrr", USD, "Current MRR in USD."),
    Column("expected_mrr_at_risk", USD, "churn_probability x mrr, rounded half away from zero to the cent: the MRR "
           "expected to be lost in the next 3 months."),
    Column("top_drivers", "varchar", "The drivers that raise this account's risk most, in plain words with the "
           "model's own contribution for this account (log-odds), separated by '; '."),
    *[
        col
        for k in range(1, TOP_DRIVERS + 1)
        for col in (
            Column(f"driver_{k}", "varchar", f"Driver number {k} in plain words (NULL when fewer raise the risk)."),
            Column(f"driver_{k}_contribution", "double", "Its contribution to this account's log-odds of churn "
                   "(LightGBM's per-row contribution; > 0 raises the risk)."),
        )
    ],
    Column("model_version", "varchar", "The model that scored (see marts.churn_model_backtest), or 'rules' when "
           "the warehouse is too small or young to train one and the three churn-risk rules scored instead."),
    Column("rank", "integer", "Order by expected_mrr_at_risk, largest first (then churn_probability, account_id)."),
]
PREDICTIONS_DESCRIPTION = (
    "Predicted churn (docs/churn-model.md): one row per paying account as of the latest data, with the calibrated "
    "probability of churning within the next 3 months, the MRR at risk and the drivers behind it."
)

BACKTEST_COLUMNS = [
    Column("model_version", "varchar", "The model version this backtest belongs to (the model file's name)."),
    Column("learner", "varchar", "The learner: lightgbm, or rules when none could be trained."),
    Column("trained_through", "date", "Last snapshot month whose 3-month outcome had closed before the test "
           "months: the model was trained on snapshots up to this month only."),
    Column("test_months", "varchar", "The held-out snapshot months, first..last (YYYY-MM..YYYY-MM)."),
    Column("test_rows", "bigint", "Account-months scored in the test months."),
    Column("test_churned", "bigint", "Of them, how many churned within 3 months."),
    Column("auc", "double", "ROC AUC of churn_probability on the test months."),
    Column("pr_auc", "double", "Average precision (area under precision-recall) on the test months."),
    Column("rules_auc", "double", "ROC AUC of the three churn-risk rules' score on the same rows."),
    Column("rules_pr_auc", "double", "Average precision of the rules' score."),
    Column("true_hazard_auc", "double", "ROC AUC of the generator's true hazard on the same rows: the best "
           "achievable score (NULL on real data)."),
    Column("brier", "double", "Brier score of churn_probability (mean squared error; lower is better)."),
    Column("calibration_error", "double", "Expected calibration error: over ten equal-count bins of "
           "churn_probability, the row-weighted mean |mean probability - churn rate|."),
    Column("k", "bigint", "Size of the list compared: the number of accounts the rules flag, per test month, "
           "summed over the test months."),
    Column("precision_at_k", "double", "Share of churners among the model's top k accounts (per test month)."),
    Column("recall_at_k", "double", "Share of all churners found in the model's top k accounts."),
    Column("rules_precision", "double", "Share of churners among the accounts the rules flag."),
    Column("rules_recall", "double", "Share of all churners the rules flag."),
    Column("trained_at", "timestamp", "When the model was trained, UTC."),
]
BACKTEST_DESCRIPTION = (
    "How well the churn model did on held-out months (docs/churn-model.md): one row per backtest, against the "
    "three churn-risk rules and, on generated data, against the true hazard."
)


def write_table(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, columns: list[Column],
                description: str, order_by: str | None = None, derive: str | None = None) -> None:
    """Replace `table` with `frame` in one transaction, typed as `columns` and documented. `derive`, a SELECT
    over `frame` (named `frame` in it), adds computed columns first."""
    con.execute("begin transaction")
    try:
        con.execute("create schema if not exists marts")
        view = "churn_frame_" + table.split(".")[1]
        con.register(view, frame)
        try:
            select = ", ".join(f"{c.name}::{c.sql_type} as {c.name}" for c in columns)
            order = f" order by {order_by}" if order_by else ""
            source = f"({derive.replace('frame', view)})" if derive else view
            con.execute(f"create or replace table {table} as select {select} from {source}{order}")
        finally:
            con.unregister(view)
        comment_table(con, table, description, {c.name: c.description for c in columns})
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
