with waterfall as (
    select * from {{ ref('mrr_waterfall') }}
),

settings as (
    select '{{ var("gross_margin", "1.0") }}'::decimal(18, 6) as gross_margin
),

account_mrr as (
    select account_id, month, mrr from {{ ref('account_mrr_monthly') }}
),

-- NRR/GRR 12m: the accounts paying in M-12, and what each pays in M (0 once gone).
year_ago_accounts as (
    select
        waterfall.month,
        year_ago.mrr as year_ago_mrr,
        coalesce(this_month.mrr, 0) as mrr
    from waterfall
    join account_mrr as year_ago
        on year_ago.month = (waterfall.month - interval 12 month)::date
    left join account_mrr as this_month
        on this_month.account_id = year_ago.account_id
        and this_month.month = waterfall.month
),

twelve_month_retention as (
    select
        month,
        sum(year_ago_mrr) as year_ago_mrr,
        sum(mrr) as retained_mrr,
        sum(least(mrr, year_ago_mrr)) as gross_retained_mrr
    from year_ago_accounts
    group by month
),

-- Unrounded rates (DOUBLE on both engines, macros/portable.sql ratio); rounded once, in the final select.
monthly_rates as (
    select
        waterfall.*,
        churned_customers / nullif(opening_customers, 0) as logo_churn_rate,
        {{ ratio('(churned_mrr + contraction_mrr)', 'nullif(opening_mrr, 0)') }} as gross_mrr_churn_rate,
        {{ ratio('(churned_mrr + contraction_mrr - expansion_mrr - reactivation_mrr)', 'nullif(opening_mrr, 0)') }}
            as net_mrr_churn_rate,
        {{ ratio('(opening_mrr + expansion_mrr - contraction_mrr - churned_mrr)', 'nullif(opening_mrr, 0)') }} as nrr,
        {{ ratio('(opening_mrr - contraction_mrr - churned_mrr)', 'nullif(opening_mrr, 0)') }} as grr,
        {{ ratio('(new_mrr + expansion_mrr + reactivation_mrr)', 'nullif(churned_mrr + contraction_mrr, 0)') }} as quick_ratio,
        {{ ratio('closing_mrr', 'nullif(closing_customers, 0)') }} as arpa_unrounded
    from waterfall
),

-- LTV's churn: the mean of the 6 monthly rates before M (ChartMogul), only when all 6 have a rate.
trailing_churn as (
    select
        *,
        avg(logo_churn_rate) over previous_six as trailing_mean,
        count(logo_churn_rate) over previous_six as trailing_months_with_rate
    from monthly_rates
    window previous_six as (order by month rows between 6 preceding and 1 preceding)
)

select
    trailing_churn.month,
    closing_mrr as mrr,
    (closing_mrr * 12)::decimal(18, 2) as arr,
    closing_customers as customers,
    -- exact, rounded half away from zero (a DOUBLE division would round 96.665 down)
    {{ divide_money('closing_mrr', 'closing_customers') }} as arpa,
    round(logo_churn_rate, 6)::decimal(18, 6) as logo_churn_rate,
    round(gross_mrr_churn_rate, 6)::decimal(18, 6) as gross_mrr_churn_rate,
    round(net_mrr_churn_rate, 6)::decimal(18, 6) as net_mrr_churn_rate,
    round(nrr, 6)::decimal(18, 6) as nrr,
    round(grr, 6)::decimal(18, 6) as grr,
    round({{ ratio('retained_mrr', 'nullif(twelve_month_retention.year_ago_mrr, 0)') }}, 6)::decimal(18, 6) as nrr_12m,
    round({{ ratio('gross_retained_mrr', 'nullif(twelve_month_retention.year_ago_mrr, 0)') }}, 6)::decimal(18, 6) as grr_12m,
    round(quick_ratio, 6)::decimal(18, 6) as quick_ratio,
    case
        when trailing_months_with_rate = 6 and trailing_mean > 0
        then round(arpa_unrounded * settings.gross_margin / trailing_mean, 2)::decimal(18, 2)
    end as ltv,
    case when trailing_months_with_rate = 6 then round(trailing_mean, 6)::decimal(18, 6) end
        as trailing_logo_churn_rate_6m,
    settings.gross_margin
from trailing_churn
cross join settings
left join twelve_month_retention using (month)
order by trailing_churn.month
