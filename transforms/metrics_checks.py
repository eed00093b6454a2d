"""Invariants the SaaS metrics marts must hold (docs/metrics.md), as queries returning the rows that break
them: an empty list means the invariant holds. Asset checks and tests call the same functions."""

from __future__ import annotations

import duckdb

# Bounds each rate can reach by its definition. Churned and contraction MRR are measured against last
# month's MRR re-valued at this month's FX rate while opening MRR is as reported last month, so a rising
# currency can push gross churn above 1 (and GRR below 0) by at most fx_adjustment / opening: `fx_slack`.
SAAS_METRIC_BOUNDS = """
with metrics as (
    select
        metrics.*,
        coalesce(greatest(waterfall.fx_adjustment, 0) / nullif(waterfall.opening_mrr, 0), 0) as fx_slack
    from marts.saas_metrics_monthly as metrics
    left join marts.mrr_waterfall as waterfall using (month)
),
broken(month, metric, value, rule) as (
    select month, 'logo_churn_rate', logo_churn_rate, 'between 0 and 1' from metrics
    where logo_churn_rate < 0 or logo_churn_rate > 1
    union all
    select month, 'gross_mrr_churn_rate', gross_mrr_churn_rate, 'between 0 and 1 (+ FX re-valuation)' from metrics
    where gross_mrr_churn_rate < 0 or gross_mrr_churn_rate > round(1 + fx_slack, 6)
    union all
    select month, 'net_mrr_churn_rate', net_mrr_churn_rate, 'at most gross_mrr_churn_rate' from metrics
    where net_mrr_churn_rate > gross_mrr_churn_rate
    union all
    select month, 'grr', grr, 'between 0 (- FX re-valuation) and 1' from metrics
    where grr > 1 or grr < round(-fx_slack, 6)
    union all
    select month, 'nrr', nrr, 'at least grr' from metrics
    where nrr < grr
    union all
    select month, 'grr_12m', grr_12m, 'between 0 and 1' from metrics
    where grr_12m < 0 or grr_12m > 1
    union all
    select month, 'nrr_12m', nrr_12m, 'at least 0' from metrics
    where nrr_12m < 0
    union all
    select month, 'quick_ratio', quick_ratio, 'at least 0' from metrics
    where quick_ratio < 0
    union all
    select month, 'trailing_logo_churn_rate_6m', trailing_logo_churn_rate_6m, 'between 0 and 1' from metrics
    where trailing_logo_churn_rate_6m < 0 or trailing_logo_churn_rate_6m > 1
    union all
    select month, 'arpa', arpa, 'positive, NULL exactly when there are no customers' from metrics
    where arpa <= 0 or ((arpa is null) <> (customers = 0))
    union all
    select month, 'ltv', ltv, 'at least 0' from metrics
    where ltv < 0
)
select * from broken order by month, metric
"""

COHORT_RETENTION_BOUNDS = """
select cohort_month, months_since_start, logo_retention, revenue_retention
from marts.cohort_retention
where logo_retention < 0 or logo_retention > 1 or revenue_retention < 0
   or (months_since_start = 0 and (logo_retention <> 1 or revenue_retention <> 1))
order by cohort_month, months_since_start
"""

NRR_BELOW_GRR_12M = """
select month, nrr_12m, grr_12m
from marts.saas_metrics_monthly
where nrr_12m < grr_12m or ((nrr_12m is null) <> (grr_12m is null))
order by month
"""

METRICS_MRR_MISMATCH = """
select
    coalesce(metrics.month, waterfall.month) as month,
    metrics.mrr,
    waterfall.closing_mrr,
    metrics.customers,
    waterfall.closing_customers
from marts.saas_metrics_monthly as metrics
full join marts.mrr_waterfall as waterfall using (month)
where metrics.mrr is distinct from waterfall.closing_mrr
   or metrics.customers is distinct from waterfall.closing_customers
   or metrics.arr is distinct from waterfall.closing_mrr * 12
order by month
"""

# Cohort size is fixed at k = 0: the same cohort_customers on every row of a cohort, and never more
# accounts active (or, at k = 0, fewer) than the cohort has.
COHORT_SIZE_BREAKS = """
select
    cohort_month,
    min(cohort_customers) as smallest_cohort_size,
    max(cohort_customers) as largest_cohort_size,
    max(active_customers) as most_active,
    max(active_customers) filter (where months_since_start = 0) as active_at_start
from marts.cohort_retention
group by cohort_month
having min(cohort_customers) <> max(cohort_customers)
    or max(active_customers) > max(cohort_customers)
    or max(active_customers) filter (where months_since_start = 0) is distinct from max(cohort_customers)
order by cohort_month
"""

# The triangle is complete (every k from 0 to the latest month, in both cohort marts), and the cohorts of
# a month add up to that month's customers and MRR.
COHORT_TRIANGLE_BREAKS = """
with latest as (
    select max(month) as latest_month from staging.calendar
),
shape as (
    select
        retention.cohort_month,
        count(*) as rows_present,
        datediff('month', retention.cohort_month, any_value(latest.latest_month)) + 1 as rows_expected,
        count(distinct retention.months_since_start) as distinct_k,
        max(retention.months_since_start) as last_k
    from marts.cohort_retention as retention, latest
    group by retention.cohort_month
),
ltv_shape as (
    select cohort_month, count(*) as ltv_rows from marts.cohort_ltv group by cohort_month
),
by_month as (
    select month, sum(active_customers) as cohort_active, sum(mrr) as cohort_mrr
    from marts.cohort_retention group by month
)
select 'incomplete triangle' as problem, shape.cohort_month as month, rows_present as found, rows_expected as expected
from shape left join ltv_shape using (cohort_month)
where rows_present <> rows_expected or distinct_k <> rows_expected or last_k <> rows_expected - 1
   or ltv_rows is distinct from rows_expected
union all
select 'cohorts do not add up to customers', waterfall.month, coalesce(cohort_active, 0), closing_customers
from marts.mrr_waterfall as waterfall left join by_month using (month)
where coalesce(cohort_active, 0) <> closing_customers
union all
select 'cohorts do not add up to MRR', waterfall.month, coalesce(cohort_mrr, 0), closing_mrr
from marts.mrr_waterfall as waterfall left join by_month using (month)
where coalesce(cohort_mrr, 0) <> closing_mrr
order by problem, month
"""

_WATERFALL_COLUMNS = (
    "opening_mrr", "new_mrr", "expansion_mrr", "reactivation_mrr", "contraction_mrr", "churned_mrr",
    "fx_adjustment", "closing_mrr", "opening_customers", "new_customers", "reactivated_customers",
    "churned_customers", "closing_customers",
)

SEGMENT_WATERFALL_BREAKS = f"""
with by_value as (
    select
        *,
        lag(closing_mrr) over value_history as previous_closing_mrr,
        lag(closing_customers) over value_history as previous_closing_customers
    from marts.mrr_waterfall_by_segment
    window value_history as (partition by dimension, dimension_value order by month)
),
value_breaks as (
    select
        month, dimension, dimension_value,
        opening_mrr + new_mrr + expansion_mrr + reactivation_mrr - contraction_mrr - churned_mrr + fx_adjustment
            - closing_mrr as bridge_gap,
        opening_mrr - coalesce(previous_closing_mrr, 0) as opening_gap,
        opening_customers + new_customers + reactivated_customers - churned_customers - closing_customers
            as customer_bridge_gap,
        opening_customers - coalesce(previous_closing_customers, 0) as opening_customers_gap
    from by_value
),
dimension_totals as (
    select month, dimension, {", ".join(f"sum({c}) as {c}" for c in _WATERFALL_COLUMNS)}
    from marts.mrr_waterfall_by_segment
    group by month, dimension
),
dimensions as (
    select * from (values ('segment'), ('country'), ('currency')) as d(dimension)
),
total_breaks as (
    select waterfall.month, dimensions.dimension
    from marts.mrr_waterfall as waterfall
    cross join dimensions
    left join dimension_totals
        on dimension_totals.month = waterfall.month and dimension_totals.dimension = dimensions.dimension
    where {" or ".join(f"coalesce(dimension_totals.{c}, 0) <> waterfall.{c}" for c in _WATERFALL_COLUMNS)}
)
select month, dimension, dimension_value, 'value does not reconcile' as problem
from value_breaks
where bridge_gap <> 0 or opening_gap <> 0 or customer_bridge_gap <> 0 or opening_customers_gap <> 0
union all
select month, dimension, null, 'values do not add up to mrr_waterfall' from total_breaks
order by month, dimension, dimension_value
"""

# Subscription MRR is rounded per subscription and account MRR once per account, so the plans' sum may
# differ from closing MRR by at most half a cent per subscription plus half a cent per account.
PLAN_MRR_BREAKS = """
with plans as (
    select month, sum(mrr) as plan_mrr, sum(subscriptions) as subscriptions
    from marts.mrr_by_plan group by month
)
select waterfall.month, plans.plan_mrr, waterfall.closing_mrr, plans.subscriptions, waterfall.closing_customers
from marts.mrr_waterfall as waterfall
left join plans using (month)
where plans.month is null
   or abs(plans.plan_mrr - waterfall.closing_mrr) > 0.005 * (plans.subscriptions + waterfall.closing_customers)
order by waterfall.month
"""


def saas_metric_bound_breaks(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Months where a rate of saas_metrics_monthly lies outside what its definition allows."""
    return _rows(con, SAAS_METRIC_BOUNDS)


def cohort_retention_bound_breaks(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Cohort rows with logo retention outside [0, 1], negative revenue retention, or k = 0 not 1.0."""
    return _rows(con, COHORT_RETENTION_BOUNDS)


def nrr_below_grr_12m(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Months where NRR 12m < GRR 12m (impossible: Σ MRR ≥ Σ min(MRR, MRR a year ago)) or only one is NULL."""
    return _rows(con, NRR_BELOW_GRR_12M)


def metrics_mrr_mismatches(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Months where saas_metrics_monthly's MRR, ARR or customers differ from the waterfall's closing values."""
    return _rows(con, METRICS_MRR_MISMATCH)


def cohort_size_breaks(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Cohorts whose size changes with k or that have more active accounts than members."""
    return _rows(con, COHORT_SIZE_BREAKS)


def cohort_triangle_breaks(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Incomplete cohort triangles, and months whose cohorts do not add up to the customers and MRR."""
    return _rows(con, COHORT_TRIANGLE_BREAKS)


def segment_waterfall_breaks(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Values of mrr_waterfall_by_segment that do not reconcile, and dimensions not adding up to the waterfall."""
    return _rows(con, SEGMENT_WATERFALL_BREAKS)


def plan_mrr_breaks(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Months where mrr_by_plan's total differs from closing MRR by more than per-subscription rounding."""
    return _rows(con, PLAN_MRR_BREAKS)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    relation = con.sql(sql)
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
