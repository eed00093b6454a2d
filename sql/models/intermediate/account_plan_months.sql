/*
description: >
  The plans each account pays for, month by month: one row per account, plan and month in which the
  account has at least one paying subscription on the plan at the month's end (the months of
  intermediate.subscription_mrr_monthly). The customers of a plan (mrr_by_plan) are a count of these
  rows; counting distinct accounts over every subscription-month instead cost about a second of every
  run at a million accounts. Restated per account, from the subscription periods (whose restated
  accounts are logged for marts.account_mrr_monthly already).
materialized: incremental
unique_key: account_id
columns:
  account_id: The customer account.
  plan_id: A plan the account pays for at the month's end.
  month: First day of the month.
*/
with paying_periods as (
    select account_id, plan_id, currency, valid_from_month, valid_to_month
    from intermediate.subscription_periods
    where arr_local > 0
),

paying_months as (
    select paying_periods.account_id, paying_periods.plan_id, paying_periods.currency, calendar.month
    from paying_periods
    join staging.calendar as calendar
        on calendar.month between paying_periods.valid_from_month and paying_periods.valid_to_month
)

-- as in subscription_mrr_monthly, a month counts where the currency has the month's rate
select distinct paying_months.account_id, paying_months.plan_id, paying_months.month
from paying_months
semi join staging.fx_rates_monthly as rates
    on rates.month = paying_months.month and rates.currency = paying_months.currency
