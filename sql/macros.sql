-- Helpers shared by every model. Loaded on each connection (temporary macros), so they never reach
-- the serving file that BI tools open.

-- Reporting money is USD DECIMAL(18,2). DuckDB divides DECIMALs in DOUBLE, so a monthly amount is
-- derived from an exact annual amount with integer arithmetic: cents = round_half_up(annual * 100 / 12),
-- which for annual >= 0 is (floor(annual * 100) + 6) // 12.
create or replace temp macro monthly_usd_from_annual(annual_usd) as (
    ((floor(annual_usd * 100)::bigint + 6) // 12)::decimal(18, 0) * 0.01
)::decimal(18, 2);

-- Months are DATE, the month's first day.
create or replace temp macro month_of(ts) as date_trunc('month', ts)::date;
create or replace temp macro next_month(m) as (m + interval 1 month)::date;
create or replace temp macro previous_month(m) as (m - interval 1 month)::date;
