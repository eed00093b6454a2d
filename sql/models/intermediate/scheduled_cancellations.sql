with reporting_window as (
    select max(as_of) as as_of, max(month) as latest_month from {{ ref('calendar') }}
),

pending_cancellations as (
    select
        events.subscription_id,
        min_by(events.occurred_at, {{ sort_key('events.effective_at', 'events.occurred_at', 'events.event_id') }})
            as cancel_requested_at,
        min(events.effective_at) as cancels_at
    from {{ ref('subscription_events') }} as events, reporting_window
    where events.event_type = 'subscription_canceled'
      and events.effective_at > reporting_window.as_of
      and events.occurred_at <= reporting_window.as_of
    group by events.subscription_id
),

active_now as (
    select subscription_id, account_id, plan_id, mrr from {{ ref('subscriptions_in_force') }}
)

select
    active_now.account_id,
    active_now.subscription_id,
    active_now.plan_id,
    pending_cancellations.cancel_requested_at,
    pending_cancellations.cancels_at,
    coalesce(active_now.mrr, 0)::decimal(18, 2) as mrr
from pending_cancellations
join active_now using (subscription_id)
order by active_now.account_id, active_now.subscription_id
