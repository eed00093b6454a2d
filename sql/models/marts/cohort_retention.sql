/*
description: >
  Cohort retention (docs/metrics.md): one row per cohort (accounts grouped by their first paid month) and month
  since its start k, a complete triangle up to the latest month: a month in which nobody is left has
  active_customers 0 and retention 0.0. Logo retention counts accounts paying in month c+k, so an account
  that churns and comes back counts again (it can rise with k); revenue retention is net (includes
  expansion and reactivation) and can exceed 1.
columns:
  cohort_month: The cohort: first month with MRR > 0 of its accounts (DATE, first day).
  months_since_start: k, months since cohort_month (0 = the cohort month).
  month: The reporting month cohort_month + k.
  cohort_customers: Accounts in the cohort; the same for every k.
  active_customers: Cohort accounts with MRR > 0 at the end of month cohort_month + k.
  logo_retention: active_customers / cohort_customers, a fraction (1.0 at k = 0), DECIMAL(18,6).
  cohort_starting_mrr: The cohort's MRR in its first month (USD).
  mrr: The cohort's MRR at the end of month cohort_month + k (USD, at that month's FX rate).
  revenue_retention: mrr / cohort_starting_mrr, a fraction (net: expansion and reactivation included; can exceed 1), DECIMAL(18,6).
*/
with triangle as (
    select * from intermediate.cohort_months
),

cohort_members as (
    select account_id, first_paid_month as cohort_month
    from marts.accounts
    where first_paid_month is not null
),

cohort_activity as (
    select
        cohort_members.cohort_month,
        account_mrr.month,
        count(*) as active_customers,
        sum(account_mrr.mrr) as mrr
    from cohort_members
    join marts.account_mrr_monthly as account_mrr using (account_id)
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
    round(coalesce(cohort_activity.mrr, 0) / nullif(triangle.cohort_starting_mrr, 0), 6)::decimal(18, 6)
        as revenue_retention
from triangle
left join cohort_activity using (cohort_month, month)
order by triangle.cohort_month, triangle.months_since_start
