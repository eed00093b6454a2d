-- What the churn model sees: one row per paying account and snapshot month, computed only from what was
-- known at the snapshot (the month's end; for the latest month the as-of instant). Every input is read up
-- to the snapshot's cutoff: events by occurred_at < cutoff, month-end states of the snapshot month or
-- earlier, usage of the snapshot month and the two before it. A closed month's row never changes when later
-- events arrive (tests/integration/test_churn_features.py appends some and checks), which is why the model
-- is incremental by snapshot month: a run computes the latest built month again and any newer one.
-- DuckDB only: the churn model reads the DuckDB warehouse, and these use DuckDB's SQL (FILTER, arg_max).
{{ config(
    enabled=target.type == 'duckdb',
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['snapshot_month'],
) }}

with snapshots as (
    select month as snapshot_month, month_end_cutoff as cutoff, is_latest_month
    from {{ ref('calendar') }}
    {% if is_incremental() %}
    where month >= (select max(snapshot_month) from {{ this }})
    {% endif %}
),

first_snapshot as (
    select min(snapshot_month) as month, min(cutoff) as cutoff from snapshots
),

-- account MRR per month, as marts.account_mrr_monthly computes it (the account's sum, rounded once)
account_mrr as (
    select account_id, month, {{ monthly_usd_from_annual("sum(arr_usd)") }} as mrr
    from {{ ref('subscription_mrr_monthly') }}
    group by all
),

paying as (
    select snapshots.*, account_mrr.account_id, account_mrr.mrr
    from snapshots
    join account_mrr on account_mrr.month = snapshots.snapshot_month
    where account_mrr.mrr > 0
),

-- each paying month with what came before it: windows over the account's months (a month number, so the
-- frames count calendar months even when the account paused)
first_paid as (
    select account_id, min(month) as first_paid_month from account_mrr where mrr > 0 group by all
),

account_history as (
    select
        account_mrr.account_id,
        account_mrr.month,
        max(account_mrr.mrr) over (
            partition by account_mrr.account_id order by year(account_mrr.month) * 12 + month(account_mrr.month)
            range between 3 preceding and 1 preceding
        ) as max_mrr_3m_before,
        max(account_mrr.mrr) over (
            partition by account_mrr.account_id order by year(account_mrr.month) * 12 + month(account_mrr.month)
            range between 3 preceding and 3 preceding
        ) as mrr_3m_ago
    from account_mrr, first_snapshot
    where account_mrr.mrr > 0 and account_mrr.month >= first_snapshot.month - interval 3 month
),

history as (
    select paying.account_id, paying.snapshot_month, first_paid.first_paid_month, h.max_mrr_3m_before, h.mrr_3m_ago
    from paying
    join account_history as h on h.account_id = paying.account_id and h.month = paying.snapshot_month
    join first_paid on first_paid.account_id = paying.account_id
),

-- the account's largest paying subscription at the snapshot month's end: plan, seats, interval
subscription_state as (
    select
        paying.account_id,
        paying.snapshot_month,
        arg_max(periods.plan_id, periods.arr_local) as plan_id,
        arg_max(periods.quantity, periods.arr_local) as quantity,
        arg_max(periods.billing_interval, periods.arr_local) as billing_interval,
        arg_max(periods.interval_count, periods.arr_local) as interval_count,
        arg_max(periods.discount_pct, periods.arr_local) as discount_pct
    from paying
    join {{ ref('subscription_periods') }} as periods
        on periods.account_id = paying.account_id
        and paying.snapshot_month between periods.valid_from_month and periods.valid_to_month
        and periods.arr_local > 0
    group by all
),

segments as (
    select
        paying.account_id,
        paying.snapshot_month,
        arg_max(created.segment, created.occurred_at) as segment,
        min(created.occurred_at) as created_at
    from paying
    join {{ source('raw', 'subscription_events') }} as created
        on created.account_id = paying.account_id
        and created.event_type = 'account_created'
        and created.occurred_at < paying.cutoff
    group by all
),

usage as (
    select
        paying.account_id,
        paying.snapshot_month,
        max(u.active_seats_daily_mean) filter (where u.month = paying.snapshot_month) as seats_m0,
        max(u.active_seats_daily_mean) filter (where u.month = paying.snapshot_month - interval 1 month) as seats_m1,
        max(u.active_seats_daily_mean) filter (where u.month = paying.snapshot_month - interval 2 month) as seats_m2,
        max(u.api_calls_daily_mean) filter (where u.month = paying.snapshot_month) as api_m0,
        max(u.api_calls_daily_mean) filter (where u.month = paying.snapshot_month - interval 1 month) as api_m1,
        max(u.api_calls_daily_mean) filter (where u.month = paying.snapshot_month - interval 2 month) as api_m2
    from paying
    join {{ ref('churn_usage_monthly') }} as u
        on u.account_id = paying.account_id
        and u.month between paying.snapshot_month - interval 2 month and paying.snapshot_month
    group by all
),

billing as (
    select billing.*
    from {{ source('raw', 'billing_events') }} as billing, first_snapshot
    where billing.event_type in ('payment_failed', 'payment_succeeded')
      and billing.occurred_at >= first_snapshot.month - interval 1 month
),

-- billing per account and month first: a snapshot then reads a few small rows instead of every event
billing_monthly as (
    select
        account_id,
        date_trunc('month', occurred_at)::date as month,
        count(*) filter (where event_type = 'payment_failed') as failed_payments,
        max(occurred_at) filter (where event_type = 'payment_failed') as last_failed_at,
        max(period_end) filter (where event_type = 'invoice_issued') as paid_through
    from {{ source('raw', 'billing_events') }}, first_snapshot
    where occurred_at >= first_snapshot.month - interval 13 month
    group by all
),

payments as (
    select
        paying.account_id,
        paying.snapshot_month,
        sum(b.failed_payments) filter (where b.month >= paying.snapshot_month - interval 2 month)
            as failed_payments_3m,
        max(b.last_failed_at) as last_failed_at,
        max(b.paid_through) as paid_through
    from paying
    join billing_monthly as b
        on b.account_id = paying.account_id
        and b.month between paying.snapshot_month - interval 12 month and paying.snapshot_month
    group by all
),

-- the churn-risk list's first rule at the snapshot: a failure of the last 30 days that nothing paid since
unpaid as (
    select paying.account_id, paying.snapshot_month, count(*) as unpaid_failed_payments
    from paying
    join billing as failed
        on failed.account_id = paying.account_id
        and failed.event_type = 'payment_failed'
        and failed.occurred_at < paying.cutoff
        and failed.occurred_at >= paying.cutoff - interval 30 day
    where not exists (
        select 1 from billing as paid
        where paid.event_type = 'payment_succeeded'
          and paid.occurred_at >= failed.occurred_at
          and paid.occurred_at < paying.cutoff
          and (paid.invoice_id = failed.invoice_id or paid.subscription_id = failed.subscription_id)
    )
    group by all
),

subscription_events as (
    select events.*
    from {{ source('raw', 'subscription_events') }} as events, first_snapshot
    where events.event_type in ('subscription_canceled', 'subscription_cancel_withdrawn', 'subscription_changed')
      and coalesce(events.effective_at, events.occurred_at) >= first_snapshot.month - interval 3 month
),

-- the list's second rule: a cancellation sent before the cutoff, taking effect after it, not withdrawn
-- before the cutoff (a withdrawal voids the cancellations sent before it and due after it)
cancellations as (
    select paying.account_id, paying.snapshot_month, min(c.effective_at) as cancels_at
    from paying
    join subscription_events as c
        on c.account_id = paying.account_id
        and c.event_type = 'subscription_canceled'
        and c.occurred_at < paying.cutoff
        and c.effective_at >= paying.cutoff
    where not exists (
        select 1 from subscription_events as w
        where w.event_type = 'subscription_cancel_withdrawn'
          and w.subscription_id = c.subscription_id
          and w.occurred_at < paying.cutoff
          and w.occurred_at > c.occurred_at
          and w.occurred_at < c.effective_at
    )
    group by all
),

changes_monthly as (
    select
        account_id,
        date_trunc('month', occurred_at)::date as month,
        count(*) filter (where effective_at > occurred_at) as changes_scheduled,
        count(*) filter (where discount_pct = 0) as discounts_removed
    from subscription_events
    where event_type = 'subscription_changed'
    group by all
),

changes as (
    select
        paying.account_id,
        paying.snapshot_month,
        sum(ch.changes_scheduled) as changes_scheduled_3m,
        sum(ch.discounts_removed) as discounts_removed_3m
    from paying
    join changes_monthly as ch
        on ch.account_id = paying.account_id
        and ch.month between paying.snapshot_month - interval 2 month and paying.snapshot_month
    group by all
),

plans as (
    select plan_id, tier_rank, seat_limit, api_call_limit from {{ source('raw', 'plans') }}
)

select
    paying.account_id,
    paying.snapshot_month,
    paying.cutoff as snapshot_at,
    paying.is_latest_month,
    segments.segment,
    state.plan_id,
    plans.tier_rank,
    state.billing_interval,
    state.interval_count,
    state.quantity,
    state.discount_pct,
    paying.mrr,
    datediff('month', history.first_paid_month, paying.snapshot_month) as tenure_months,
    datediff('day', segments.created_at, paying.cutoff) as account_age_days,
    history.mrr_3m_ago,
    coalesce(paying.mrr < history.max_mrr_3m_before, false) as mrr_contracted_3m,
    datediff('day', paying.cutoff::date, payments.paid_through + 1) as days_to_renewal,
    usage.seats_m0,
    usage.api_m0,
    usage.seats_m0 / nullif(usage.seats_m1, 0) as seats_trend_1m,
    usage.seats_m0 / nullif(usage.seats_m2, 0) as seats_trend_2m,
    usage.api_m0 / nullif(usage.api_m1, 0) as api_trend_1m,
    usage.api_m0 / nullif(usage.api_m2, 0) as api_trend_2m,
    usage.seats_m0 / nullif(state.quantity, 0) as seat_utilisation,
    usage.seats_m0 / nullif(plans.seat_limit, 0) as seat_limit_utilisation,
    usage.api_m0 * 30 / nullif(plans.api_call_limit, 0) as api_utilisation,
    coalesce(payments.failed_payments_3m, 0) as failed_payments_3m,
    datediff('day', payments.last_failed_at, paying.cutoff) as days_since_failed_payment,
    coalesce(unpaid.unpaid_failed_payments, 0) as unpaid_failed_payments,
    cancellations.cancels_at,
    cancellations.cancels_at is not null as cancellation_scheduled,
    coalesce(changes.changes_scheduled_3m, 0) as changes_scheduled_3m,
    coalesce(changes.discounts_removed_3m, 0) as discounts_removed_3m
from paying
left join history using (account_id, snapshot_month)
left join subscription_state as state using (account_id, snapshot_month)
left join segments using (account_id, snapshot_month)
left join plans on plans.plan_id = state.plan_id
left join usage using (account_id, snapshot_month)
left join payments using (account_id, snapshot_month)
left join unpaid using (account_id, snapshot_month)
left join cancellations using (account_id, snapshot_month)
left join changes using (account_id, snapshot_month)
