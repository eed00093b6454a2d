with subscription_history as (
    select min(occurred_at) as first_event_at from {{ source('raw', 'subscription_events') }}
),

latest_event as (
    select max(latest_at) as as_of
    from (
        select max(occurred_at) as latest_at from {{ source('raw', 'subscription_events') }}
        union all select max(occurred_at) from {{ source('raw', 'billing_events') }}
        union all select max(occurred_at) from {{ source('raw', 'usage_events') }}
    )
),

months as (
    select {{ month_series(month_of("first_event_at"), month_of("as_of")) }} as month
    from subscription_history, latest_event
    where first_event_at is not null
)

select
    month,
    case when month = {{ month_of("as_of") }} then as_of else {{ next_month("month") }}::timestamp end as month_end_cutoff,
    as_of,
    month = {{ month_of("as_of") }} as is_latest_month
from months, latest_event
order by month
