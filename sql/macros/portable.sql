{#- SQL that DuckDB and Spark spell differently (docs/spark.md). Each macro dispatches (adapter.dispatch):
    `default__` is DuckDB's SQL, `spark__` Spark's (dbt-databricks finds the Spark one too). Callers pass
    SQL expressions as text: each is used in parentheses. -#}

{#- Integer division, truncating toward zero. -#}
{% macro int_div(dividend, divisor) -%}
    {{ return(adapter.dispatch('int_div')(dividend, divisor)) }}
{%- endmacro %}
{% macro default__int_div(dividend, divisor) %}(({{ dividend }}) // ({{ divisor }})){% endmacro %}
{% macro spark__int_div(dividend, divisor) %}(({{ dividend }}) div ({{ divisor }})){% endmacro %}

{#- One row per month from first_month to last_month, both DATE first days, as a column of a select list. -#}
{% macro month_series(first_month, last_month) -%}
    {{ return(adapter.dispatch('month_series')(first_month, last_month)) }}
{%- endmacro %}
{% macro default__month_series(first_month, last_month) -%}
    unnest(generate_series(({{ first_month }}), ({{ last_month }}), interval 1 month))::date
{%- endmacro %}
{% macro spark__month_series(first_month, last_month) -%}
    explode(sequence(({{ first_month }}), ({{ last_month }}), interval 1 month))
{%- endmacro %}

{#- Whole days from first_day to last_day (DATEs). -#}
{% macro days_between(first_day, last_day) -%}
    {{ return(adapter.dispatch('days_between')(first_day, last_day)) }}
{%- endmacro %}
{% macro default__days_between(first_day, last_day) %}date_diff('day', ({{ first_day }}), ({{ last_day }})){% endmacro %}
{% macro spark__days_between(first_day, last_day) %}datediff(({{ last_day }}), ({{ first_day }})){% endmacro %}

{#- A window function: the latest non-NULL value of expr in the window frame (last_value ... ignore nulls). -#}
{% macro last_non_null(expr) -%}
    {{ return(adapter.dispatch('last_non_null')(expr)) }}
{%- endmacro %}
{% macro default__last_non_null(expr) %}last_value(({{ expr }}) ignore nulls){% endmacro %}
{% macro spark__last_non_null(expr) %}last_value(({{ expr }}), true){% endmacro %}

{#- An ordering key of several values for max_by / min_by: the row with the greatest (a, b, c). -#}
{% macro sort_key() -%}
    {{ return(adapter.dispatch('sort_key')(*varargs)) }}
{%- endmacro %}
{% macro default__sort_key() %}row({{ varargs | join(', ') }}){% endmacro %}
{% macro spark__sort_key() %}struct({{ varargs | join(', ') }}){% endmacro %}

{#- numerator / denominator as a DOUBLE, for rates rounded afterwards: DuckDB divides DECIMALs in DOUBLE,
    Spark exactly in DECIMAL, so Spark is told to do what DuckDB does and both give the same rates. -#}
{% macro ratio(numerator, denominator) -%}
    {{ return(adapter.dispatch('ratio')(numerator, denominator)) }}
{%- endmacro %}
{% macro default__ratio(numerator, denominator) %}(({{ numerator }}) / ({{ denominator }})){% endmacro %}
{% macro spark__ratio(numerator, denominator) %}(cast(({{ numerator }}) as double) / ({{ denominator }})){% endmacro %}

{#- Money shared out: amount (USD, whole cents) / count, rounded half away from zero to the cent,
    DECIMAL(18,2); NULL when count is 0. -#}
{% macro divide_money(amount, count) -%}
    {{ return(adapter.dispatch('divide_money')(amount, count)) }}
{%- endmacro %}
{#- In integer cents: DuckDB divides DECIMALs in DOUBLE, which would round 96.665 down. -#}
{% macro default__divide_money(amount, count) -%}
    ((sign({{ amount }})
      * (((abs({{ amount }}) * 100)::hugeint * 2 + ({{ count }})) // nullif(2 * ({{ count }}), 0))
      * 0.01)::decimal(18, 2))
{%- endmacro %}
{#- Spark divides DECIMALs exactly and rounds half up (away from zero) at the quotient's scale, here 12
    places (allowPrecisionLoss=false); a number of cents divided by a count below 10^10 is never within
    0.5e-12 of a half cent unless it is one, so rounding the quotient to the cent is exact. -#}
{% macro spark__divide_money(amount, count) -%}
    cast(round(cast(({{ amount }}) as decimal(38, 2)) / nullif(cast(({{ count }}) as bigint), 0), 2) as decimal(18, 2))
{%- endmacro %}

{#- Spark's monthly_usd_from_annual and annualized (sql/macros/money_and_months.sql has their meaning and
    DuckDB's SQL). -#}
{% macro spark__monthly_usd_from_annual(annual_usd) -%}
    cast(cast((cast(floor(({{ annual_usd }}) * 100) as bigint) + 6) div 12 as decimal(18, 0)) * 0.01 as decimal(18, 2))
{%- endmacro %}
{#- charge x 12 is exact in DECIMAL(38,12); divided by a BIGINT it is exact to 22 places (16 whole digits),
    rounded half up. The quotient is a multiple of 10^-12 / months, so unless it is a tie at the 12th place
    it lies at least 10^-12 / (2 months) from one, more than the first rounding's 0.5e-22 for any period
    under 10^10 months: rounding it to 12 places is then exactly rounding charge x 12 / months. -#}
{% macro spark__annualized(charge, months) -%}
    cast(cast(({{ charge }}) as decimal(38, 12)) * 12 / cast(({{ months }}) as bigint) as decimal(38, 12))
{%- endmacro %}
