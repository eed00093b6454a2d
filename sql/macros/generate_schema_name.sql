{#- A model's schema is exactly the one its folder configures (staging, intermediate, marts), not dbt's
    default `<target schema>_<custom schema>`: the tables and columns BI tools query keep their names. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
