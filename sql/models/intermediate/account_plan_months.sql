with paying_periods as (
    select account_id, plan_id, currency, valid_from_month, valid_to_month
    from {{ ref('subscription_periods') }}
    where arr_local > 0
),

paying_months as (
    select paying_periods.account_id, paying_periods.plan_id, paying_periods.currency, calendar.month
    from paying_periods
    join {{ ref('calendar') }} as calendar
        on calendar.month between paying_periods.valid_from_month and paying_periods.valid_to_month
)

-- as in subscription_mrr_monthly, a month counts where the currency has the month's rate
select distinct paying_months.account_id, paying_months.plan_id, paying_months.month
from paying_months
semi join {{ ref('fx_rates_monthly') }} as rates
    on rates.month = paying_months.month and rates.currency = paying_months.currency
