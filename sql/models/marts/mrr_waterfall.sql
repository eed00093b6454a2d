/*
description: >
  The monthly MRR waterfall, one row per month with no gaps. It reconciles to the cent every month:
  opening + new + expansion + reactivation - contraction - churned + fx_adjustment = closing, and
  opening is the previous month's closing (docs/metrics.md). Contraction and churned are positive amounts.
  Opening, closing and FX come from marts.account_mrr_monthly, the movements from marts.mrr_movements;
  they add up because a movement's prev_mrr is last month's MRR re-valued at this month's rates, the
  same amount the FX adjustment re-values.
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

month_end as (
    select
        month,
        sum(mrr) as closing_mrr,
        count(*) as closing_customers,
        -- what re-valuing the month's MRR at next month's rates adds: next month's FX adjustment
        sum(mrr_at_next_month_rates - mrr) as fx_change_into_next_month
    from marts.account_mrr_monthly
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
    from marts.mrr_movements
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
left join month_end as last_month on last_month.month = previous_month(calendar.month)
left join moved on moved.month = calendar.month
order by calendar.month
