/*
description: >
  The monthly MRR waterfall, one row per month with no gaps. It reconciles to the cent every month:
  opening + new + expansion + reactivation - contraction - churned + fx_adjustment = closing, and
  opening is the previous month's closing (SPEC §3). Contraction and churned are positive amounts.
columns:
  month: First day of the month.
  opening_mrr: Last month's closing MRR (USD, at last month's rates).
  new_mrr: MRR of accounts paying for the first time.
  expansion_mrr: MRR added by accounts that already paid last month.
  reactivation_mrr: MRR of accounts paying again after at least one month at zero.
  contraction_mrr: MRR lost by accounts that still pay (positive).
  churned_mrr: Last month's MRR (at this month's rate) of accounts that stopped paying (positive).
  fx_adjustment: Change of last month's MRR from re-valuing it at this month's FX rates.
  closing_mrr: MRR at the month's end; equals the sum of account_mrr_monthly for the month.
  opening_customers: Accounts with MRR > 0 last month.
  new_customers: Accounts with a new movement.
  reactivated_customers: Accounts with a reactivation movement.
  churned_customers: Accounts with a churn movement.
  closing_customers: Accounts with MRR > 0 at the month's end.
*/
with calendar as (
    select month from staging.calendar
),

bridge as (
    select * from intermediate.account_mrr_bridge
),

monthly as (
    select
        month,
        sum(prev_mrr_reported) as opening_mrr,
        sum(mrr_change) filter (where movement = 'new') as new_mrr,
        sum(mrr_change) filter (where movement = 'expansion') as expansion_mrr,
        sum(mrr_change) filter (where movement = 'reactivation') as reactivation_mrr,
        -sum(mrr_change) filter (where movement = 'contraction') as contraction_mrr,
        -sum(mrr_change) filter (where movement = 'churn') as churned_mrr,
        sum(fx_adjustment) as fx_adjustment,
        sum(mrr) as closing_mrr,
        count(*) filter (where prev_mrr_reported > 0) as opening_customers,
        count(*) filter (where movement = 'new') as new_customers,
        count(*) filter (where movement = 'reactivation') as reactivated_customers,
        count(*) filter (where movement = 'churn') as churned_customers,
        count(*) filter (where mrr > 0) as closing_customers
    from bridge
    group by month
)

select
    calendar.month,
    coalesce(opening_mrr, 0)::decimal(18, 2) as opening_mrr,
    coalesce(new_mrr, 0)::decimal(18, 2) as new_mrr,
    coalesce(expansion_mrr, 0)::decimal(18, 2) as expansion_mrr,
    coalesce(reactivation_mrr, 0)::decimal(18, 2) as reactivation_mrr,
    coalesce(contraction_mrr, 0)::decimal(18, 2) as contraction_mrr,
    coalesce(churned_mrr, 0)::decimal(18, 2) as churned_mrr,
    coalesce(fx_adjustment, 0)::decimal(18, 2) as fx_adjustment,
    coalesce(closing_mrr, 0)::decimal(18, 2) as closing_mrr,
    coalesce(opening_customers, 0) as opening_customers,
    coalesce(new_customers, 0) as new_customers,
    coalesce(reactivated_customers, 0) as reactivated_customers,
    coalesce(churned_customers, 0) as churned_customers,
    coalesce(closing_customers, 0) as closing_customers
from calendar
left join monthly using (month)
order by calendar.month
