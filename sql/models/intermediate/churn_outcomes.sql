-- What happened after each churn snapshot (the label the churn model learns): did the account churn within
-- the 3 calendar months after the snapshot month? Churned means a cancellation took effect in those months
-- (staging leaves withdrawn ones out) and the account paid nothing at the end of one of them; a pause alone
-- is not churn here. NULL while the outcome is still open (the third month has not closed yet). Incremental:
-- a run restates the snapshots whose outcome could still change (the last five months) and any new one.
-- DuckDB only: the churn model reads the DuckDB warehouse, and these use DuckDB's SQL (FILTER, arg_max).
{{ config(
    enabled=target.type == 'duckdb',
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['snapshot_month'],
) }}

with reporting_window as (
    select max(month) as latest_month from {{ ref('calendar') }}
),

account_months as (
    select account_id, month
    from {{ ref('subscription_mrr_monthly') }}
    group by all
    having {{ monthly_usd_from_annual("sum(arr_usd)") }} > 0
),

cancellations as (
    select account_id, effective_at
    from {{ ref('subscription_events') }}
    where event_type = 'subscription_canceled'
),

snapshots as (
    select features.account_id, features.snapshot_month, reporting_window.latest_month
    from {{ ref('churn_features') }} as features, reporting_window
    {% if is_incremental() %}
    where features.snapshot_month >= (select max(snapshot_month) from {{ this }}) - interval 4 month
    {% endif %}
),

paid_after as (
    select snapshots.account_id, snapshots.snapshot_month, count(*) as months_paid
    from snapshots
    join account_months
        on account_months.account_id = snapshots.account_id
        and account_months.month > snapshots.snapshot_month
        and account_months.month <= snapshots.snapshot_month + interval 3 month
    group by all
),

canceled_after as (
    select distinct snapshots.account_id, snapshots.snapshot_month
    from snapshots
    join cancellations
        on cancellations.account_id = snapshots.account_id
        and cancellations.effective_at >= (snapshots.snapshot_month + interval 1 month)::timestamp
        and cancellations.effective_at < (snapshots.snapshot_month + interval 4 month)::timestamp
)

select
    snapshots.account_id,
    snapshots.snapshot_month,
    snapshots.snapshot_month + interval 3 month < snapshots.latest_month as outcome_closed,
    case
        when snapshots.snapshot_month + interval 3 month < snapshots.latest_month
        then canceled_after.account_id is not null and coalesce(paid_after.months_paid, 0) < 3
    end as churned_3m
from snapshots
left join paid_after using (account_id, snapshot_month)
left join canceled_after using (account_id, snapshot_month)
