/*
description: >
  Cohort LTV (docs/metrics.md): cumulative money collected per cohort customer, by cohort (first paid month) and
  month since its start k, over the same complete triangle as cohort_retention. Collected money is
  payments succeeded minus refunds, in USD at the collection month's FX rate, counted in the month it
  was collected; money collected before the cohort month (for example during a trial) counts in k = 0.
  Every cohort customer stays in the denominator after churning, so the curve flattens instead of falling.
columns:
  cohort_month: The cohort: first month with MRR > 0 of its accounts (DATE, first day).
  months_since_start: k, months since cohort_month (0 = the cohort month).
  month: The reporting month cohort_month + k.
  cohort_customers: Accounts in the cohort; the same for every k.
  collected_usd: Money the cohort's accounts collected in month cohort_month + k (payments - refunds, USD; k = 0 includes earlier months).
  cumulative_collected_usd: collected_usd summed from k = 0 to this k (USD).
  cumulative_revenue_per_customer: cumulative_collected_usd / cohort_customers, USD rounded half up to the cent.
*/
with triangle as (
    select * from intermediate.cohort_months
),

cohort_members as (
    select account_id, first_paid_month as cohort_month
    from marts.accounts
    where first_paid_month is not null
),

cohort_collections as (
    select
        cohort_members.cohort_month,
        greatest(collected.month, cohort_members.cohort_month) as month,
        sum(collected.collected_usd) as collected_usd
    from cohort_members
    join intermediate.collected_revenue_monthly as collected using (account_id)
    group by cohort_members.cohort_month, greatest(collected.month, cohort_members.cohort_month)
),

cumulative as (
    select
        triangle.cohort_month,
        triangle.months_since_start,
        triangle.month,
        triangle.cohort_customers,
        coalesce(cohort_collections.collected_usd, 0)::decimal(18, 2) as collected_usd,
        sum(coalesce(cohort_collections.collected_usd, 0)) over (
            partition by triangle.cohort_month order by triangle.months_since_start
            rows between unbounded preceding and current row
        )::decimal(18, 2) as cumulative_collected_usd
    from triangle
    left join cohort_collections using (cohort_month, month)
)

select
    cohort_month,
    months_since_start,
    month,
    cohort_customers,
    collected_usd,
    cumulative_collected_usd,
    -- Exact half-up rounding in integer cents: DuckDB divides DECIMALs in DOUBLE, which rounds 96.665 down.
    (
        sign(cumulative_collected_usd)
        * (((abs(cumulative_collected_usd) * 100)::hugeint * 2 + cohort_customers) // (2 * cohort_customers))
        * 0.01
    )::decimal(18, 2) as cumulative_revenue_per_customer
from cumulative
order by cohort_month, months_since_start
