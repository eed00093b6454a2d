with reporting_window as (
    select max(month) as latest_month from {{ ref('calendar') }}
),

latest_periods as (
    select periods.*
    from {{ ref('subscription_periods') }} as periods
    join reporting_window on periods.valid_to_month = reporting_window.latest_month
    where periods.status = 'active'
)

select
    latest_periods.subscription_id,
    latest_periods.account_id,
    latest_periods.plan_id,
    latest_periods.quantity,
    coalesce({{ monthly_usd_from_annual("latest_periods.arr_local * rates.usd_per_unit") }}, 0)::decimal(18, 2) as mrr
from latest_periods
cross join reporting_window
left join {{ ref('fx_rates_monthly') }} as rates
    on rates.currency = latest_periods.currency
    and rates.month = reporting_window.latest_month
