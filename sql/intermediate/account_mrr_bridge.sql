/*
description: >
  For every account and month where it had MRR in the month or the month before: the previous month's
  MRR as reported, the same re-valued at this month's FX rate, this month's MRR, and the movement
  (SPEC §3). The waterfall and the movements are both sums of this table, which is why they reconcile.
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
with calendar as (
    select month from staging.calendar
),

account_month as (
    select account_id, month, mrr from marts.account_mrr_monthly
),

first_paid as (
    select account_id, min(month) as first_paid_month from account_month group by account_id
),

arr_by_currency as (
    select account_id, month, currency, sum(arr_local) as arr_local
    from intermediate.subscription_mrr_monthly
    group by account_id, month, currency
),

previous_month_revalued as (
    select
        arr_by_currency.account_id,
        rates.month,
        monthly_usd_from_annual(sum(arr_by_currency.arr_local * rates.usd_per_unit)) as prev_mrr
    from arr_by_currency
    join staging.fx_rates_monthly as rates
        on rates.currency = arr_by_currency.currency
        and rates.month = next_month(arr_by_currency.month)
    group by arr_by_currency.account_id, rates.month
),

previous_month_reported as (
    select account_id, next_month(month) as month, mrr as prev_mrr_reported
    from account_month
    where next_month(month) in (select month from calendar)
),

compared as (
    select
        account_id,
        month,
        coalesce(previous_month_reported.prev_mrr_reported, 0) as prev_mrr_reported,
        coalesce(previous_month_revalued.prev_mrr, 0) as prev_mrr,
        coalesce(account_month.mrr, 0) as mrr
    from account_month
    full join previous_month_reported using (account_id, month)
    left join previous_month_revalued using (account_id, month)
),

classified as (
    select
        compared.*,
        first_paid.first_paid_month,
        case
            when prev_mrr = 0 and mrr > 0 and first_paid.first_paid_month = compared.month then 'new'
            when prev_mrr = 0 and mrr > 0 then 'reactivation'
            when prev_mrr > 0 and mrr = 0 then 'churn'
            when prev_mrr > 0 and mrr > prev_mrr then 'expansion'
            when mrr > 0 and mrr < prev_mrr then 'contraction'
        end as movement
    from compared
    join first_paid using (account_id)
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
