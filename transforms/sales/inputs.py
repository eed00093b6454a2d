"""What the lists are computed from: small frames read from the SQL models and marts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import polars as pl

from transforms.sales.contract import PREDICTIONS_TABLE


@dataclass(frozen=True)
class SalesInputs:
    """Everything the lists are computed from: small frames, one per SQL model or mart."""

    as_of: datetime
    accounts: pl.DataFrame  # marts.accounts
    plans: pl.DataFrame  # raw.plans
    usage: pl.DataFrame  # intermediate.account_usage_windows
    payment_failures: pl.DataFrame  # intermediate.unresolved_payment_failures
    cancellations: pl.DataFrame  # intermediate.scheduled_cancellations
    plan_seats: pl.DataFrame  # intermediate.account_plan_seats
    milestones: pl.DataFrame  # intermediate.account_milestones
    movements: pl.DataFrame  # marts.mrr_movements: each account's expansions and reactivations
    predictions: pl.DataFrame  # marts.churn_predictions (its latest as_of); no rows without a model
    latest_month: date  # staging.calendar

    @property
    def latest_data_day(self) -> date:
        return self.as_of.date()



def read_inputs(con: duckdb.DuckDBPyConnection) -> SalesInputs:
    """Read the small inputs the lists need (run the SALES_MODELS first)."""
    as_of = con.sql("select max(as_of) from staging.calendar").fetchall()[0][0]
    if as_of is None:
        raise ValueError("staging.calendar is empty: load events and build the MRR models before the sales lists")
    return SalesInputs(
        as_of=as_of,
        accounts=con.sql(
            "select account_id, account_name, segment, sales_owner, status, plan_id, mrr, last_paid_month "
            "from marts.accounts"
        ).pl(),
        plans=con.sql(
            "select plan_id, plan_name, tier_rank, seat_limit, api_call_limit, list_price_monthly from raw.plans"
        ).pl(),
        usage=con.sql("select * from intermediate.account_usage_windows").pl(),
        payment_failures=con.sql("select * from intermediate.unresolved_payment_failures").pl(),
        cancellations=con.sql("select * from intermediate.scheduled_cancellations").pl(),
        plan_seats=con.sql("select * from intermediate.account_plan_seats").pl(),
        milestones=con.sql("select * from intermediate.account_milestones").pl(),
        movements=con.sql(_RECENT_MOVEMENTS).pl(),
        predictions=read_predictions(con),
        latest_month=con.sql("select max(month) from staging.calendar").fetchall()[0][0],
    )


# Each account's expansions and reactivations: the journey's `expanding` and `reactivated` look at the
# latest three months (docs/sales.md#the-customer-journey).
_RECENT_MOVEMENTS = """
    select
        movements.account_id,
        min(movements.month) filter (
            where movements.movement = 'expansion' and movements.month >= calendar.latest_month - interval 2 month
        ) as first_recent_expansion_month,
        max(movements.month) filter (where movements.movement = 'expansion') as last_expansion_month,
        max(movements.month) filter (where movements.movement = 'reactivation') as last_reactivation_month
    from marts.mrr_movements as movements, (select max(month) as latest_month from staging.calendar) as calendar
    where movements.movement in ('expansion', 'reactivation')
    group by movements.account_id
"""

PREDICTION_COLUMNS = {"account_id": pl.String, "churn_probability": pl.Float64, "model_version": pl.String}


def read_predictions(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The churn model's latest scores (account_id, churn_probability, model_version), or no rows when the
    model has not written marts.churn_predictions: the lists then rank as the rules say."""
    schema, table = PREDICTIONS_TABLE.split(".")
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, table]
    ).fetchall()[0][0]
    if not exists:
        return pl.DataFrame(schema=PREDICTION_COLUMNS)
    return con.sql(f"""
        select account_id, churn_probability::double as churn_probability, model_version::varchar as model_version
        from {PREDICTIONS_TABLE}
        where as_of = (select max(as_of) from {PREDICTIONS_TABLE})
    """).pl().cast(PREDICTION_COLUMNS)

