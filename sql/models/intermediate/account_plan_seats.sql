/*
description: >
  What an account pays for now, for pricing an upgrade (docs/sales.md): the seats and MRR of its active
  subscriptions on its current plan (marts.accounts.plan_id), and since when it has been a customer
  (trial or paid). One row per account with an active subscription.
materialized: incremental
unique_key: account_id
restate_when_due: effective_at
columns:
  account_id: The customer account.
  plan_id: The account's current plan (its largest paying subscription's plan).
  plan_subscriptions: Active subscriptions on plan_id.
  plan_seats: Seats (quantity) summed over the active subscriptions on plan_id.
  plan_mrr: MRR in USD of the active subscriptions on plan_id (the part an upgrade replaces).
  active_subscriptions: Active subscriptions on any plan.
  customer_since: The account's first trial or subscription start (effective_at), UTC.
*/
with reporting_window as (
    select max(as_of) as as_of, max(month) as latest_month from staging.calendar
),

active_now as (
    select subscription_id, account_id, plan_id, quantity, mrr from intermediate.subscriptions_in_force
),

customer_since as (
    select events.account_id, min(events.effective_at) as customer_since
    from staging.subscription_events as events, reporting_window
    where events.event_type in ('trial_started', 'subscription_started')
      and events.effective_at <= reporting_window.as_of
    group by events.account_id
)

select
    active_now.account_id,
    accounts.plan_id,
    count(*) filter (where active_now.plan_id = accounts.plan_id) as plan_subscriptions,
    coalesce(sum(active_now.quantity) filter (where active_now.plan_id = accounts.plan_id), 0)::bigint as plan_seats,
    coalesce(sum(active_now.mrr) filter (where active_now.plan_id = accounts.plan_id), 0)::decimal(18, 2)
        as plan_mrr,
    count(*) as active_subscriptions,
    any_value(customer_since.customer_since) as customer_since
from active_now
join marts.accounts as accounts using (account_id)
left join customer_since using (account_id)
group by active_now.account_id, accounts.plan_id
order by active_now.account_id
