/*
description: >
  One row per account and month in which the account's MRR moved: new, expansion, contraction, churn or
  reactivation (docs/metrics.md). prev_mrr is last month's MRR re-valued at this month's FX rate, so FX alone
  never shows up as a movement; it goes to the waterfall's fx_adjustment. Built from each account's
  paying months in order: a month compares with the one before when that one paid, and the month after
  a run of paying months is a churn (when the data reaches it).
replaces: intermediate.account_mrr_bridge
materialized: incremental
unique_key: account_id
columns:
  account_id: The customer account.
  month: First day of the month.
  movement: new (first MRR ever), reactivation (MRR again after a month at 0), expansion, contraction, or churn (MRR to 0).
  prev_mrr: Last month's MRR in USD re-valued at this month's rate.
  mrr: This month's MRR in USD.
  mrr_change: mrr - prev_mrr (negative for contraction and churn).
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
        lag(mrr_at_next_month_rates) over account_history as previous_paying_mrr_revalued,
        lead(month) over account_history as next_paying_month,
        first_value(month) over account_history as first_paid_month
    from marts.account_mrr_monthly
    window account_history as (partition by account_id order by month)
),

-- Months are first days: the month before lies 28-31 days back, any earlier month at least 59, so
-- comparing days is the same test as previous_month()/next_month() without date-interval arithmetic on
-- every account-month.
compared as (
    select
        account_id,
        month,
        case when previous_paying_month >= month - 31 then previous_paying_mrr_revalued else 0 end
            as prev_mrr,
        mrr,
        first_paid_month
    from paying_months

    union all

    -- the month after the last of a run of paying months, if the data reaches it: MRR went to 0
    select account_id, next_month(month), mrr_at_next_month_rates, 0, first_paid_month
    from paying_months, reporting_window
    where (next_paying_month is null or next_paying_month > month + 31)
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

select account_id, month, movement, prev_mrr, mrr, (mrr - prev_mrr)::decimal(18, 2) as mrr_change
from classified
where movement is not null
order by month, account_id
