/*
description: >
  One row per paying subscription and month: its annualized revenue in its own currency and in USD at
  the month's rate. The grain below account_mrr_monthly (which does the same arithmetic per account),
  for plan mix (mrr_by_plan). A table, restated per subscription: expanding every period over the
  calendar again on each run cost more than restating the subscriptions a day changed.
materialized: incremental
unique_key: subscription_id
columns:
  month: First day of the month.
  arr_local: Annualized recurring revenue in the subscription's currency.
  usd_per_unit: The month's rate for the currency.
  arr_usd: arr_local converted at the month's rate, exact (not rounded).
  mrr: The subscription's own MRR in USD, rounded to the cent (account MRR rounds the account's sum once instead).
*/
with paying_periods as (
    select subscription_id, account_id, plan_id, currency, arr_local, valid_from_month, valid_to_month
    from intermediate.subscription_periods
    where arr_local > 0
),

-- a join with the calendar, not generate_series: the months come out as DATE without a cast
paying_months as (
    select
        paying_periods.subscription_id, paying_periods.account_id, paying_periods.plan_id,
        paying_periods.currency, paying_periods.arr_local, calendar.month
    from paying_periods
    join staging.calendar as calendar
        on calendar.month between paying_periods.valid_from_month and paying_periods.valid_to_month
),

converted as (
    select paying_months.*, rates.usd_per_unit, paying_months.arr_local * rates.usd_per_unit as arr_usd
    from paying_months
    join staging.fx_rates_monthly as rates using (month, currency)
)

select
    subscription_id,
    account_id,
    month,
    plan_id,
    currency,
    arr_local,
    usd_per_unit,
    arr_usd,
    monthly_usd_from_annual(arr_usd) as mrr
from converted
