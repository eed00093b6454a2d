/*
description: >
  One row per paying subscription and month: its annualized revenue in its own currency and in USD at
  the month's rate. The grain below account_mrr_monthly (which does the same arithmetic per account),
  for plan mix (mrr_by_plan) and for BI. A view: mrr_by_plan sums it away, so writing ten million
  subscription-months to a table would cost more than expanding the periods again.
materialized: view
columns:
  month: First day of the month.
  arr_local: Annualized recurring revenue in the subscription's currency.
  usd_per_unit: The month's rate for the currency.
  arr_usd: arr_local converted at the month's rate, exact (not rounded).
  mrr: The subscription's own MRR in USD, rounded to the cent (account MRR rounds the account's sum once instead).
*/
with paying_periods as (
    select
        subscription_id, account_id, plan_id, currency, arr_local, valid_from_month, valid_to_month,
        -- the MRR at a rate of 1 (every USD month) is worked out once per period, not once per month
        monthly_usd_from_annual(arr_local) as mrr_at_par
    from intermediate.subscription_periods
    where arr_local > 0
),

-- a join with the calendar, not generate_series: the months come out as DATE without a cast
paying_months as (
    select
        paying_periods.subscription_id, paying_periods.account_id, paying_periods.plan_id,
        paying_periods.currency, paying_periods.arr_local, paying_periods.mrr_at_par, calendar.month
    from paying_periods
    join staging.calendar as calendar
        on calendar.month between paying_periods.valid_from_month and paying_periods.valid_to_month
)

select
    paying_months.subscription_id,
    paying_months.account_id,
    paying_months.month,
    paying_months.plan_id,
    paying_months.currency,
    paying_months.arr_local,
    rates.usd_per_unit,
    paying_months.arr_local * rates.usd_per_unit as arr_usd,
    case
        when rates.usd_per_unit = 1 then paying_months.mrr_at_par
        else monthly_usd_from_annual(paying_months.arr_local * rates.usd_per_unit)
    end as mrr
from paying_months
join staging.fx_rates_monthly as rates using (month, currency)
