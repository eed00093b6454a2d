/*
description: >
  The subscriptions active at the data's as-of instant, with what each pays now: one row per active
  subscription. subscription_periods leaves out events effective after as-of, so a subscription's latest
  period is the state in force. Its MRR is that of intermediate.subscription_mrr_monthly for the latest
  month, worked out for that month alone (0 when it pays nothing, e.g. a 100% discount).
materialized: incremental
unique_key: subscription_id
columns:
  subscription_id: The subscription.
  account_id: The customer account.
  plan_id: Its plan now.
  quantity: Seats now.
  mrr: Its MRR now in USD at the latest month's rate, rounded to the cent per subscription.
*/
with reporting_window as (
    select max(month) as latest_month from staging.calendar
),

latest_periods as (
    select periods.*
    from intermediate.subscription_periods as periods
    join reporting_window on periods.valid_to_month = reporting_window.latest_month
    where periods.status = 'active'
)

select
    latest_periods.subscription_id,
    latest_periods.account_id,
    latest_periods.plan_id,
    latest_periods.quantity,
    coalesce(monthly_usd_from_annual(latest_periods.arr_local * rates.usd_per_unit), 0)::decimal(18, 2) as mrr
from latest_periods
cross join reporting_window
left join staging.fx_rates_monthly as rates
    on rates.currency = latest_periods.currency
    and rates.month = reporting_window.latest_month
