-- Usage per account and calendar month, the input of the churn features' usage trend: the daily mean of
-- active seats and of API calls over the days with usage. One pass over the usage events; incremental by
-- month (a month's row depends on that month's events only), so a daily run reads the latest month again
-- and nothing older.
-- DuckDB only: the churn model reads the DuckDB warehouse, and these use DuckDB's SQL (FILTER, arg_max).
{{ config(
    enabled=target.type == 'duckdb',
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['month'],
) }}

with usage as (
    select
        account_id,
        metric,
        occurred_at::date as day,
        quantity
    from {{ source('raw', 'usage_events') }}
    where metric in ('active_seats', 'api_calls')
    {% if is_incremental() %}
      and occurred_at >= (select max(month) from {{ this }})::timestamp
    {% endif %}
),

daily as (
    select account_id, metric, day, sum(quantity) as quantity
    from usage
    group by all
)

select
    account_id,
    date_trunc('month', day)::date as month,
    avg(quantity) filter (where metric = 'active_seats') as active_seats_daily_mean,
    count(*) filter (where metric = 'active_seats') as active_seats_days,
    avg(quantity) filter (where metric = 'api_calls') as api_calls_daily_mean,
    count(*) filter (where metric = 'api_calls') as api_calls_days,
    max(day) as last_usage_day
from daily
group by all
