with source as (
    select * from {{ source('raw', 'subscription_events') }}
),

withdrawals as (
    select subscription_id, occurred_at as withdrawn_at
    from source
    where event_type = 'subscription_cancel_withdrawn'
),

defaulted as (
    select
        event_id,
        event_type,
        account_id,
        subscription_id,
        occurred_at,
        coalesce(effective_at, occurred_at) as effective_at,
        plan_id,
        billing_interval,
        quantity,
        unit_price,
        currency,
        case when event_type = 'subscription_started' then coalesce(discount_pct, 0) else discount_pct end
            as discount_pct,
        case when event_type = 'subscription_started' then coalesce(discount_amount, 0) else discount_amount end
            as discount_amount,
        case when event_type = 'subscription_started' then coalesce(interval_count, 1) else interval_count end
            as interval_count,
        account_name,
        segment,
        country,
        sales_owner
    from source
),

-- Withdrawals are rare: the voided cancellations are found by joining the few withdrawals to the
-- cancellations alone, then left out by event_id. (A correlated NOT EXISTS over every event made DuckDB
-- join all events to the withdrawals: 0.06 -> 2.6 s for this view's row count at a million accounts.)
voided_cancellations as (
    select distinct cancellations.event_id
    from defaulted as cancellations
    inner join withdrawals
        on withdrawals.subscription_id = cancellations.subscription_id
        and withdrawals.withdrawn_at > cancellations.occurred_at
        and withdrawals.withdrawn_at < cancellations.effective_at
    where cancellations.event_type = 'subscription_canceled'
)

select defaulted.*
from defaulted
left join voided_cancellations on voided_cancellations.event_id = defaulted.event_id
where voided_cancellations.event_id is null
