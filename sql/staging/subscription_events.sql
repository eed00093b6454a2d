/*
description: >
  Subscription events ready to apply: effective_at defaulted to occurred_at, and a started
  subscription's missing discount set to 0 (a change that leaves a field out keeps its value, so only
  starts default). One row per accepted event. A view: it only renames and defaults, so copying
  millions of events into a table would cost more than reading raw through it.
materialized: view
columns:
  effective_at: When the event takes effect, UTC (occurred_at unless scheduled for later).
  discount_pct: Discount in percent; NULL on a change means "unchanged".
*/
with source as (
    select * from raw.subscription_events
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
        account_name,
        segment,
        country,
        sales_owner
    from source
)

select * from defaulted
