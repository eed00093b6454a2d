with calendar as (
    select month from {{ ref('calendar') }}
),

latest_currency as (
    select account_id, max_by(currency, month) as currency
    from {{ ref('account_mrr_monthly') }}
    group by account_id
),

-- One fixed value per account and dimension, so an account never jumps between values from one month
-- to the next (that is what keeps opening = last month's closing within each value).
account_values as (
    select
        latest_currency.account_id,
        coalesce(accounts.segment, '(unknown)') as segment,
        coalesce(accounts.country, '(unknown)') as country,
        coalesce(latest_currency.currency, '(unknown)') as currency
    from latest_currency
    left join {{ ref('accounts') }} as accounts using (account_id)
),

-- each combination of values as a small integer: the join and grouping over ten million account-months
-- carry one integer instead of three texts
account_combinations as (
    select account_id, dense_rank() over (order by segment, country, currency) as combination_id,
           segment, country, currency
    from account_values
),

combinations as (
    select distinct combination_id, segment, country, currency from account_combinations
),

-- An account's month-end MRR and its movements, side by side: one grouping-sets pass then adds them up
-- for the three dimensions at once.
account_month_facts as (
    select
        account_id, month, mrr, mrr_at_next_month_rates - mrr as fx_change_into_next_month,
        cast(null as string) as movement, null::decimal(18, 2) as mrr_change
    from {{ ref('account_mrr_monthly') }}
    union all
    select account_id, month, null, null, movement, mrr_change
    from {{ ref('mrr_movements') }}
),

-- One pass over the account-months adds them up per month and combination of values (a few thousand
-- rows); the grouping sets then add those up per dimension. Sums of DECIMALs and counts add up exactly,
-- and three passes over ten million rows cost more than one.
combination_months as (
    select
        facts.month,
        account_combinations.combination_id,
        sum(facts.mrr) as closing_mrr,
        count(facts.mrr) as closing_customers,
        sum(facts.fx_change_into_next_month) as fx_change_into_next_month,
        sum(facts.mrr_change) filter (where facts.movement = 'new') as new_mrr,
        sum(facts.mrr_change) filter (where facts.movement = 'expansion') as expansion_mrr,
        sum(facts.mrr_change) filter (where facts.movement = 'reactivation') as reactivation_mrr,
        -sum(facts.mrr_change) filter (where facts.movement = 'contraction') as contraction_mrr,
        -sum(facts.mrr_change) filter (where facts.movement = 'churn') as churned_mrr,
        count(*) filter (where facts.movement = 'new') as new_customers,
        count(*) filter (where facts.movement = 'reactivation') as reactivated_customers,
        count(*) filter (where facts.movement = 'churn') as churned_customers
    from account_month_facts as facts
    join account_combinations using (account_id)
    group by facts.month, account_combinations.combination_id
),

combination_values as (
    select combination_months.*, combinations.segment, combinations.country, combinations.currency
    from combination_months
    join combinations using (combination_id)
),

by_value as (
    select
        month,
        case
            when grouping(segment) = 0 then 'segment'
            when grouping(country) = 0 then 'country'
            else 'currency'
        end as dimension,
        coalesce(segment, country, currency) as dimension_value,
        sum(closing_mrr) as closing_mrr,
        sum(closing_customers)::bigint as closing_customers,
        sum(fx_change_into_next_month) as fx_change_into_next_month,
        sum(new_mrr) as new_mrr,
        sum(expansion_mrr) as expansion_mrr,
        sum(reactivation_mrr) as reactivation_mrr,
        sum(contraction_mrr) as contraction_mrr,
        sum(churned_mrr) as churned_mrr,
        sum(new_customers)::bigint as new_customers,
        sum(reactivated_customers)::bigint as reactivated_customers,
        sum(churned_customers)::bigint as churned_customers
    from combination_values
    group by grouping sets ((month, segment), (month, country), (month, currency))
),

value_months as (
    select calendar.month, dimension_values.dimension, dimension_values.dimension_value
    from calendar
    cross join (select distinct dimension, dimension_value from by_value) as dimension_values
)

select
    value_months.month,
    value_months.dimension,
    value_months.dimension_value,
    coalesce(last_month.closing_mrr, 0)::decimal(18, 2) as opening_mrr,
    coalesce(this_month.new_mrr, 0)::decimal(18, 2) as new_mrr,
    coalesce(this_month.expansion_mrr, 0)::decimal(18, 2) as expansion_mrr,
    coalesce(this_month.reactivation_mrr, 0)::decimal(18, 2) as reactivation_mrr,
    coalesce(this_month.contraction_mrr, 0)::decimal(18, 2) as contraction_mrr,
    coalesce(this_month.churned_mrr, 0)::decimal(18, 2) as churned_mrr,
    coalesce(last_month.fx_change_into_next_month, 0)::decimal(18, 2) as fx_adjustment,
    coalesce(this_month.closing_mrr, 0)::decimal(18, 2) as closing_mrr,
    coalesce(last_month.closing_customers, 0) as opening_customers,
    coalesce(this_month.new_customers, 0) as new_customers,
    coalesce(this_month.reactivated_customers, 0) as reactivated_customers,
    coalesce(this_month.churned_customers, 0) as churned_customers,
    coalesce(this_month.closing_customers, 0) as closing_customers
from value_months
left join by_value as this_month
    on this_month.month = value_months.month
    and this_month.dimension = value_months.dimension
    and this_month.dimension_value = value_months.dimension_value
left join by_value as last_month
    on last_month.month = {{ previous_month("value_months.month") }}
    and last_month.dimension = value_months.dimension
    and last_month.dimension_value = value_months.dimension_value
order by value_months.dimension, value_months.dimension_value, value_months.month
