{#- Helpers every model may use. Each expands inline into the model's SQL, so views and tables never call a
    function the warehouse does not have, and each dispatches (adapter.dispatch): an engine whose SQL differs
    adds its own `<adapter>__name` beside the `default__` one. -#}

{#- Reporting money is USD DECIMAL(18,2). DuckDB divides DECIMALs in DOUBLE, so a monthly amount is
    derived from an exact annual amount with integer arithmetic: cents = round_half_up(annual * 100 / 12),
    which for annual >= 0 is (floor(annual * 100) + 6) // 12. -#}
{% macro monthly_usd_from_annual(annual_usd) -%}
    {{ return(adapter.dispatch('monthly_usd_from_annual')(annual_usd)) }}
{%- endmacro %}

{% macro default__monthly_usd_from_annual(annual_usd) -%}
    ((((floor(({{ annual_usd }}) * 100)::bigint + 6) // 12)::decimal(18, 0) * 0.01)::decimal(18, 2))
{%- endmacro %}

{#- A charge that covers `months` months, annualized: charge x 12 / months, exact wherever 12 / months is a
    finite decimal (periods of 1-6, 8, 10, 12, 16, 20, 24 months...), else (7, 9, 11, 36 months...) rounded
    half away from zero at 12 places. In integers, for the same reason as above (charge >= 0): with
    n = charge x 10^12, round(12n / months) = (24n + months) // (2 months); 12 / months whole when it divides.
    (n is built from the charge's whole and fractional parts: charge x 10^12 as a DECIMAL would overflow for
    the largest charges the raw types allow.) -#}
{% macro annualized(charge, months) -%}
    {{ return(adapter.dispatch('annualized')(charge, months)) }}
{%- endmacro %}

{% macro default__annualized(charge, months) -%}
    ((case when 12 % ({{ months }}) = 0 then ({{ charge }})::decimal(38, 12) * (12 // ({{ months }}))
         else ((((floor({{ charge }})::hugeint * 1000000000000
                  + ((({{ charge }})::decimal(38, 12) - floor({{ charge }})) * 1000000000000)::hugeint) * 24 + ({{ months }}))
                // (2 * ({{ months }})))::decimal(38, 0) * 0.000000000001)
    end)::decimal(38, 12))
{%- endmacro %}

{#- Months are DATE, the month's first day. -#}
{% macro month_of(ts) -%}
    {{ return(adapter.dispatch('month_of')(ts)) }}
{%- endmacro %}

{% macro default__month_of(ts) -%}
    (date_trunc('month', {{ ts }})::date)
{%- endmacro %}

{% macro next_month(m) -%}
    {{ return(adapter.dispatch('next_month')(m)) }}
{%- endmacro %}

{% macro default__next_month(m) -%}
    ((({{ m }}) + interval 1 month)::date)
{%- endmacro %}

{% macro previous_month(m) -%}
    {{ return(adapter.dispatch('previous_month')(m)) }}
{%- endmacro %}

{% macro default__previous_month(m) -%}
    ((({{ m }}) - interval 1 month)::date)
{%- endmacro %}
