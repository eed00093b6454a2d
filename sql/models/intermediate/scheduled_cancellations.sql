/*
description: >
  Subscriptions that are active now and have a cancellation scheduled for later (the
  cancellation_scheduled churn-risk signal, docs/sales.md): a subscription_canceled sent on or before the
  as-of instant with effective_at after it, not withdrawn (staging.subscription_events leaves withdrawn
  ones out). One row per subscription (the earliest pending cancellation).
columns:
  account_id: The customer account.
  subscription_id: The subscription that is set to end.
  plan_id: The subscription's plan now.
  cancel_requested_at: When the (earliest pending) cancellation was sent (occurred_at), UTC.
  cancels_at: When it takes effect (effective_at), UTC; after the as-of instant.
  mrr: The subscription's MRR now, in USD (what the account loses when it takes effect).
*/
with reporting_window as (
    select max(as_of) as as_of, max(month) as latest_month from staging.calendar
),

pending_cancellations as (
    select
        events.subscription_id,
        arg_min(events.occurred_at, (events.effective_at, events.occurred_at, events.event_id))
            as cancel_requested_at,
        min(events.effective_at) as cancels_at
    from staging.subscription_events as events, reporting_window
    where events.event_type = 'subscription_canceled'
      and events.effective_at > reporting_window.as_of
      and events.occurred_at <= reporting_window.as_of
    group by events.subscription_id
),

active_now as (
    select subscription_id, account_id, plan_id, mrr from intermediate.subscriptions_in_force
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
