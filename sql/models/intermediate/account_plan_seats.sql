with reporting_window as (
    select max(as_of) as as_of, max(month) as latest_month from {{ ref('calendar') }}
),

active_now as (
    select subscription_id, account_id, plan_id, quantity, mrr from {{ ref('subscriptions_in_force') }}
),

customer_since as (
    select events.account_id, min(events.effective_at) as customer_since
    from {{ ref('subscription_events') }} as events, reporting_window
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
join {{ ref('accounts') }} as accounts using (account_id)
left join customer_since using (account_id)
group by active_now.account_id, accounts.plan_id
order by active_now.account_id
