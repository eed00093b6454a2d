/*
description: >
  For every account and month where it had MRR in the month or the month before: the previous month's
  MRR as reported, the same re-valued at this month's FX rate, this month's MRR, and the movement
  (SPEC §3). The waterfall and the movements are both sums of this table, which is why they reconcile.
  Built from each account's paying months in order: a month compares with the one before when that one
  paid, and the month after a run of paying months is a churn.
columns:
  month: First day of the month.
  prev_mrr_reported: Last month's MRR as reported last month (USD at last month's rate).
  prev_mrr: Last month's MRR re-valued at this month's rate; movements compare against it.
  mrr: This month's MRR.
  movement: new, expansion, contraction, churn, reactivation, or NULL when MRR did not change.
  mrr_change: mrr - prev_mrr.
  fx_adjustment: prev_mrr - prev_mrr_reported, the part of the change due to FX alone.
  first_paid_month: The account's first month with MRR > 0.
*/
with reporting_window as (
    select max(month) as latest_month from staging.calendar
),

paying_months as (
    select
        account_id,
        month,
        mrr,
        mrr_at_next_month_rates,
        lag(month) over account_history as previous_paying_month,
        lag(mrr) over account_history as previous_paying_mrr,
        lag(mrr_at_next_month_rates) over account_history as previous_paying_mrr_revalued,
        lead(month) over account_history as next_paying_month,
        first_value(month) over account_history as first_paid_month
    from marts.account_mrr_monthly
    window account_history as (partition by account_id order by month)
),

compared as (
    select
        account_id,
        month,
        case when previous_paying_month = previous_month(month) then previous_paying_mrr else 0 end
            as prev_mrr_reported,
        case when previous_paying_month = previous_month(month) then previous_paying_mrr_revalued else 0 end
            as prev_mrr,
        mrr,
        first_paid_month
    from paying_months

    union all

    -- the month after the last of a run of paying months, if the data reaches it: MRR went to 0
    select account_id, next_month(month), mrr, mrr_at_next_month_rates, 0, first_paid_month
    from paying_months, reporting_window
    where next_paying_month is distinct from next_month(month)
      and month < reporting_window.latest_month
),

classified as (
    select
        compared.*,
        case
            when prev_mrr = 0 and mrr > 0 and first_paid_month = month then 'new'
            when prev_mrr = 0 and mrr > 0 then 'reactivation'
            when prev_mrr > 0 and mrr = 0 then 'churn'
            when prev_mrr > 0 and mrr > prev_mrr then 'expansion'
            when mrr > 0 and mrr < prev_mrr then 'contraction'
        end as movement
    from compared
)

select
    account_id,
    month,
    prev_mrr_reported,
    prev_mrr,
    mrr,
    movement,
    (mrr - prev_mrr)::decimal(18, 2) as mrr_change,
    (prev_mrr - prev_mrr_reported)::decimal(18, 2) as fx_adjustment,
    first_paid_month
from classified
