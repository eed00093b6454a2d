with reporting_window as (
    select max(month) as latest_month from {{ ref('calendar') }}
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
    from {{ ref('account_mrr_monthly') }}
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
    select account_id, {{ next_month("month") }}, mrr_at_next_month_rates, 0, first_paid_month
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
