with plans as (
    select plan_id, tier_rank from {{ source('raw', 'plans') }}
),

-- each month's rate beside next month's (NULL in the latest month)
rates as (
    select this_month.month, this_month.currency, this_month.usd_per_unit,
           next_month_rates.usd_per_unit as next_month_usd_per_unit
    from {{ ref('fx_rates_monthly') }} as this_month
    left join {{ ref('fx_rates_monthly') }} as next_month_rates
        on next_month_rates.currency = this_month.currency
        and next_month_rates.month = {{ next_month("this_month.month") }}
),

paying_periods as (
    select subscription_id, account_id, plan_id, currency, arr_local, valid_from_month, valid_to_month
    from {{ ref('subscription_periods') }}
    where arr_local > 0
),

-- Most accounts pay through one subscription: their MRR, plan and currency are that subscription's, so
-- only accounts with several are grouped by month (sparing a hash aggregate over every account-month).
single_subscription_accounts as (
    select account_id
    from paying_periods
    group by account_id
    having min(subscription_id) = max(subscription_id)
),

single_subscription_periods as (
    select
        account_id, plan_id, currency, arr_local, valid_from_month, valid_to_month,
        -- a period's MRR at a rate of 1 (every USD month) is worked out once, not once per month
        {{ monthly_usd_from_annual("arr_local") }} as mrr_at_par
    from paying_periods
    semi join single_subscription_accounts using (account_id)
),

-- months come from a join with the calendar (DATE already), not generate_series
single_subscription_months as (
    select periods.*, calendar.month
    from single_subscription_periods as periods
    join {{ ref('calendar') }} as calendar
        on calendar.month between periods.valid_from_month and periods.valid_to_month
),

single_subscription_mrr as (
    select
        account_id, month, plan_id, currency, rates.usd_per_unit, rates.next_month_usd_per_unit, arr_local,
        case when rates.usd_per_unit = 1 then mrr_at_par
             else {{ monthly_usd_from_annual("arr_local * rates.usd_per_unit") }} end as mrr
    from single_subscription_months
    join rates using (month, currency)
),

several_subscription_periods as (
    select account_id, plan_id, currency, arr_local, valid_from_month, valid_to_month
    from paying_periods
    anti join single_subscription_accounts using (account_id)
),

several_subscription_months as (
    select periods.account_id, periods.plan_id, periods.currency, periods.arr_local, calendar.month
    from several_subscription_periods as periods
    join {{ ref('calendar') }} as calendar
        on calendar.month between periods.valid_from_month and periods.valid_to_month
),

account_month as (
    select
        account_id, month, mrr, plan_id, currency,
        1::bigint as subscriptions,
        -- most months keep their rate next month (USD, a rate carried forward): no second rounding
        case when next_month_usd_per_unit = usd_per_unit then mrr
             else {{ monthly_usd_from_annual("arr_local * next_month_usd_per_unit") }} end as mrr_at_next_month_rates
    from single_subscription_mrr

    union all

    select
        months.account_id,
        months.month,
        {{ monthly_usd_from_annual("sum(months.arr_local * rates.usd_per_unit)") }} as mrr,
        max_by(
            months.plan_id,
            {{ sort_key('months.arr_local * rates.usd_per_unit', 'coalesce(plans.tier_rank, -1)', 'months.plan_id') }}
        ) as plan_id,
        max_by(months.currency, {{ sort_key('months.arr_local * rates.usd_per_unit', 'months.currency') }}) as currency,
        count(*) as subscriptions,
        {{ monthly_usd_from_annual("sum(months.arr_local * rates.next_month_usd_per_unit)") }} as mrr_at_next_month_rates
    from several_subscription_months as months
    join rates using (month, currency)
    left join plans using (plan_id)
    group by months.account_id, months.month
)

select account_id, month, mrr, plan_id, currency, subscriptions, mrr_at_next_month_rates
from account_month
where mrr > 0
