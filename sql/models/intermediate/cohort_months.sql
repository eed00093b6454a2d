/*
description: >
  The cohort triangle both cohort marts share: one row per cohort and month since its start, from k = 0
  (the cohort month) to the latest reporting month, with no gaps, so a month in which nobody of the
  cohort is left still has its row. An account's cohort is its first paid month (docs/metrics.md).
columns:
  cohort_month: The cohort: first month with MRR > 0 of its accounts.
  months_since_start: k, months between cohort_month and month (0 for the cohort month itself).
  month: The reporting month cohort_month + k.
  cohort_customers: Accounts in the cohort (fixed: it never changes with k).
  cohort_starting_mrr: The cohort's MRR in its first month (USD, at that month's rate).
*/
with calendar as (
    select month from staging.calendar
),

cohort_members as (
    select account_id, first_paid_month as cohort_month
    from marts.accounts
    where first_paid_month is not null
),

starting_mrr as (
    select cohort_members.cohort_month, sum(account_mrr.mrr) as cohort_starting_mrr, count(*) as cohort_customers
    from cohort_members
    join marts.account_mrr_monthly as account_mrr
        on account_mrr.account_id = cohort_members.account_id
        and account_mrr.month = cohort_members.cohort_month
    group by cohort_members.cohort_month
)

select
    starting_mrr.cohort_month,
    datediff('month', starting_mrr.cohort_month, calendar.month) as months_since_start,
    calendar.month,
    starting_mrr.cohort_customers,
    starting_mrr.cohort_starting_mrr::decimal(18, 2) as cohort_starting_mrr
from starting_mrr
join calendar on calendar.month >= starting_mrr.cohort_month
order by starting_mrr.cohort_month, months_since_start
