/*
description: >
  One row per account and month in which the account has MRR > 0 (an account is absent in months it
  pays nothing). MRR is the sum of its subscriptions' MRR in force at the month's end, converted to USD
  at the month's rate and rounded to the cent once per account (SPEC §2).
columns:
  account_id: The customer account.
  month: First day of the month.
  mrr: Monthly recurring revenue in USD at the month's end (DECIMAL, rounded to the cent).
  plan_id: The plan of the account's largest subscription by MRR (ties: higher tier_rank).
  currency: The currency of that subscription.
  subscriptions: Paying subscriptions of the account at the month's end.
*/
with subscription_mrr as (
    select * from intermediate.subscription_mrr_monthly
),

plans as (
    select plan_id, tier_rank from raw.plans
),

account_month as (
    select
        subscription_mrr.account_id,
        subscription_mrr.month,
        monthly_usd_from_annual(sum(subscription_mrr.arr_usd)) as mrr,
        arg_max(
            subscription_mrr.plan_id,
            (subscription_mrr.arr_usd, coalesce(plans.tier_rank, -1), subscription_mrr.plan_id)
        ) as plan_id,
        arg_max(subscription_mrr.currency, (subscription_mrr.arr_usd, subscription_mrr.currency)) as currency,
        count(*) as subscriptions
    from subscription_mrr
    left join plans using (plan_id)
    group by subscription_mrr.account_id, subscription_mrr.month
)

select account_id, month, mrr, plan_id, currency, subscriptions
from account_month
where mrr > 0
