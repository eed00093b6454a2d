with window_start as (
    select max(as_of)::date - 29 as first_day from {{ ref('calendar') }}
),

failures as (
    select billing.*
    from {{ source('raw', 'billing_events') }} as billing, window_start
    where billing.event_type = 'payment_failed'
      and billing.occurred_at >= window_start.first_day::timestamp
),

-- only a success after a failure resolves it, so successes before the window can never count: leaving
-- them out lets DuckDB skip all but the latest row groups of the billing events
successes as (
    select billing.invoice_id, billing.subscription_id, billing.occurred_at
    from {{ source('raw', 'billing_events') }} as billing, window_start
    where billing.event_type = 'payment_succeeded'
      and billing.occurred_at >= window_start.first_day::timestamp
),

unresolved as (
    select failures.*
    from failures
    where not exists (
            select 1 from successes
            where successes.invoice_id = failures.invoice_id and successes.occurred_at >= failures.occurred_at
        )
      and not exists (
            select 1 from successes
            where successes.subscription_id = failures.subscription_id
              and successes.occurred_at >= failures.occurred_at
        )
)

select
    unresolved.account_id,
    unresolved.subscription_id,
    unresolved.invoice_id,
    unresolved.event_id as failed_event_id,
    unresolved.occurred_at as failed_at,
    unresolved.amount,
    unresolved.currency,
    -- widened first: DECIMAL(18,6) x DECIMAL(18,10) keeps 18 digits and overflows from 100 units up
    (unresolved.amount::decimal(38, 6) * rates.usd_per_unit)::decimal(18, 2) as amount_usd
from unresolved
left join {{ ref('fx_rates_monthly') }} as rates
    on rates.currency = unresolved.currency
    and rates.month = {{ month_of("unresolved.occurred_at") }}
order by unresolved.account_id, unresolved.occurred_at
