with reporting_window as (
    select max(as_of) as as_of, max(as_of)::date as latest_data_day, max(month) as latest_month
    from {{ ref('calendar') }}
),

journey_events as (
    select
        events.account_id,
        min(events.effective_at) filter (where events.event_type in ('trial_started', 'subscription_started'))
            as customer_since,
        min(events.effective_at) filter (where events.event_type = 'subscription_started') as first_paid_at,
        max(events.effective_at) filter (where events.event_type = 'trial_started') as trial_started_at,
        max(events.effective_at) filter (where events.event_type = 'subscription_paused') as paused_at
    from {{ ref('subscription_events') }} as events, reporting_window
    where events.effective_at <= reporting_window.as_of
    group by events.account_id
    having min(events.effective_at) filter (where events.event_type in ('trial_started', 'subscription_started'))
        is not null
),

recent_failures as (
    select billing.account_id, max(billing.occurred_at) as last_payment_failed_at
    from {{ source('raw', 'billing_events') }} as billing, reporting_window
    where billing.event_type = 'payment_failed'
      and billing.occurred_at >= (reporting_window.latest_data_day - 29)::timestamp
      and billing.occurred_at <= reporting_window.as_of
    group by billing.account_id
),

subscription_starts as (
    select events.subscription_id, max(events.effective_at)::date as anchor_day
    from {{ ref('subscription_events') }} as events, reporting_window
    where events.event_type = 'subscription_started'
      and events.effective_at <= reporting_window.as_of
    group by events.subscription_id
),

long_charges as (
    select
        periods.account_id,
        subscription_starts.anchor_day,
        coalesce(periods.interval_count, 1) * case periods.billing_interval when 'year' then 12 when 'quarter' then 3 else 1 end
            as renewal_months
    from {{ ref('subscription_periods') }} as periods
    join reporting_window on periods.valid_to_month = reporting_window.latest_month
    join subscription_starts using (subscription_id)
    where periods.status = 'active'
),

-- anchor + n charges, n the whole charges the month count allows: that day, or one charge later when it
-- is not after the latest data day (the month count can only overshoot by less than one charge)
charge_days as (
    select
        long_charges.account_id,
        long_charges.renewal_months,
        {{ add_months_to_day('long_charges.anchor_day', int_div(
            '(year(reporting_window.latest_data_day) * 12 + month(reporting_window.latest_data_day))'
            ' - (year(long_charges.anchor_day) * 12 + month(long_charges.anchor_day))',
            'long_charges.renewal_months') ~ ' * long_charges.renewal_months') }} as candidate_day,
        reporting_window.latest_data_day
    from long_charges, reporting_window
    where long_charges.renewal_months >= 3
),

renewals as (
    select
        account_id,
        min(renewal_day) as next_renewal_on,
        min_by(renewal_months, {{ sort_key('renewal_day', 'renewal_months') }}) as renewal_months
    from (
        select
            account_id,
            renewal_months,
            case
                when candidate_day > latest_data_day then candidate_day
                else {{ add_months_to_day('candidate_day', 'renewal_months') }}
            end as renewal_day
        from charge_days
    )
    group by account_id
)

select
    journey_events.account_id,
    journey_events.customer_since,
    journey_events.first_paid_at,
    journey_events.trial_started_at,
    journey_events.paused_at,
    recent_failures.last_payment_failed_at,
    renewals.next_renewal_on,
    renewals.renewal_months
from journey_events
left join recent_failures using (account_id)
left join renewals using (account_id)
