with triangle as (
    select * from {{ ref('cohort_months') }}
),

cohort_members as (
    select account_id, first_paid_month as cohort_month
    from {{ ref('accounts') }}
    where first_paid_month is not null
),

cohort_collections as (
    select
        cohort_members.cohort_month,
        greatest(collected.month, cohort_members.cohort_month) as month,
        sum(collected.collected_usd) as collected_usd
    from cohort_members
    join {{ ref('collected_revenue_monthly') }} as collected using (account_id)
    group by cohort_members.cohort_month, greatest(collected.month, cohort_members.cohort_month)
),

cumulative as (
    select
        triangle.cohort_month,
        triangle.months_since_start,
        triangle.month,
        triangle.cohort_customers,
        coalesce(cohort_collections.collected_usd, 0)::decimal(18, 2) as collected_usd,
        sum(coalesce(cohort_collections.collected_usd, 0)) over (
            partition by triangle.cohort_month order by triangle.months_since_start
            rows between unbounded preceding and current row
        )::decimal(18, 2) as cumulative_collected_usd
    from triangle
    left join cohort_collections using (cohort_month, month)
)

select
    cohort_month,
    months_since_start,
    month,
    cohort_customers,
    collected_usd,
    cumulative_collected_usd,
    -- exact, rounded half away from zero (a DOUBLE division would round 96.665 down)
    {{ divide_money('cumulative_collected_usd', 'cohort_customers') }} as cumulative_revenue_per_customer
from cumulative
order by cohort_month, months_since_start
