"""What the lists are computed from: small frames read from the SQL models and marts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import polars as pl


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
            "select account_id, account_name, segment, sales_owner, status, plan_id, mrr from marts.accounts"
        ).pl(),
        plans=con.sql(
            "select plan_id, plan_name, tier_rank, seat_limit, api_call_limit, list_price_monthly from raw.plans"
        ).pl(),
        usage=con.sql("select * from intermediate.account_usage_windows").pl(),
        payment_failures=con.sql("select * from intermediate.unresolved_payment_failures").pl(),
        cancellations=con.sql("select * from intermediate.scheduled_cancellations").pl(),
        plan_seats=con.sql("select * from intermediate.account_plan_seats").pl(),
    )

