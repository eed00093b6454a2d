with calendar as (
    select month from {{ ref('calendar') }}
),

cohort_members as (
    select account_id, first_paid_month as cohort_month
    from {{ ref('accounts') }}
    where first_paid_month is not null
),

starting_mrr as (
    select cohort_members.cohort_month, sum(account_mrr.mrr) as cohort_starting_mrr, count(*) as cohort_customers
    from cohort_members
    join {{ ref('account_mrr_monthly') }} as account_mrr
        on account_mrr.account_id = cohort_members.account_id
        and account_mrr.month = cohort_members.cohort_month
    group by cohort_members.cohort_month
)

select
    starting_mrr.cohort_month,
    cast((year(calendar.month) - year(starting_mrr.cohort_month)) * 12
         + month(calendar.month) - month(starting_mrr.cohort_month) as bigint) as months_since_start,
    calendar.month,
    starting_mrr.cohort_customers,
    starting_mrr.cohort_starting_mrr::decimal(18, 2) as cohort_starting_mrr
from starting_mrr
join calendar on calendar.month >= starting_mrr.cohort_month
order by starting_mrr.cohort_month, months_since_start
