/*
description: >
  One row per paying subscription and month: its annualized revenue in its own currency and in USD at
  the month's rate. The grain below account_mrr_monthly; plan mix (mrr_by_plan) and an account's plan
  come from here.
columns:
  month: First day of the month.
  arr_local: Annualized recurring revenue in the subscription's currency.
  usd_per_unit: The month's rate for the currency.
  arr_usd: arr_local converted at the month's rate, exact (not rounded).
  mrr: The subscription's own MRR in USD, rounded to the cent (account MRR rounds the account's sum once instead).
  arr_usd_at_next_month_rates: arr_local converted at next month's rate, exact (NULL in the latest month): what next month's movements compare against (SPEC §3).
*/
with paying_periods as (
    select * from intermediate.subscription_periods where arr_local > 0
),

paying_months as (
    select
        subscription_id, account_id, plan_id, currency, arr_local,
        unnest(generate_series(valid_from_month, valid_to_month, interval 1 month))::date as month
    from paying_periods
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
    monthly_usd_from_annual(paying_months.arr_local * rates.usd_per_unit) as mrr,
    paying_months.arr_local * next_month_rates.usd_per_unit as arr_usd_at_next_month_rates
from paying_months
join staging.fx_rates_monthly as rates using (month, currency)
left join staging.fx_rates_monthly as next_month_rates
    on next_month_rates.currency = paying_months.currency
    and next_month_rates.month = next_month(paying_months.month)
