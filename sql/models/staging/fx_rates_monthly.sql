with calendar as (
    select month from {{ ref('calendar') }}
),

published_rates as (
    select month, currency, usd_per_unit from {{ source('raw', 'fx_rates') }} where currency <> 'USD'
    union all
    select month, 'USD', 1 from calendar
),

currency_months as (
    select calendar.month, currencies.currency
    from calendar cross join (select distinct currency from published_rates) as currencies
),

carried_forward as (
    select currency_months.month, currency_months.currency, published_rates.usd_per_unit,
           published_rates.month as rate_month
    from currency_months
    asof left join published_rates
        on published_rates.currency = currency_months.currency
        and published_rates.month <= currency_months.month
),

first_published as (
    select currency, arg_min(usd_per_unit, month) as usd_per_unit, min(month) as rate_month
    from published_rates group by currency
)

select
    carried_forward.month,
    carried_forward.currency,
    coalesce(carried_forward.usd_per_unit, first_published.usd_per_unit)::decimal(18, 10) as usd_per_unit,
    coalesce(carried_forward.rate_month, first_published.rate_month) as rate_month
from carried_forward
join first_published using (currency)
