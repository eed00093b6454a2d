/*
description: >
  The plans each account pays for, month by month: one row per account, plan and month in which the
  account has at least one paying subscription on the plan at the month's end. The customers of a plan
  (mrr_by_plan) are a count of these rows; counting distinct accounts over every subscription-month
  instead cost about a second of every run at a million accounts. Restated per account.
materialized: incremental
unique_key: account_id
columns:
  account_id: The customer account.
  plan_id: A plan the account pays for at the month's end.
  month: First day of the month.
*/
select distinct account_id, plan_id, month
from intermediate.subscription_mrr_monthly
