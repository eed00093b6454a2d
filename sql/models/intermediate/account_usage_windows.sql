with windows as (
    select
        max(as_of)::date as latest_data_day,
        max(as_of)::date - 29 as current_window_start,
        max(as_of)::date - 59 as previous_window_start
    from {{ ref('calendar') }}
),

-- One pass over the 60 days, grouped by account and metric only. The days with usage are kept as a
-- 60-bit set in a BIGINT (bit n: previous_window_start + n), so counting the reported days needs no
-- grouping by day; the mean of the daily totals over those days is the window's total divided by their
-- number.
-- Filtering occurred_at first lets DuckDB skip the row groups outside the 60 days (raw.usage_events
-- is the largest table by far); each row's day number (0 = previous_window_start, 59 = the latest data day)
-- is worked out once and compared as a small integer.
window_usage as (
    select
        usage.account_id,
        usage.metric,
        sum(usage.quantity) filter (where usage.day_number >= 30) as current_total,
        sum(usage.quantity) filter (where usage.day_number < 30) as previous_total,
        bit_or(1::bigint << usage.day_number) as days_with_usage,
        -- the 4 weeks of 7 days ending on the latest data day (week 0 = this week; day 59 is the latest data
        -- day), for the contact timing; each filter costs a few percent of this scan, hence 4 weeks, not 8
        sum(usage.quantity) filter (where usage.day_number between 53 and 59) as week_0,
        sum(usage.quantity) filter (where usage.day_number between 46 and 52) as week_1,
        sum(usage.quantity) filter (where usage.day_number between 39 and 45) as week_2,
        sum(usage.quantity) filter (where usage.day_number between 32 and 38) as week_3
    from (
        select usage.account_id, usage.metric, usage.quantity, usage.occurred_at,
               {{ days_between('windows.previous_window_start', 'usage.occurred_at::date') }} as day_number
        from {{ source('raw', 'usage_events') }} as usage, windows
        where usage.occurred_at >= windows.previous_window_start::timestamp
          and usage.occurred_at < (windows.latest_data_day + 1)::timestamp
    ) as usage
    group by usage.account_id, usage.metric
),

days_reported as (
    select
        *,
        bit_count(days_with_usage >> 30)::bigint as current_days_reported,
        bit_count(days_with_usage & ((1::bigint << 30) - 1))::bigint as previous_days_reported,
        -- week k holds bits 53 - 7k .. 59 - 7k (bit 59 is the latest data day)
        week_0 / nullif(bit_count((days_with_usage >> 53) & 127::bigint), 0) as week_0_mean,
        week_1 / nullif(bit_count((days_with_usage >> 46) & 127::bigint), 0) as week_1_mean,
        week_2 / nullif(bit_count((days_with_usage >> 39) & 127::bigint), 0) as week_2_mean,
        week_3 / nullif(bit_count((days_with_usage >> 32) & 127::bigint), 0) as week_3_mean
    from window_usage
)

select
    days_reported.account_id,
    days_reported.metric,
    windows.latest_data_day,
    windows.current_window_start,
    windows.previous_window_start,
    coalesce(days_reported.current_total, 0) as current_total,
    days_reported.current_days_reported,
    days_reported.current_total / nullif(days_reported.current_days_reported, 0) as current_daily_mean,
    coalesce(days_reported.previous_total, 0) as previous_total,
    days_reported.previous_days_reported,
    days_reported.previous_total / nullif(days_reported.previous_days_reported, 0) as previous_daily_mean,
    coalesce(days_reported.week_0, 0) as this_week_total,
    days_reported.week_0_mean as this_week_daily_mean,
    -- greatest() skips NULLs: weeks without a report do not count
    greatest(days_reported.week_1, days_reported.week_2, days_reported.week_3) as earlier_weeks_peak_total,
    greatest(days_reported.week_1_mean, days_reported.week_2_mean, days_reported.week_3_mean)
        as earlier_weeks_peak_daily_mean
from days_reported, windows
-- no ORDER BY: only the sales lists read this table, and they sort what they need; sorting 1.3M rows
-- cost a quarter of a second of every run at a million accounts
