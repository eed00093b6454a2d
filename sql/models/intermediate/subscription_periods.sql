with reporting_window as (
    select max(as_of) as as_of, max(month) as latest_month from {{ ref('calendar') }}
),

applicable_events as (
    select events.*
    from {{ ref('subscription_events') }} as events, reporting_window
    where events.subscription_id is not null
      and events.effective_at <= reporting_window.as_of
      -- a withdrawal changes no state: the cancellations it voids are already left out (staging)
      and events.event_type <> 'subscription_cancel_withdrawn'
),

running_state as (
    select
        subscription_id,
        {{ month_of("effective_at") }} as effective_month,
        {{ last_non_null('account_id') }} over running as account_id,
        {{ last_non_null('plan_id') }} over running as plan_id,
        {{ last_non_null('billing_interval') }} over running as billing_interval,
        {{ last_non_null('quantity') }} over running as quantity,
        {{ last_non_null('unit_price') }} over running as unit_price,
        {{ last_non_null('currency') }} over running as currency,
        {{ last_non_null('discount_pct') }} over running as discount_pct,
        {{ last_non_null('discount_amount') }} over running as discount_amount,
        {{ last_non_null('interval_count') }} over running as interval_count,
        {{ last_non_null("case event_type
                when 'trial_started' then 'trialing'
                when 'subscription_started' then 'active'
                when 'subscription_resumed' then 'active'
                when 'subscription_paused' then 'paused'
                when 'subscription_canceled' then 'canceled'
            end") }} over running as status,
        bool_or(event_type in ('trial_started', 'subscription_started')) over running as has_started,
        -- The last event of a month holds the month-end state, which lasts until the month before the
        -- next event's month (that month has a month-end row of its own). Same order as the running
        -- window, so the events are sorted once.
        lead({{ month_of("effective_at") }}) over (
            partition by subscription_id order by effective_at, occurred_at, event_id
        ) as next_event_month
    from applicable_events
    window running as (
        partition by subscription_id order by effective_at, occurred_at, event_id
        rows between unbounded preceding and current row
    )
),

month_end_states as (
    select * from running_state
    where next_event_month is distinct from effective_month and has_started
),

periods as (
    select
        month_end_states.*,
        effective_month as valid_from_month,
        coalesce({{ previous_month("next_event_month") }}, reporting_window.latest_month) as valid_to_month
    from month_end_states, reporting_window
)

select
    subscription_id,
    account_id,
    valid_from_month,
    valid_to_month,
    status,
    plan_id,
    billing_interval,
    quantity,
    unit_price,
    currency,
    discount_pct,
    discount_amount,
    interval_count,
    case
        when status = 'active' and unit_price is not null and quantity is not null and currency is not null
        -- the charge: widened first, as DECIMAL(18,6) x seats x DECIMAL(9,4) keeps 18 digits and
        -- overflows for a 1,000-seat yearly subscription (1,320,000 x 85.0000 needs 19)
        then {{ annualized(
            "greatest(
                (unit_price::decimal(38, 6) * quantity * (100 - discount_pct) * 0.01)::decimal(38, 12)
                    - coalesce(discount_amount, 0),
                0
            )",
            "coalesce(interval_count, 1)::bigint
            * case billing_interval when 'month' then 1 when 'quarter' then 3 when 'year' then 12 end"
        ) }}
        else 0
    end as arr_local
from periods
