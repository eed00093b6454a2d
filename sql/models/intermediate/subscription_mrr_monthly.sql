with paying_periods as (
    select subscription_id, account_id, plan_id, currency, arr_local, valid_from_month, valid_to_month
    from {{ ref('subscription_periods') }}
    where arr_local > 0
),

-- a join with the calendar, not generate_series: the months come out as DATE without a cast
paying_months as (
    select
        paying_periods.subscription_id, paying_periods.account_id, paying_periods.plan_id,
        paying_periods.currency, paying_periods.arr_local, calendar.month
    from paying_periods
    join {{ ref('calendar') }} as calendar
        on calendar.month between paying_periods.valid_from_month and paying_periods.valid_to_month
),

converted as (
    select paying_months.*, rates.usd_per_unit, paying_months.arr_local * rates.usd_per_unit as arr_usd
    from paying_months
    join {{ ref('fx_rates_monthly') }} as rates using (month, currency)
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
    {{ monthly_usd_from_annual("arr_usd") }} as mrr
from converted
