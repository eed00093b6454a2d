with events as (
    select * from {{ ref('subscription_events') }}
),

reporting_window as (
    select max(month) as latest_month from {{ ref('calendar') }}
),

all_accounts as (
    select distinct account_id from events
),

account_details as (
    select
        account_id,
        max_by(account_name, {{ sort_key('occurred_at', 'event_id') }}) as account_name,
        max_by(segment, {{ sort_key('occurred_at', 'event_id') }}) as segment,
        max_by(country, {{ sort_key('occurred_at', 'event_id') }}) as country,
        max_by(sales_owner, {{ sort_key('occurred_at', 'event_id') }}) as sales_owner
    from events
    where event_type = 'account_created'
    group by account_id
),

latest_terms as (
    select
        account_id,
        max_by(currency, {{ sort_key('effective_at', 'occurred_at', 'event_id') }}) filter (where currency is not null) as currency,
        max_by(plan_id, {{ sort_key('effective_at', 'occurred_at', 'event_id') }}) filter (where plan_id is not null) as plan_id
    from events
    where subscription_id is not null
    group by account_id
),

paid_history as (
    select account_id, min(month) as first_paid_month, max(month) as last_paid_month
    from {{ ref('account_mrr_monthly') }}
    group by account_id
),

current_mrr as (
    select account_mrr.account_id, account_mrr.mrr, account_mrr.plan_id
    from {{ ref('account_mrr_monthly') }} as account_mrr, reporting_window
    where account_mrr.month = reporting_window.latest_month
),

-- a subscription's trial month comes from all its events, whichever account they name (hence
-- restate_together: accounts sharing a subscription are restated together)
trial_starts as (
    select subscription_id, max({{ month_of("effective_at") }}) as trial_month
    from events
    where event_type = 'trial_started'
    group by subscription_id
),

current_states as (
    select
        periods.account_id,
        max(trial_starts.trial_month) filter (where periods.status = 'trialing') as open_trial_month,
        bool_or(periods.status = 'paused') as is_paused
    from {{ ref('subscription_periods') }} as periods
    cross join reporting_window
    left join trial_starts using (subscription_id)
    where periods.valid_to_month = reporting_window.latest_month
    group by periods.account_id
)

select
    all_accounts.account_id,
    account_details.account_name,
    account_details.segment,
    account_details.country,
    account_details.sales_owner,
    latest_terms.currency,
    coalesce(current_mrr.plan_id, latest_terms.plan_id) as plan_id,
    coalesce(current_mrr.mrr, 0)::decimal(18, 2) as mrr,
    paid_history.first_paid_month,
    case
        when current_mrr.mrr > 0 then 'active'
        -- a trial counts only if it began after the account last paid: the log has no trial end, so a
        -- trial left open on its own subscription while another one paid and churned is stale
        when current_states.open_trial_month > coalesce(paid_history.last_paid_month, date '0001-01-01')
            then 'trialing'
        when current_states.is_paused then 'paused'
        when paid_history.first_paid_month is not null then 'churned'
        else 'never_paid'
    end as status,
    paid_history.last_paid_month,
    plans.tier_rank
from all_accounts
left join account_details using (account_id)
left join latest_terms using (account_id)
left join paid_history using (account_id)
left join current_mrr using (account_id)
left join current_states using (account_id)
left join {{ source('raw', 'plans') }} as plans on plans.plan_id = coalesce(current_mrr.plan_id, latest_terms.plan_id)
order by all_accounts.account_id
