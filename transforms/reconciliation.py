"""Invariants the MRR marts must hold, as queries returning the rows that break them (empty = holds)."""

from __future__ import annotations

import duckdb

WATERFALL_BREAKS = """
with waterfall as (
    select *, lag(closing_mrr) over (order by month) as previous_closing from marts.mrr_waterfall
),
account_totals as (
    select month, sum(mrr) as account_mrr, count(*) as accounts from marts.account_mrr_monthly group by month
)
select
    waterfall.month,
    opening_mrr + new_mrr + expansion_mrr + reactivation_mrr - contraction_mrr - churned_mrr + fx_adjustment
        - closing_mrr as bridge_gap,
    opening_mrr - coalesce(previous_closing, 0) as opening_gap,
    closing_mrr - coalesce(account_totals.account_mrr, 0) as closing_gap,
    closing_customers - coalesce(account_totals.accounts, 0) as customers_gap,
    opening_customers + new_customers + reactivated_customers - churned_customers - closing_customers
        as customer_bridge_gap
from waterfall
left join account_totals using (month)
where bridge_gap <> 0 or opening_gap <> 0 or closing_gap <> 0 or customers_gap <> 0 or customer_bridge_gap <> 0
order by waterfall.month
"""

NEVER_STARTED = """
select subscription_id, count(*) as events, min(occurred_at) as first_event_at
from raw.subscription_events
where subscription_id is not null
group by subscription_id
having not bool_or(event_type in ('trial_started', 'subscription_started'))
order by subscription_id
"""


def waterfall_breaks(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Months where the waterfall does not reconcile to the cent (bridge, opening = last closing,
    closing = sum of account_mrr_monthly, customer counts)."""
    return _rows(con, WATERFALL_BREAKS)


def never_started_subscriptions(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Subscriptions with events but no start yet: their events wait in raw until the start lands."""
    return _rows(con, NEVER_STARTED)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    relation = con.sql(sql)
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
