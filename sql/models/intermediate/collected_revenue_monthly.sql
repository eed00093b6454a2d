with money_movements as (
    select account_id, event_type, {{ month_of("occurred_at") }} as month, amount, currency
    from {{ source('raw', 'billing_events') }}
    where event_type in ('payment_succeeded', 'refund_issued')
),

reporting_window as (
    select min(month) as first_month, max(month) as latest_month from {{ ref('calendar') }}
),

-- staging.fx_rates_monthly covers the calendar only: money moved before it (or after it, should the
-- calendar ever end earlier) takes the nearest calendar month's rate.
rated as (
    select
        money_movements.*,
        least(greatest(money_movements.month, reporting_window.first_month), reporting_window.latest_month)
            as rate_month
    from money_movements, reporting_window
),

converted as (
    select rated.*, rated.amount::decimal(38, 6) * rates.usd_per_unit as amount_usd
    from rated
    join {{ ref('fx_rates_monthly') }} as rates
        on rates.month = rated.rate_month
        and rates.currency = rated.currency
),

account_month as (
    select
        account_id,
        month,
        any_value(rate_month) as rate_month,
        round(coalesce(sum(amount_usd) filter (where event_type = 'payment_succeeded'), 0), 2)
            ::decimal(18, 2) as payments_usd,
        round(coalesce(sum(amount_usd) filter (where event_type = 'refund_issued'), 0), 2)
            ::decimal(18, 2) as refunds_usd,
        count(*) filter (where event_type = 'payment_succeeded') as payments,
        count(*) filter (where event_type = 'refund_issued') as refunds
    from converted
    group by account_id, month
)

select
    account_id,
    month,
    rate_month,
    payments_usd,
    refunds_usd,
    (payments_usd - refunds_usd)::decimal(18, 2) as collected_usd,
    payments,
    refunds
from account_month
-- no ORDER BY: only cohort_ltv reads this table, joining on account_id, and sorting its 6.3M rows at
-- the 1M-account scale cost 0.7 s of every run
