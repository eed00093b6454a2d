/*
description: >
  The USD rate of every currency for every reporting month. A month without a rate takes the latest
  earlier one (docs/input-format.md); months before a currency's first rate take that first rate. USD is always 1.
columns:
  month: First day of the month.
  currency: ISO currency code.
  usd_per_unit: USD per unit of the currency, used for every amount of the month.
  rate_month: The month whose published rate is used (earlier than month when carried forward).
*/
with calendar as (
    select month from staging.calendar
),

published_rates as (
    select month, currency, usd_per_unit from raw.fx_rates where currency <> 'USD'
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
