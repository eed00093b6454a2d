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

-- the latest rate published on or before each month (a join and a max, not DuckDB's ASOF JOIN, so
-- that Spark runs it too: a few hundred months by a few dozen currencies)
latest_published as (
    select currency_months.month, currency_months.currency, max(published_rates.month) as rate_month
    from currency_months
    left join published_rates
        on published_rates.currency = currency_months.currency
        and published_rates.month <= currency_months.month
    group by currency_months.month, currency_months.currency
),

carried_forward as (
    select latest_published.month, latest_published.currency, published_rates.usd_per_unit,
           latest_published.rate_month
    from latest_published
    left join published_rates
        on published_rates.currency = latest_published.currency
        and published_rates.month = latest_published.rate_month
),

first_published as (
    select currency, min_by(usd_per_unit, month) as usd_per_unit, min(month) as rate_month
    from published_rates group by currency
)

select
    carried_forward.month,
    carried_forward.currency,
    coalesce(carried_forward.usd_per_unit, first_published.usd_per_unit)::decimal(18, 10) as usd_per_unit,
    coalesce(carried_forward.rate_month, first_published.rate_month) as rate_month
from carried_forward
join first_published using (currency)
