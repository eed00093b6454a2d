/*
description: >
  One row per account and month in which the account's MRR moved: new, expansion, contraction, churn or
  reactivation (SPEC §3). prev_mrr is last month's MRR re-valued at this month's FX rate, so FX alone
  never shows up as a movement; it goes to the waterfall's fx_adjustment.
columns:
  account_id: The customer account.
  month: First day of the month.
  movement: new (first MRR ever), reactivation (MRR again after a month at 0), expansion, contraction, or churn (MRR to 0).
  prev_mrr: Last month's MRR in USD re-valued at this month's rate.
  mrr: This month's MRR in USD.
  mrr_change: mrr - prev_mrr (negative for contraction and churn).
*/
with bridge as (
    select * from intermediate.account_mrr_bridge
)

select account_id, month, movement, prev_mrr, mrr, mrr_change
from bridge
where movement is not null
order by month, account_id
