"""Where the customers are and where the MRR is going: the journey's stages now (docs/sales.md#the-customer-journey)
and the churn outlook (the churn model's predictions and its backtest), read from the marts as JSON-ready values.
Every table here may be missing (the sales lists or the churn model not built yet): the section then says so."""

from __future__ import annotations

from decimal import Decimal

import duckdb

from transforms.report.marts import _jsonable, _records

JOURNEY_TABLE = "marts.account_journey"
PREDICTIONS_TABLE = "marts.churn_predictions"
BACKTEST_TABLE = "marts.churn_model_backtest"
CHURN_RISK_TABLE = "marts.churn_risk_accounts"

# The journey's stages in the order an account lives them, with the words the page uses.
STAGE_LABELS = [
    ("trial", "Trial"), ("onboarding", "Onboarding"), ("adopting", "Adopting"), ("expanding", "Expanding"),
    ("at_risk", "At risk"), ("churned", "Churned"), ("reactivated", "Reactivated"),
]
# The stages before signup that the event log cannot see (docs/sales.md#the-customer-journey).
UNSEEN_STAGES = ("awareness", "interest", "consideration")


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    return con.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ? "
        "and database_name = current_database()", [schema, name]).fetchall()[0][0] > 0


def journey_stages(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Accounts and MRR per stage now, every stage (0 included); [] when the journey was not built. `width` is the
    bar's length as a share of the largest stage."""
    if not table_exists(con, JOURNEY_TABLE):
        return []
    counted = {row["stage"]: row for row in _records(
        con, f"select stage, count(*) as accounts, sum(mrr) as mrr from {JOURNEY_TABLE} group by stage")}
    largest = max((row["accounts"] for row in counted.values()), default=0)
    return [
        _jsonable({"stage": stage, "label": label,
                   "accounts": counted.get(stage, {}).get("accounts", 0),
                   "mrr": counted.get(stage, {}).get("mrr") or Decimal(0),
                   "width": 100 * counted.get(stage, {}).get("accounts", 0) / largest if largest else 0})
        for stage, label in STAGE_LABELS
    ]


def churn_outlook(con: duckdb.DuckDBPyConnection, top: int) -> dict:
    """The churn model's view of the next quarter: the MRR at risk, the riskiest accounts with their drivers and
    the action the churn-risk list recommends, and the latest backtest. `available` is False without a model."""
    if not table_exists(con, PREDICTIONS_TABLE):
        return {"available": False}
    latest = f"(select max(as_of) from {PREDICTIONS_TABLE})"
    totals = _records(con, f"""
        select count(*) as accounts, sum(expected_mrr_at_risk) as mrr_at_risk, sum(churn_probability) as expected_churns,
               sum(mrr) as mrr, string_agg(distinct model_version, ', ' order by model_version) as model_version
        from {PREDICTIONS_TABLE} where as_of = {latest}""")[0]
    action = "list.recommended_action" if table_exists(con, CHURN_RISK_TABLE) else "null"
    joined = f"left join {CHURN_RISK_TABLE} as list using (account_id)" if action != "null" else ""
    riskiest = _records(con, f"""
        select predictions.account_id, accounts.account_name, accounts.sales_owner, predictions.mrr,
               predictions.churn_probability, predictions.expected_mrr_at_risk, predictions.top_drivers,
               {action} as recommended_action
        from {PREDICTIONS_TABLE} as predictions
        left join marts.accounts as accounts using (account_id)
        {joined}
        where predictions.as_of = {latest} and predictions.expected_mrr_at_risk > 0
        order by predictions.expected_mrr_at_risk desc, predictions.churn_probability desc, predictions.account_id
        limit {int(top)}""")
    backtest = None
    if table_exists(con, BACKTEST_TABLE):
        rows = _records(con, f"select * from {BACKTEST_TABLE} order by trained_through desc, model_version desc limit 1")
        backtest = _jsonable(rows[0]) if rows else None
    mrr = totals["mrr"] or Decimal(0)
    return {
        "available": True,
        "accounts": totals["accounts"],
        "mrr_at_risk": float(totals["mrr_at_risk"] or 0),
        "share_of_mrr": float((totals["mrr_at_risk"] or 0) / mrr) if mrr else None,
        "expected_churns": totals["expected_churns"] or 0.0,
        "model_version": totals["model_version"],
        "rules_fallback": totals["model_version"] == "rules",
        "riskiest": [_jsonable(row) for row in riskiest],
        "backtest": backtest,
    }
