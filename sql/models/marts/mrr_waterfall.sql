with calendar as (
    select month from {{ ref('calendar') }}
),

month_end as (
    select
        month,
        sum(mrr) as closing_mrr,
        count(*) as closing_customers,
        -- what re-valuing the month's MRR at next month's rates adds: next month's FX adjustment
        sum(mrr_at_next_month_rates - mrr) as fx_change_into_next_month
    from {{ ref('account_mrr_monthly') }}
    group by month
),

moved as (
    select
        month,
        sum(mrr_change) filter (where movement = 'new') as new_mrr,
        sum(mrr_change) filter (where movement = 'expansion') as expansion_mrr,
        sum(mrr_change) filter (where movement = 'reactivation') as reactivation_mrr,
        -sum(mrr_change) filter (where movement = 'contraction') as contraction_mrr,
        -sum(mrr_change) filter (where movement = 'churn') as churned_mrr,
        count(*) filter (where movement = 'new') as new_customers,
        count(*) filter (where movement = 'reactivation') as reactivated_customers,
        count(*) filter (where movement = 'churn') as churned_customers
    from {{ ref('mrr_movements') }}
    group by month
)

select
    calendar.month,
    coalesce(last_month.closing_mrr, 0)::decimal(18, 2) as opening_mrr,
    coalesce(moved.new_mrr, 0)::decimal(18, 2) as new_mrr,
    coalesce(moved.expansion_mrr, 0)::decimal(18, 2) as expansion_mrr,
    coalesce(moved.reactivation_mrr, 0)::decimal(18, 2) as reactivation_mrr,
    coalesce(moved.contraction_mrr, 0)::decimal(18, 2) as contraction_mrr,
    coalesce(moved.churned_mrr, 0)::decimal(18, 2) as churned_mrr,
    coalesce(last_month.fx_change_into_next_month, 0)::decimal(18, 2) as fx_adjustment,
    coalesce(this_month.closing_mrr, 0)::decimal(18, 2) as closing_mrr,
    coalesce(last_month.closing_customers, 0) as opening_customers,
    coalesce(moved.new_customers, 0) as new_customers,
    coalesce(moved.reactivated_customers, 0) as reactivated_customers,
    coalesce(moved.churned_customers, 0) as churned_customers,
    coalesce(this_month.closing_customers, 0) as closing_customers
from calendar
left join month_end as this_month on this_month.month = calendar.month
left join month_end as last_month on last_month.month = {{ previous_month("calendar.month") }}
left join moved on moved.month = calendar.month
order by calendar.month
