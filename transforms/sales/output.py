"""Where the lists go: the two marts (one transaction, every column described), the CRM file, the asset
metadata's summaries, and the rules both lists keep."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from transforms.core.files import replace_atomically
from transforms.safe_text import neutralize_csv_text
from transforms.sales.contract import (
    CHURN_RISK_COLUMNS,
    CHURN_RISK_DESCRIPTION,
    CHURN_RISK_TABLE,
    FOLLOW_UP_COLUMNS,
    JOURNEY_COLUMNS,
    JOURNEY_DESCRIPTION,
    JOURNEY_TABLE,
    MONEY,
    STAGES,
    UPSELL_COLUMNS,
    UPSELL_DESCRIPTION,
    UPSELL_TABLE,
)
from transforms.sales.lists import SalesLists
from transforms.sql_models import comment_table, markdown_table


def write_marts(con: duckdb.DuckDBPyConnection, lists: SalesLists) -> None:
    """Replace the three marts in one transaction, typed and documented (COMMENT ON every table and column)."""
    tables = [(UPSELL_TABLE, lists.upsell, UPSELL_COLUMNS, UPSELL_DESCRIPTION, "rank"),
              (CHURN_RISK_TABLE, lists.churn_risk, CHURN_RISK_COLUMNS, CHURN_RISK_DESCRIPTION, "rank"),
              (JOURNEY_TABLE, lists.journey, JOURNEY_COLUMNS, JOURNEY_DESCRIPTION, "account_id")]
    con.execute("begin transaction")
    try:
        con.execute("create schema if not exists marts")
        for qualified_name, frame, columns, description, order in tables:
            view = f"sales_frame_{qualified_name.split('.')[1]}"
            con.register(view, frame)
            try:
                select = ", ".join(f"{c.name}::{c.sql_type} as {c.name}" for c in columns)
                con.execute(f"create or replace table {qualified_name} as select {select} from {view} order by {order}")
            finally:
                con.unregister(view)
            comment_table(con, qualified_name, description, {c.name: c.description for c in columns})
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def reason_counts(frame: pl.DataFrame, reasons: tuple[str, ...]) -> dict[str, int]:
    """Accounts per reason code (an account with two reasons counts under both); every code, even at 0."""
    counts = dict.fromkeys(reasons, 0)
    if frame.height:
        for code, n in frame.select(pl.col("reason_codes").explode()).to_series().value_counts().iter_rows():
            if code is not None:
                counts[code] = n
    return counts


def stage_counts(journey: pl.DataFrame) -> dict[str, int]:
    """Accounts per journey stage, every stage, even at 0, in the journey's order."""
    counts = dict.fromkeys(STAGES, 0)
    for stage, n in journey["stage"].value_counts().iter_rows():
        counts[stage] = n
    return counts


def action_counts(churn_risk: pl.DataFrame) -> dict[str, int]:
    """Churn-risk accounts per kind of recommended action (the action's words before its figures)."""
    kinds = {"annual plan": "Offer an annual plan", "downgrade": "Offer a downgrade", "fix the payment method":
             "Fix the payment method", "success call": "Success call"}
    return {kind: int(churn_risk["recommended_action"].str.starts_with(prefix).sum()) for kind, prefix in kinds.items()}


def top_accounts_frame(frame: pl.DataFrame, limit: int = 10) -> pl.DataFrame:
    """The first accounts of a list with their reasons and sentence (a table in the Dagster UI)."""
    wanted = ["rank", "account_id", "account_name", "sales_owner", "score", "reasons", "mrr",
              "recommended_plan_id", "expected_mrr_uplift", "contact_on", "churn_probability", "expected_mrr_at_risk",
              "summary", "recommended_action"]
    return frame.sort("rank").head(limit).select([c for c in wanted if c in frame.columns])


def top_accounts_markdown(frame: pl.DataFrame, limit: int = 10) -> str:
    """top_accounts_frame as a Markdown table."""
    return markdown_table(top_accounts_frame(frame, limit))


def follow_up_frame(upsell: pl.DataFrame, churn_risk: pl.DataFrame) -> pl.DataFrame:
    """The CRM export: both lists in one frame, by score; at equal scores retention comes first (protect
    revenue before growing it), then the larger MRR at stake or uplift, then account_id."""
    common = ["score", "account_id", "account_name", "sales_owner", "segment", "plan_id", "mrr", "reasons", "summary"]
    retention = churn_risk.select(
        pl.lit("churn_risk").alias("follow_up"), *common,
        pl.lit(None, dtype=pl.String).alias("recommended_plan_id"),
        pl.lit(None, dtype=pl.Int32).alias("extra_seats"),
        pl.lit(None, dtype=MONEY).alias("expected_mrr_uplift"),
        "as_of", pl.lit(None, dtype=pl.Date).alias("contact_on"), pl.lit(None, dtype=pl.String).alias("timing_reason"),
        "recommended_action", pl.lit(0).alias("list_order"), pl.col("mrr").alias("at_stake"),
    )
    expansion = upsell.select(
        pl.lit("upsell").alias("follow_up"), *common, "recommended_plan_id", "extra_seats", "expected_mrr_uplift",
        "as_of", "contact_on", "timing_reason", pl.lit(None, dtype=pl.String).alias("recommended_action"),
        pl.lit(1).alias("list_order"), pl.col("expected_mrr_uplift").alias("at_stake"),
    )
    return (
        pl.concat([retention, expansion], how="vertical")
        .sort(["score", "list_order", "at_stake", "account_id"], descending=[True, False, True, False])
        .select(FOLLOW_UP_COLUMNS)
    )


def write_follow_up_csv(frame: pl.DataFrame, exports_dir: str | Path, latest_data_day: date) -> list[Path]:
    """Write follow_up_<latest data day>.csv and follow_up_latest.csv, each atomically (temp file + rename),
    so the CRM import never reads a half-written file. Returns both paths."""
    folder = Path(exports_dir)
    folder.mkdir(parents=True, exist_ok=True)
    safe = neutralize_csv_text(frame)  # names are the customer's text: never a formula (safe_text.py)
    written = []
    for name in (f"follow_up_{latest_data_day:%Y-%m-%d}.csv", "follow_up_latest.csv"):
        written.append(replace_atomically(
            folder / name, lambda out: safe.write_csv(out, datetime_format="%Y-%m-%dT%H:%M:%SZ"), binary=True))
    return written


# ------------------------------------------------------------------------------------------------ checks


def list_violations(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rules both lists keep (docs/sales.md), as counts of offending rows named `<list>_<rule>`; {} when all hold."""
    queries = {}
    for prefix, table in (("upsell", UPSELL_TABLE), ("churn_risk", CHURN_RISK_TABLE)):
        queries |= {
            f"{prefix}_account_not_active": f"""
                select count(*) from {table} left join marts.accounts as accounts using (account_id)
                where accounts.status is distinct from 'active'""",
            f"{prefix}_without_reasons": f"""
                select count(*) from {table} where coalesce(reasons, '') = '' or coalesce(len(reason_codes), 0) = 0""",
            f"{prefix}_score_out_of_range": f"""
                select count(*) from {table} where score is null or score not between 0 and 100""",
            f"{prefix}_duplicate_accounts": f"select count(*) - count(distinct account_id) from {table}",
        }
    queries["upsell_rank_not_by_score"] = f"""
        select count(*) from (select score, lag(score) over (order by rank) as previous_score from {UPSELL_TABLE})
        where score > previous_score"""
    # by MRR at risk (NULL, without a model, last), then by score
    queries["churn_risk_rank_not_by_mrr_at_risk"] = f"""
        select count(*) from (
            select expected_mrr_at_risk as at_risk, score,
                   lag(expected_mrr_at_risk) over (order by rank) as previous_at_risk,
                   lag(score) over (order by rank) as previous_score,
                   rank > 1 as has_previous
            from {CHURN_RISK_TABLE})
        where has_previous and (
            (previous_at_risk is null and at_risk is not null)
            or at_risk > previous_at_risk
            or (at_risk is not distinct from previous_at_risk and score > previous_score))"""
    queries["upsell_without_contact_day"] = f"""
        select count(*) from {UPSELL_TABLE} where contact_on is null or contact_on <= latest_data_day"""
    queries["upsell_account_at_churn_risk"] = f"select count(*) from {UPSELL_TABLE} join {CHURN_RISK_TABLE} using (account_id)"
    queries["upsell_uplift_missing_or_negative"] = (
        f"select count(*) from {UPSELL_TABLE} where expected_mrr_uplift is null or expected_mrr_uplift < 0"
    )
    counts = {name: con.sql(sql).fetchall()[0][0] for name, sql in queries.items()}
    return {name: n for name, n in counts.items() if n}
