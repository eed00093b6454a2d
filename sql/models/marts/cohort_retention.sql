with triangle as (
    select * from {{ ref('cohort_months') }}
),

cohort_members as (
    select account_id, first_paid_month as cohort_month
    from {{ ref('accounts') }}
    where first_paid_month is not null
),

cohort_activity as (
    select
        cohort_members.cohort_month,
        account_mrr.month,
        count(*) as active_customers,
        sum(account_mrr.mrr) as mrr
    from cohort_members
    join {{ ref('account_mrr_monthly') }} as account_mrr using (account_id)
    group by cohort_members.cohort_month, account_mrr.month
)

select
    triangle.cohort_month,
    triangle.months_since_start,
    triangle.month,
    triangle.cohort_customers,
    coalesce(cohort_activity.active_customers, 0) as active_customers,
    round(coalesce(cohort_activity.active_customers, 0) / triangle.cohort_customers, 6)::decimal(18, 6)
        as logo_retention,
    triangle.cohort_starting_mrr,
    coalesce(cohort_activity.mrr, 0)::decimal(18, 2) as mrr,
    round({{ ratio('coalesce(cohort_activity.mrr, 0)', 'nullif(triangle.cohort_starting_mrr, 0)') }}, 6)::decimal(18, 6)
        as revenue_retention
from triangle
left join cohort_activity using (cohort_month, month)
order by triangle.cohort_month, triangle.months_since_start
