{#- A day `months` calendar months later, the day of the month clipped to the month's end (Jan 31 + 1 = Feb 28),
    as both engines do it (docs/spark.md). -#}
{% macro add_months_to_day(day, months) -%}
    {{ return(adapter.dispatch('add_months_to_day')(day, months)) }}
{%- endmacro %}
{% macro default__add_months_to_day(day, months) %}((({{ day }}) + to_months({{ months }}))::date){% endmacro %}
{% macro spark__add_months_to_day(day, months) %}add_months(({{ day }}), ({{ months }})){% endmacro %}
