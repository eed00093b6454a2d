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
  mrr_at_next_month_rates: The same subscriptions' MRR at next month's FX rates (equals mrr for USD; NULL in the latest month). Next month's movements compare against it, so FX alone is never a movement (SPEC §3).
*/
with subscription_mrr as (
    select * from intermediate.subscription_mrr_monthly
),

plans as (
    select plan_id, tier_rank from raw.plans
),

-- Most accounts pay through one subscription: each of their months is one row of subscription_mrr,
-- whose mrr, plan and currency are the account's (the same rounding of the same arr_usd). Only accounts
-- with several subscriptions are grouped, which spares a hash aggregate over every account-month.
single_subscription_accounts as (
    select account_id
    from subscription_mrr
    group by account_id
    having min(subscription_id) = max(subscription_id)
),

account_month as (
    select
        subscription_mrr.account_id,
        subscription_mrr.month,
        subscription_mrr.mrr,
        subscription_mrr.plan_id,
        subscription_mrr.currency,
        1::bigint as subscriptions,
        -- most amounts keep their rate (USD, a rate carried forward): no second rounding needed
        case
            when subscription_mrr.arr_usd_at_next_month_rates = subscription_mrr.arr_usd then subscription_mrr.mrr
            else monthly_usd_from_annual(subscription_mrr.arr_usd_at_next_month_rates)
        end as mrr_at_next_month_rates
    from subscription_mrr
    semi join single_subscription_accounts using (account_id)

    union all

    select
        subscription_mrr.account_id,
        subscription_mrr.month,
        monthly_usd_from_annual(sum(subscription_mrr.arr_usd)) as mrr,
        arg_max(
            subscription_mrr.plan_id,
            (subscription_mrr.arr_usd, coalesce(plans.tier_rank, -1), subscription_mrr.plan_id)
        ) as plan_id,
        arg_max(subscription_mrr.currency, (subscription_mrr.arr_usd, subscription_mrr.currency)) as currency,
        count(*) as subscriptions,
        monthly_usd_from_annual(sum(subscription_mrr.arr_usd_at_next_month_rates)) as mrr_at_next_month_rates
    from subscription_mrr
    anti join single_subscription_accounts using (account_id)
    left join plans using (plan_id)
    group by subscription_mrr.account_id, subscription_mrr.month
)

select account_id, month, mrr, plan_id, currency, subscriptions, mrr_at_next_month_rates
from account_month
where mrr > 0
