/*
description: >
  The MRR waterfall split by segment, by country and by currency: one row per month, dimension and value,
  every month for every value (zeros where a value had nothing). Built from the same account bridge as
  marts.mrr_waterfall, so each value reconciles on its own (opening + new + expansion + reactivation -
  contraction - churned + fx_adjustment = closing, opening = last month's closing) and the values of a
  dimension add up to the waterfall. An account's segment and country are its current ones (marts.accounts)
  and its currency that of its latest paying month, for its whole history: when an account moves segment,
  its past months move with it (history is restated).
columns:
  month: First day of the month.
  dimension: segment, country or currency.
  dimension_value: The account's current segment or country (marts.accounts), or the currency of its largest subscription in its latest paying month; '(unknown)' when missing.
  opening_mrr: Last month's closing MRR of the value's accounts (USD, at last month's rates).
  new_mrr: MRR of accounts paying for the first time.
  expansion_mrr: MRR added by accounts that already paid last month.
  reactivation_mrr: MRR of accounts paying again after at least one month at zero.
  contraction_mrr: MRR lost by accounts that still pay (positive).
  churned_mrr: Last month's MRR (at this month's rate) of accounts that stopped paying (positive).
  fx_adjustment: Change of last month's MRR from re-valuing it at this month's FX rates.
  closing_mrr: MRR of the value's accounts at the month's end.
  opening_customers: The value's accounts with MRR > 0 last month.
  new_customers: Accounts with a new movement.
  reactivated_customers: Accounts with a reactivation movement.
  churned_customers: Accounts with a churn movement.
  closing_customers: The value's accounts with MRR > 0 at the month's end.
*/
with calendar as (
    select month from staging.calendar
),

bridge as (
    select * from intermediate.account_mrr_bridge
),

latest_currency as (
    select account_id, arg_max(currency, month) as currency
    from marts.account_mrr_monthly
    group by account_id
),

-- One fixed value per account and dimension, so an account never jumps between values from one month
-- to the next (that is what keeps opening = last month's closing within each value).
account_values as (
    select
        bridge_accounts.account_id,
        coalesce(accounts.segment, '(unknown)') as segment,
        coalesce(accounts.country, '(unknown)') as country,
        coalesce(latest_currency.currency, '(unknown)') as currency
    from (select distinct account_id from bridge) as bridge_accounts
    left join marts.accounts as accounts using (account_id)
    left join latest_currency using (account_id)
),

account_dimension_values as (
    select account_id, 'segment' as dimension, segment as dimension_value from account_values
    union all
    select account_id, 'country', country from account_values
    union all
    select account_id, 'currency', currency from account_values
),

by_value as (
    select
        bridge.month,
        account_dimension_values.dimension,
        account_dimension_values.dimension_value,
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
    join account_dimension_values using (account_id)
    group by bridge.month, account_dimension_values.dimension, account_dimension_values.dimension_value
),

value_months as (
    select calendar.month, dimension_values.dimension, dimension_values.dimension_value
    from calendar
    cross join (select distinct dimension, dimension_value from account_dimension_values) as dimension_values
)

select
    value_months.month,
    value_months.dimension,
    value_months.dimension_value,
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
from value_months
left join by_value using (month, dimension, dimension_value)
order by value_months.dimension, value_months.dimension_value, value_months.month
