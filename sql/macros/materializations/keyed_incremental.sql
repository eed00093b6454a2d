{#-
keyed_incremental: a table restated key by key, equal at every run to a full rebuild of the same inputs.

A model configured with `materialized='keyed_incremental'` and `unique_key='account_id'` (or
`subscription_id`) is one SELECT over all history, like a table; nothing in its SQL knows about increments
(no is_incremental()). At a run the materialization finds the keys whose inputs changed since the model's
last build, deletes those keys' rows (all of them: a key whose rows all disappear leaves none behind, which
dbt's stock delete+insert cannot do, since it deletes only the keys present in the new result) and inserts
the model's SELECT over its keyed inputs narrowed to those keys, in one transaction.

What a model reads falls in two kinds:
- keyed inputs have the unique_key column: sources with an `ingested_at` column (new rows are those loaded
  after the model's last build), views over them (looked through), and other keyed_incremental models (the
  keys they restated since, from pipeline.model_changes); keys that share a value of `restate_together` in
  a keyed input (a subscription moving between accounts) are restated together;
- global inputs do not (the calendar, FX rates, plans): their content, the model's compiled SQL and the SQL
  of the views it reads make a fingerprint. The calendar's as-of instant is left out of it (it moves with
  every delivery); a model that reads it names the time column it bounds (`restate_when_due`), and the keys
  whose rows came due between the two as-of instants are restated.

It rebuilds in full instead when restating could be wrong or is not worth it: the first build, a full
refresh, a changed fingerprint (a new month, new FX rates or plans, changed SQL), rows gone from a source, a
keyed input that is an ordinary table, an upstream keyed_incremental model rebuilt in full since, a table
that is not what its last build left, or more than `keyed_incremental_restate_share` of its keys to restate.

The bookkeeping is in the warehouse, written by this materialization in the model's transaction:
pipeline.model_builds (every build: full or restated, why, what its inputs held) and pipeline.model_changes
(the keys each build changed: what the models downstream and the serving file restate). The on-run-start
hook `keyed_incremental_bookkeeping()` creates both.

Adapters that cannot restate (Spark) rebuild the table in full every run: keyed_incremental_restates() is
the one macro that says which.
-#}

{#- Part of every fingerprint: a change to how restating works rebuilds every keyed_incremental model once. -#}
{% macro keyed_incremental_state_version() %}{{ return('dbt-1') }}{% endmacro %}


{#- Whether this adapter restates keys (true) or rebuilds a keyed_incremental table in full every run. -#}
{% macro keyed_incremental_restates() %}
  {{ return(adapter.dispatch('keyed_incremental_restates')()) }}
{% endmacro %}

{% macro default__keyed_incremental_restates() %}{{ return(false) }}{% endmacro %}

{% macro duckdb__keyed_incremental_restates() %}{{ return(true) }}{% endmacro %}


{% materialization keyed_incremental, default %}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set settings = keyed_incremental_settings(model) -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {#- BEGIN: everything below, bookkeeping included, commits or rolls back as one -#}
  {% call statement('keyed_incremental_begin', auto_begin=True) %}select 1{% endcall %}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% if keyed_incremental_restates() %}
    {%- set outcome = keyed_incremental_build(model, target_relation, existing_relation, settings) -%}
  {% else %}
    {%- set outcome = keyed_incremental_full_build(target_relation, existing_relation) -%}
  {% endif %}
  {% do store_raw_result('main', message=outcome.message, code=outcome.kind, rows_affected=outcome.rows) %}

  {% do persist_docs(target_relation, model) %}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {% do adapter.commit() %}
  {% do keyed_incremental_drop_temporaries(outcome.temporaries) %}
  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#- The model's settings, checked: one column name each. -#}
{% macro keyed_incremental_settings(model) %}
  {%- set found = {} -%}
  {%- for setting in ['unique_key', 'restate_when_due', 'restate_together'] -%}
    {#- unique_key is dbt's own config; the others are in meta, where dbt keeps keys it does not know -#}
    {%- set value = config.meta_get(setting) -%}
    {%- if value is none -%}{%- set value = config.get(setting) -%}{%- endif -%}
    {%- if value is not none and not modules.re.fullmatch('[a-z_][a-z0-9_]*', value | string) -%}
      {{ exceptions.raise_compiler_error(model.name ~ ': ' ~ setting ~ ' names one column, not ' ~ value) }}
    {%- endif -%}
    {%- do found.update({setting: value}) -%}
  {%- endfor -%}
  {%- if found.unique_key is none -%}
    {{ exceptions.raise_compiler_error(model.name ~ ': a keyed_incremental model needs a unique_key (one column)') }}
  {%- endif -%}
  {{ return(found) }}
{% endmacro %}


{#- Rebuild the table from its whole SELECT (inside the caller's transaction). -#}
{% macro keyed_incremental_full_build(target_relation, existing_relation) %}
  {%- if existing_relation is not none -%}
    {% do adapter.drop_relation(existing_relation) %}
  {%- endif -%}
  {% call statement('keyed_incremental_full') %}
    {{ create_table_as(False, target_relation, sql) }}
  {% endcall %}
  {{ return({'kind': 'full', 'message': 'rebuilt in full (this adapter rebuilds keyed_incremental models every run)',
             'rows': none, 'temporaries': []}) }}
{% endmacro %}


{#- One value from a query (first row, first column). -#}
{% macro keyed_incremental_value(query) %}
  {{ return(run_query(query).columns[0].values()[0]) }}
{% endmacro %}


{% macro keyed_incremental_quote(text) %}
  {{ return("'" ~ (text | string).replace("'", "''") ~ "'") }}
{% endmacro %}


{#- "schema/table": how the bookkeeping names a model (and a relation: "schema.table"). -#}
{% macro keyed_incremental_name(relation) %}
  {{ return(relation.schema ~ '/' ~ relation.identifier) }}
{% endmacro %}


{#- Every relation the model reads, looked through views and ephemeral models:
    [{'relation', 'name' ("schema.table"), 'kind' (source/view/keyed_incremental/table), 'direct' (read by the
    model itself, not through a view), 'uid', 'ephemeral'}], the model's direct inputs first. -#}
{% macro keyed_incremental_closure(model) %}
  {%- set found = [] -%}
  {%- set seen = [] -%}
  {%- set pending = [] -%}
  {%- for uid in model.depends_on.nodes -%}
    {%- do pending.append([uid, none]) -%}
  {%- endfor -%}
  {#- breadth first; a list grown while it is walked (at most one pass per relation) -#}
  {%- for item in pending -%}
    {%- set uid, reader = item[0], item[1] -%}
    {%- if uid not in seen -%}
      {%- do seen.append(uid) -%}
      {%- set node = graph.sources[uid] if uid in graph.sources else graph.nodes[uid] -%}
      {%- if node.resource_type == 'source' -%}
        {%- set kind = 'source' -%}
        {%- set relation = api.Relation.create(database=node.database, schema=node.schema, identifier=node.identifier) -%}
      {%- else -%}
        {%- set materialized = node.config.materialized -%}
        {%- set kind = 'view' if materialized in ('view', 'ephemeral') else ('keyed_incremental' if materialized == 'keyed_incremental' else 'table') -%}
        {%- set relation = api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias or node.name) -%}
      {%- endif -%}
      {%- do found.append({'relation': relation, 'name': relation.schema ~ '.' ~ relation.identifier, 'kind': kind,
                           'direct': reader is none, 'uid': uid,
                           'ephemeral': node.resource_type != 'source' and node.config.materialized == 'ephemeral'}) -%}
      {%- if kind == 'view' -%}
        {%- for upstream in node.depends_on.nodes -%}
          {%- do pending.append([upstream, uid]) -%}
        {%- endfor -%}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(found) }}
{% endmacro %}


{#- Columns and view definitions of the relations in the closure, from the catalog, in one query. -#}
{% macro keyed_incremental_describe(closure) %}
  {%- set names = [] -%}
  {%- for item in closure if not item.ephemeral -%}
    {%- do names.append(keyed_incremental_quote(item.name)) -%}
  {%- endfor -%}
  {%- set described = {} -%}
  {%- if names -%}
    {%- set found = run_query(
      "select c.schema_name || '.' || c.table_name as name, string_agg(c.column_name, ',' order by c.column_index) as cols,
              any_value(v.sql) as view_sql
       from duckdb_columns() as c
       left join duckdb_views() as v
         on v.database_name = c.database_name and v.schema_name = c.schema_name and v.view_name = c.table_name
       where c.database_name = " ~ keyed_incremental_quote(closure[0].relation.database) ~ "
         and c.schema_name || '.' || c.table_name in (" ~ names | join(', ') ~ ")
       group by all") -%}
    {%- for row in found.rows -%}
      {%- do described.update({row[0]: {'columns': (row[1] | string).split(','), 'view_sql': row[2]}}) -%}
    {%- endfor -%}
  {%- endif -%}
  {{ return(described) }}
{% endmacro %}


{#- The whole build on an adapter that restates; returns {kind, message, rows, temporaries}. -#}
{% macro keyed_incremental_build(model, target_relation, existing_relation, settings) %}
  {%- set key = settings.unique_key -%}
  {%- set model_name = keyed_incremental_name(target_relation) -%}
  {%- set builds = api.Relation.create(database=target_relation.database, schema='pipeline', identifier='model_builds') -%}
  {%- set changes = api.Relation.create(database=target_relation.database, schema='pipeline', identifier='model_changes') -%}
  {%- set as_of_name = var('keyed_incremental_as_of_relation', 'staging.calendar') -%}
  {%- set as_of_columns = ['as_of', 'month_end_cutoff'] -%}
  {%- set load_time_columns = ['ingested_at'] -%}
  {%- set logged_keys = ['account_id', 'subscription_id'] -%}
  {%- set keys_table = '"temp"."main"."keyed_incremental_keys"' -%}

  {#- ------------------------------------------------------------------ what the model reads -#}
  {%- set closure = keyed_incremental_closure(model) -%}
  {%- set described = keyed_incremental_describe(closure) -%}
  {%- set database_prefix = '"' ~ target_relation.database ~ '".' -%}
  {%- set texts = [keyed_incremental_state_version(), key, settings.restate_when_due or '', settings.restate_together or '',
                   sql.replace(database_prefix, '')] -%}
  {%- set keyed = [] -%}        {#- direct keyed inputs (what the SELECT is narrowed on) -#}
  {%- set leaves = [] -%}       {#- the sources and tables behind them, views looked through -#}
  {%- set global_inputs = [] -%}
  {%- set as_of = namespace(relation=none) -%}
  {%- for item in closure -%}
    {%- set columns = described[item.name].columns if item.name in described else [] -%}
    {%- do item.update({'columns': columns, 'keyed': key in columns}) -%}
    {%- if item.name == as_of_name -%}{%- set as_of.relation = item.relation -%}{%- endif -%}
  {%- endfor -%}
  {%- for item in closure -%}
    {%- if item.kind == 'view' -%}
      {%- if item.name in described and described[item.name].view_sql is not none -%}
        {%- do texts.append((described[item.name].view_sql | string).replace(database_prefix, '')) -%}
      {%- endif -%}
      {%- if item.direct and (item.keyed or item.ephemeral) -%}{%- do keyed.append(item) -%}{%- endif -%}
      {%- if not item.keyed and not item.ephemeral -%}{%- do global_inputs.append(item) -%}{%- endif -%}
    {%- elif item.keyed -%}
      {%- if item.direct -%}{%- do keyed.append(item) -%}{%- endif -%}
      {%- do leaves.append(item) -%}
    {%- else -%}
      {%- do global_inputs.append(item) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set keyed_names = keyed | map(attribute='relation') | map(attribute='identifier') | list -%}
  {%- if keyed_names | length != keyed_names | unique | list | length -%}
    {{ exceptions.raise_compiler_error(model.name ~ ': two keyed inputs share a table name (' ~ keyed_names | join(', ')
       ~ '); a restatement reads each through a temporary view of that name') }}
  {%- endif -%}
  {%- for item in keyed if not item.ephemeral and item.relation.render() not in sql -%}
    {{ exceptions.raise_compiler_error(model.name ~ ': ' ~ item.relation.render() ~ ' is not named in the compiled SQL') }}
  {%- endfor -%}
  {%- for item in keyed if item.ephemeral -%}
    {{ exceptions.raise_compiler_error(model.name ~ ': reads the ephemeral model ' ~ item.name ~ ', which a restatement cannot narrow; make it a view') }}
  {%- endfor -%}
  {% do keyed_incremental_check_as_of_use(model, texts | join(' '), settings, as_of.relation) %}

  {#- ------------------------------------------------- the previous build, the inputs now (two queries) -#}
  {%- set found = run_query("select build_id, fingerprint, rows_after, epoch_us(as_of) as as_of_us, marks,
                                    nextval('pipeline.model_build_ids') as next_id
                             from (select 1) left join (select * from " ~ builds ~ " where model = " ~ keyed_incremental_quote(model_name)
                             ~ " order by build_id desc limit 1) on true") -%}
  {%- set row = found.rows[0] -%}
  {#- marks this materialization wrote: a source's [latest ingested_at in µs, rows], a model's latest build_id
      (what an older bookkeeping wrote is left out: its fingerprint differs anyway) -#}
  {%- set previous_marks = {} -%}
  {%- for name, mark in (fromjson(row[4] or '{}') if row[0] is not none else {}).items() -%}
    {%- if mark is number or (mark is sequence and mark is not string and mark | length == 2 and mark[0] is number) -%}
      {%- do previous_marks.update({name: mark}) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set previous = none if row[0] is none else {'build_id': row[0] | int, 'fingerprint': row[1], 'rows_after': row[2],
                                                  'as_of_us': row[3], 'marks': previous_marks} -%}
  {%- set build_id = row[5] | int -%}

  {%- set parts = [] -%}
  {%- for item in global_inputs -%}
    {%- set cols = [] -%}
    {%- for column in item.columns if column not in load_time_columns and not (item.name == as_of_name and column in as_of_columns) -%}
      {%- do cols.append('"' ~ column ~ '" := "' ~ column ~ '"') -%}
    {%- endfor -%}
    {%- set row_text = "to_json(struct_pack(" ~ cols | join(', ') ~ "))::varchar" -%}
    {%- do parts.append("(select " ~ keyed_incremental_quote(item.name ~ ':' ~ cols | join(',') ~ ':') ~ " || count(*) || ':' || coalesce(md5(string_agg("
                        ~ row_text ~ ", chr(10) order by " ~ row_text ~ ")), '') from " ~ item.relation ~ ")") -%}
  {%- endfor -%}
  {%- set probes = ["md5(concat_ws(chr(0), " ~ keyed_incremental_quote(local_md5(texts | join('\x00'))) ~ (', ' if parts else '') ~ parts | join(', ') ~ ")) as fingerprint"] -%}
  {%- do probes.append(("(select epoch_us(max(as_of)) from " ~ as_of.relation ~ ")" if settings.restate_when_due else "null") ~ " as as_of_us") -%}
  {%- do probes.append(("(select count(*) from " ~ target_relation ~ ")" if existing_relation is not none and existing_relation.is_table else "null") ~ " as rows_now") -%}
  {%- for leaf in leaves -%}
    {%- set mark = previous.marks.get(leaf.name) if previous is not none else none -%}
    {%- if leaf.kind == 'source' and 'ingested_at' in leaf.columns -%}
      {%- do probes.append("(select coalesce(epoch_us(max(ingested_at)), -1) from " ~ leaf.relation ~ ")") -%}
      {%- do probes.append("(select count(*) from " ~ leaf.relation ~ ")") -%}
      {%- do probes.append(("(select count(*) from " ~ leaf.relation ~ " where ingested_at <= make_timestamp(" ~ mark[0] ~ "))"
                            if mark is not none and mark[0] >= 0 else "0")) -%}
    {%- elif leaf.kind == 'keyed_incremental' -%}
      {%- set where = " from " ~ builds ~ " where model = " ~ keyed_incremental_quote(leaf.relation.schema ~ '/' ~ leaf.relation.identifier) -%}
      {%- do probes.append("(select coalesce(max(build_id), -1)" ~ where ~ ")") -%}
      {%- do probes.append("(select count(*)" ~ where ~ " and kind = 'full' and build_id > " ~ (mark if mark is not none else -1) ~ ")") -%}
      {%- do probes.append("0") -%}
    {%- else -%}
      {%- do probes.append("-1, 0, 0") -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set now = run_query("select " ~ probes | join(',\n')).rows[0] -%}
  {%- set fingerprint = now[0] -%}
  {%- set as_of_us = now[1] -%}
  {%- set rows_now = now[2] -%}
  {%- set marks = {} -%}
  {%- set leaf_state = {} -%}
  {%- for leaf in leaves -%}
    {%- set probe = [now[3 + 3 * loop.index0], now[4 + 3 * loop.index0], now[5 + 3 * loop.index0]] -%}
    {%- if leaf.kind == 'source' -%}
      {%- do marks.update({leaf.name: [probe[0] | int, probe[1] | int]}) -%}
    {%- elif leaf.kind == 'keyed_incremental' -%}
      {%- do marks.update({leaf.name: probe[0] | int}) -%}
    {%- endif -%}
    {%- do leaf_state.update({leaf.name: probe}) -%}
  {%- endfor -%}

  {#- ----------------------------------------------------------------------------- full or not -#}
  {%- set why = namespace(full=none) -%}
  {%- if should_full_refresh() -%}
    {%- set why.full = 'a full refresh was asked for' -%}
  {%- elif previous is none -%}
    {%- set why.full = 'first build' -%}
  {%- elif previous.fingerprint is none -%}
    {%- set why.full = 'the last build left rows without a key' -%}
  {%- elif previous.fingerprint != fingerprint -%}
    {%- set why.full = 'the calendar, FX rates, plans or SQL changed' -%}
  {%- elif rows_now is none -%}
    {%- set why.full = target_relation.schema ~ '.' ~ target_relation.identifier ~ ' is missing' -%}
  {%- elif rows_now | int != previous.rows_after | int -%}
    {%- set why.full = target_relation.schema ~ '.' ~ target_relation.identifier ~ ' is not as its last build left it' -%}
  {%- elif settings.restate_when_due and (as_of_us is none or previous.as_of_us is none or as_of_us < previous.as_of_us) -%}
    {%- set why.full = "the data's as-of instant moved back" -%}
  {%- else -%}
    {%- for leaf in leaves if why.full is none -%}
      {%- set probe = leaf_state[leaf.name] -%}
      {%- set mark = previous.marks.get(leaf.name) -%}
      {%- if leaf.kind == 'table' or (leaf.kind == 'source' and 'ingested_at' not in leaf.columns) -%}
        {%- set why.full = leaf.name ~ ' is rebuilt in full every run, so which keys changed is unknown' -%}
      {%- elif mark is none -%}
        {%- set why.full = 'no record of what ' ~ leaf.name ~ ' held' -%}
      {%- elif leaf.kind == 'source' -%}
        {%- if (probe[2] | int) != (mark[1] | int) -%}
          {%- set why.full = 'rows of ' ~ leaf.name ~ ' loaded before the last build changed' -%}
        {%- endif -%}
      {%- else -%}
        {%- set upstream_key = graph.nodes[leaf.uid].config.get('unique_key') -%}
        {%- if (mark | int) < 0 or (probe[1] | int) > 0 -%}
          {%- set why.full = leaf.name ~ ' was rebuilt in full since' -%}
        {%- elif upstream_key != key and key not in logged_keys -%}
          {%- set why.full = leaf.name ~ ' logs its changes by ' ~ upstream_key ~ ', not by ' ~ key -%}
        {%- endif -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}

  {#- --------------------------------------------------------------- the keys to restate -#}
  {%- set keys = namespace(count=0) -%}
  {%- set temporaries = ['table ' ~ keys_table] -%}
  {%- if why.full is none -%}
    {%- set changed = [] -%}
    {%- for leaf in leaves -%}
      {%- set mark = previous.marks[leaf.name] -%}
      {%- if leaf.kind == 'source' -%}
        {%- do changed.append("select " ~ key ~ "::varchar from " ~ leaf.relation ~
            (" where ingested_at > make_timestamp(" ~ mark[0] ~ ")" if mark[0] >= 0 else "")) -%}
      {%- else -%}
        {%- do changed.append("select key_value from " ~ changes ~ " where model = " ~
            keyed_incremental_quote(leaf.relation.schema ~ '/' ~ leaf.relation.identifier) ~
            " and key_column = " ~ keyed_incremental_quote(key) ~ " and build_id > " ~ mark) -%}
      {%- endif -%}
    {%- endfor -%}
    {%- if settings.restate_when_due -%}
      {#- rows not yet effective at the last build's as-of instant that are now -#}
      {%- for item in keyed if settings.restate_when_due in item.columns -%}
        {%- do changed.append("select " ~ key ~ "::varchar from " ~ item.relation ~ " where " ~ settings.restate_when_due
            ~ " > make_timestamp(" ~ previous.as_of_us ~ ") and " ~ settings.restate_when_due ~ " <= make_timestamp(" ~ as_of_us ~ ")") -%}
      {%- endfor -%}
    {%- endif -%}
    {%- if not changed -%}{%- do changed.append("select null::varchar where false") -%}{%- endif -%}
    {% do run_query("create or replace temp table keyed_incremental_keys as select distinct key_value from ("
                    ~ changed | join(" union all ") ~ ") as changed(key_value) where key_value is not null") %}
    {%- if settings.restate_together -%}
      {%- set why.full = keyed_incremental_restate_together(keyed, key, settings.restate_together, keys_table) -%}
    {%- endif -%}
    {%- if why.full is none -%}
      {%- set counted = run_query("select (select count(*) from " ~ keys_table ~ "), (select approx_count_distinct(" ~ key
                                  ~ ") from " ~ target_relation ~ ")").rows[0] -%}
      {%- set keys.count = counted[0] | int -%}
      {%- set total = counted[1] | int -%}
      {%- if keys.count and total >= var('keyed_incremental_restate_share_from', 10000)
             and keys.count > var('keyed_incremental_restate_share', 0.3) * total -%}
        {%- set why.full = '{:,} of about {:,} {} values changed'.format(keys.count, total, key) -%}
      {%- endif -%}
    {%- endif -%}
  {%- endif -%}

  {#- ---------------------------------------------------------------------- build and record -#}
  {%- if why.full is not none -%}
    {%- if existing_relation is not none -%}
      {% do adapter.drop_relation(existing_relation) %}
    {%- endif -%}
    {% call statement('keyed_incremental_full') %}
      {{ create_table_as(False, target_relation, sql) }}
    {% endcall %}
    {% do run_query("delete from " ~ changes ~ " where model = " ~ keyed_incremental_quote(model_name)) %}
    {%- set kind, reason, restated = 'full', why.full, none -%}
  {%- else -%}
    {%- set log = keyed_incremental_change_log(model, target_relation, key) -%}
    {%- set restate = {'differing': none} -%}
    {%- if keys.count -%}
      {%- do restate.update({'differing': keyed_incremental_restate(model, target_relation, keyed, key, keys_table, changes,
                                                                    model_name, build_id, log, logged_keys, temporaries)}) -%}
    {%- endif -%}
    {%- set kind, reason, restated = 'restated', '{:,} {} value(s) to restate'.format(keys.count, key), keys.count -%}
  {%- endif -%}
  {%- set recorded = run_query(
      "insert into " ~ builds ~ " (model, build_id, kind, reason, keys_restated, rows_after, fingerprint, as_of, marks, built_at,
                                   build_uuid, unique_key)
       select " ~ keyed_incremental_quote(model_name) ~ ", " ~ build_id ~ ", '" ~ kind ~ "', " ~ keyed_incremental_quote(reason) ~ ", "
       ~ (restated if restated is not none else 'null') ~ ", count(*),
              -- rows without a key cannot be restated by key: the next build is a full one
              case when count(*) filter (where " ~ key ~ " is null) = 0 then " ~ keyed_incremental_quote(fingerprint) ~ " end, "
       ~ ("make_timestamp(" ~ as_of_us ~ ")" if as_of_us is not none else "null") ~ ", "
       ~ keyed_incremental_quote(tojson(marks)) ~ ", now()::timestamptz at time zone 'UTC', uuid()::varchar, "
       ~ keyed_incremental_quote(key) ~ "
       from " ~ target_relation ~ "
       returning rows_after") -%}
  {%- set rows = recorded.rows[0][0] | int -%}
  {%- if kind == 'full' -%}
    {%- set message = 'rebuilt in full ({}): {:,} rows'.format(reason, rows) -%}
  {%- elif not keys.count -%}
    {%- set message = 'unchanged: no input changed since the last build' -%}
  {%- else -%}
    {%- set message = 'restated {:,} {} value(s) whose inputs changed'.format(keys.count, key) -%}
    {%- if restate.differing is not none -%}
      {%- set message = message ~ ': {:,} row(s) differ'.format(restate.differing) -%}
    {%- endif -%}
  {%- endif -%}
  {{ return({'kind': kind, 'message': message, 'rows': rows, 'temporaries': temporaries}) }}
{% endmacro %}


{#- The as-of instant is left out of the fingerprint, so a model may read it only as the bound of what is
    effective yet (restate_when_due); any other use would go stale between full builds. -#}
{% macro keyed_incremental_check_as_of_use(model, text, settings, as_of_relation) %}
  {%- set words = modules.re.findall('[a-z_][a-z0-9_]*', text) -%}
  {%- if 'month_end_cutoff' in words -%}
    {{ exceptions.raise_compiler_error(model.name ~ ': a keyed_incremental model cannot read month_end_cutoff (it moves with the as-of instant); make it a table') }}
  {%- endif -%}
  {%- if 'as_of' in words and not (settings.restate_when_due and as_of_relation is not none) -%}
    {{ exceptions.raise_compiler_error(model.name ~ ': a keyed_incremental model that reads as_of must read it from '
       ~ var('keyed_incremental_as_of_relation', 'staging.calendar') ~ ' and name the time column it bounds (restate_when_due)') }}
  {%- endif -%}
{% endmacro %}


{#- Add to the keys every key linked to one in them through a shared `together` value in a keyed input, until
    nothing more is linked. Returns why a full build is better when the links run on, or none. -#}
{% macro keyed_incremental_restate_together(keyed, key, together, keys_table, rounds=10) %}
  {%- set state = namespace(done=false) -%}
  {%- for _ in range(rounds) if not state.done -%}
    {%- set added = namespace(count=0) -%}
    {%- for item in keyed if together in item.columns -%}
      {%- set inserted = run_query(
          "insert into " ~ keys_table ~ "
           select distinct " ~ key ~ "::varchar from " ~ item.relation ~ "
           where " ~ together ~ " in (select " ~ together ~ " from " ~ item.relation ~ "
                                      where " ~ key ~ "::varchar in (select key_value from " ~ keys_table ~ "))
             and " ~ key ~ " is not null and " ~ key ~ "::varchar not in (select key_value from " ~ keys_table ~ ")") -%}
      {%- set added.count = added.count + (inserted.rows[0][0] | int) -%}
    {%- endfor -%}
    {%- if added.count == 0 -%}{%- set state.done = true -%}{%- endif -%}
  {%- endfor -%}
  {{ return(none if state.done else 'keys linked through ' ~ together ~ ' still growing after ' ~ rounds ~ ' rounds') }}
{% endmacro %}


{#- What the model's change log must hold for its readers: keyed_incremental models downstream (through views
    too) and, for a mart, the serving file's update (which restates by the mart's unique_key).
    "none": nothing reads it. "keys": every reader restates by this model's unique_key, so the keys restated
    are logged as they are (a few unchanged ones included: cheap and safe). "rows": some reader restates by
    another column (an account's subscriptions), so the rows that differ before and after are found and the
    values of every logged column among them kept. -#}
{% macro keyed_incremental_change_log(model, target_relation, key) %}
  {%- set reader_keys = [] -%}
  {%- set pending = [model.unique_id] -%}
  {%- set seen = [] -%}
  {%- for uid in pending if uid not in seen -%}
    {%- do seen.append(uid) -%}
    {%- for other in graph.nodes.values() if other.resource_type == 'model' and uid in other.depends_on.nodes -%}
      {%- if other.config.materialized == 'keyed_incremental' -%}
        {%- do reader_keys.append(other.config.get('unique_key') or '') -%}
      {%- elif other.config.materialized in ('view', 'ephemeral') -%}
        {%- do pending.append(other.unique_id) -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endfor -%}
  {%- if target_relation.schema == 'marts' -%}{%- do reader_keys.append(key) -%}{%- endif -%}
  {%- if not reader_keys -%}{{ return('none') }}{%- endif -%}
  {{ return('keys' if reader_keys | unique | list == [key] else 'rows') }}
{% endmacro %}


{#- Replace the rows of the keys in keys_table by the model's SELECT over its keyed inputs narrowed to them,
    and log what changed as `log` says; with "rows", returns how many rows differ (before and after). -#}
{% macro keyed_incremental_restate(model, target_relation, keyed, key, keys_table, changes, model_name, build_id, log,
                                   logged_keys, temporaries) %}
  {%- set in_keys = key ~ "::varchar in (select key_value from " ~ keys_table ~ ")" -%}
  {%- set narrowed = namespace(sql=sql) -%}
  {%- set stand_ins = [] -%}
  {%- for item in keyed -%}
    {#- a temporary view of the same table name stands in for the input, so qualified column names still bind -#}
    {%- set stand_in = '"temp"."main"."' ~ item.relation.identifier ~ '"' -%}
    {%- do stand_ins.append("create or replace temp view " ~ stand_in ~ " as select * from " ~ item.relation ~ " where " ~ in_keys) -%}
    {%- do temporaries.append('view ' ~ stand_in) -%}
    {%- set narrowed.sql = narrowed.sql.replace(item.relation.render(), stand_in) -%}
  {%- endfor -%}
  {%- if stand_ins -%}{% do run_query(stand_ins | join(";\n")) %}{%- endif -%}
  {%- if log != 'rows' -%}
    {% do run_query("delete from " ~ target_relation ~ " where " ~ in_keys) %}
    {% do run_query("insert into " ~ target_relation ~ " select * from (\n" ~ narrowed.sql ~ "\n)") %}
    {%- if log == 'keys' -%}
      {% do run_query("insert into " ~ changes ~ " select " ~ keyed_incremental_quote(model_name) ~ ", " ~ build_id ~ ", "
                      ~ keyed_incremental_quote(key) ~ ", key_value from " ~ keys_table) %}
    {%- endif -%}
    {{ return(none) }}
  {%- endif -%}
  {%- do temporaries.append('table "temp"."main"."keyed_incremental_before"') -%}
  {%- do temporaries.append('table "temp"."main"."keyed_incremental_rows"') -%}
  {% do run_query("create or replace temp table keyed_incremental_before as select * from " ~ target_relation ~ " where " ~ in_keys) %}
  {% do run_query("delete from " ~ target_relation ~ " where " ~ in_keys) %}
  {% do run_query("insert into " ~ target_relation ~ " select * from (\n" ~ narrowed.sql ~ "\n)") %}
  {% do run_query("create or replace temp table keyed_incremental_rows as
                   (select * from keyed_incremental_before except all select * from " ~ target_relation ~ " where " ~ in_keys ~ ")
                   union all
                   (select * from " ~ target_relation ~ " where " ~ in_keys ~ " except all select * from keyed_incremental_before)") %}
  {#- its own key too: a reader may restate by it while another reader makes this log "rows" -#}
  {%- set columns = adapter.get_columns_in_relation(target_relation) | map(attribute='name') | list -%}
  {%- set inserts = [] -%}
  {%- for column in ([key] + logged_keys) | unique if column in columns -%}
    {%- do inserts.append("select distinct " ~ keyed_incremental_quote(model_name) ~ ", " ~ build_id ~ ", "
                          ~ keyed_incremental_quote(column) ~ ", " ~ column ~ "::varchar from keyed_incremental_rows where "
                          ~ column ~ " is not null") -%}
  {%- endfor -%}
  {% do run_query("insert into " ~ changes ~ " " ~ inserts | join(" union all ")) %}
  {{ return(keyed_incremental_value("select count(*) from keyed_incremental_rows") | int) }}
{% endmacro %}


{% macro keyed_incremental_drop_temporaries(temporaries) %}
  {%- set drops = [] -%}
  {%- for temporary in temporaries -%}
    {%- do drops.append("drop " ~ temporary.split(' ')[0] ~ " if exists " ~ temporary.split(' ', 1)[1]) -%}
  {%- endfor -%}
  {%- if drops -%}{% do run_query(drops | join(";\n")) %}{%- endif -%}
{% endmacro %}


{#- on-run-start: the bookkeeping tables, and the bookkeeping of models that are no longer keyed_incremental
    dropped (a model turned into a table must not be updated in place by the serving file). -#}
{% macro keyed_incremental_bookkeeping() %}
  {%- if not execute or not keyed_incremental_restates() -%}{{ return('') }}{%- endif -%}
  {%- set models = [] -%}
  {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.config.materialized == 'keyed_incremental' -%}
    {%- do models.append(keyed_incremental_quote(node.schema ~ '/' ~ (node.alias or node.name))) -%}
  {%- endfor -%}
  {%- set current = '(' ~ (models | join(', ') if models else "''") ~ ')' -%}
  create schema if not exists pipeline;
  create table if not exists pipeline.model_builds (
      model varchar, build_id bigint, kind varchar, reason varchar, keys_restated bigint, rows_after bigint,
      fingerprint varchar, as_of timestamp, marks varchar, built_at timestamp, build_uuid varchar, unique_key varchar
  );
  alter table pipeline.model_builds add column if not exists build_uuid varchar;
  alter table pipeline.model_builds add column if not exists unique_key varchar;
  create table if not exists pipeline.model_changes (model varchar, build_id bigint, key_column varchar, key_value varchar);
  comment on table pipeline.model_builds is 'Every build of a keyed_incremental model: full or restated, why, and what its inputs held (sql/macros/materializations/keyed_incremental.sql).';
  comment on table pipeline.model_changes is 'Keys whose rows a keyed_incremental model changed, by build: what the models downstream of it restate.';
  delete from pipeline.model_builds where model not in {{ current }};
  delete from pipeline.model_changes where model not in {{ current }};
  create sequence if not exists pipeline.model_build_ids start with {{ keyed_incremental_next_build_id() }};
{% endmacro %}


{#- Where the build ids start in a warehouse whose bookkeeping predates the sequence. -#}
{% macro keyed_incremental_next_build_id() %}
  {%- set found = run_query("select count(*) from duckdb_tables() where schema_name = 'pipeline' and table_name = 'model_builds'
                             and database_name = current_database()") -%}
  {%- if found.rows[0][0] | int == 0 -%}{{ return(1) }}{%- endif -%}
  {{ return(keyed_incremental_value("select coalesce(max(build_id), 0) + 1 from pipeline.model_builds") | int) }}
{% endmacro %}
