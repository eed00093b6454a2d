{#- On Spark, the raw tables Python ingestion loaded into DuckDB are read from the Parquet folders a run
    exported (transforms/spark_engine.py, docs/spark.md): var raw_parquet_dir names the folder, one
    sub-folder per table of the `raw` source. Without it the raw tables must be in Spark's catalog already
    (a cluster's own). Run by on-run-start (dbt_project.yml); other engines read the warehouse's raw schema. -#}
{% macro declare_raw_tables() -%}
    {{ return(adapter.dispatch('declare_raw_tables')()) }}
{%- endmacro %}

{% macro default__declare_raw_tables() %}{% endmacro %}

{% macro spark__declare_raw_tables() -%}
    {%- set folder = var('raw_parquet_dir', '') -%}
    {%- if folder and execute -%}
        {%- set raw = graph.sources.values() | selectattr('source_name', 'equalto', 'raw') | list -%}
        {%- do run_query('create database if not exists ' ~ (raw[0].schema if raw else 'raw')) -%}
        {%- for source in raw -%}
            {%- set relation = source.schema ~ '.' ~ source.identifier -%}
            {%- do run_query('drop table if exists ' ~ relation) -%}
            {%- do run_query("create table " ~ relation ~ " using parquet location '"
                             ~ folder ~ "/" ~ source.identifier ~ "'") -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
