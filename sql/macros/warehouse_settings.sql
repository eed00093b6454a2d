{#- DuckDB's database-wide settings a run asks for (SUBWH_DUCKDB_MEMORY_LIMIT, SUBWH_DUCKDB_THREADS,
    SUBWH_DUCKDB_TEMP_DIR; docs/operations.md), run once before the models: each one not set keeps
    DuckDB's default. Other engines have no such settings. -#}
{% macro warehouse_settings() -%}
    {%- if target.type == 'duckdb' -%}
        {%- set settings = {
            'memory_limit': env_var('SUBWH_DUCKDB_MEMORY_LIMIT', ''),
            'threads': env_var('SUBWH_DUCKDB_THREADS', ''),
            'temp_directory': env_var('SUBWH_DUCKDB_TEMP_DIR', ''),
        } -%}
        {%- for name, value in settings.items() if value -%}
            set global {{ name }} = '{{ value | replace("'", "''") }}';
        {% endfor -%}
    {%- endif -%}
{%- endmacro %}
