"""Incremental models: restate only the keys whose inputs changed, and keep the table equal to a rebuild.

A model whose header says `materialized: incremental` and `unique_key: account_id` is a table like any
other, but a run that finds only some accounts' inputs changed deletes those accounts' rows and selects
them again with the model's own SQL, its keyed inputs narrowed to those accounts. The SQL stays one
SELECT over all history: nothing in it knows about increments.

What a model reads falls in two kinds:
- keyed inputs have the unique_key column: raw tables (new rows are those ingested after the model's last
  build), views over them, and other incremental models (the keys they restated since, from
  `pipeline.model_changes`); keys that share a value of `restate_together` (a subscription moving
  between accounts) are restated together;
- global inputs do not (the calendar, FX rates, plans): their content, the model's SQL, the SQL of the
  views it reads and the shared macros make a fingerprint. The calendar's as-of instant is left out of it:
  it moves with every delivery. A model that reads it declares `restate_when_due: <time column>`, and the
  keys whose rows came due between the two as-of instants are restated.

The table is rebuilt in full instead when restating could be wrong or is not worth it: its first build, a
changed fingerprint (a new month, new FX rates or plans, changed SQL), rows gone from a raw input, a keyed
input that is an ordinary table, an upstream incremental model rebuilt in full since, a table that is not
what its last build left, or more than RESTATE_SHARE of its keys to restate.
`tests/unit/test_incremental.py` holds restated tables to full rebuilds, day by day.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from transforms.sql_models import (
    SQL_DIR,
    SqlModel,
    all_model_names,
    comment_table,
    create_model_relation,
    drop_retired,
    load_model,
)

# The relation holding the data's as-of instant, and its columns that move with every delivery.
AS_OF_RELATION = "staging.calendar"
AS_OF_COLUMNS = ("as_of", "month_end_cutoff")
# When a row was loaded is not what it says: reloading the same reference file changes nothing.
LOAD_TIME_COLUMNS = ("ingested_at",)
# Columns whose changed values are logged for the models downstream (they restate by one of them).
LOGGED_KEYS = ("account_id", "subscription_id")
# More keys than this share of the table's to restate: a full rebuild is cheaper, and compacts the table.
# A table of fewer keys than RESTATE_SHARE_FROM is restated whatever the share: either way is instant.
RESTATE_SHARE = 0.3
RESTATE_SHARE_FROM = 10_000
# Part of every fingerprint: a change to how restating works rebuilds every incremental model once.
STATE_VERSION = "1"


@dataclass(frozen=True)
class KeyedInput:
    relation: str  # as the model's SQL names it: "staging.subscription_events"
    kind: str  # "raw", "incremental", "view" or "table"
    sources: tuple[KeyedInput, ...] = ()  # for a view: the keyed relations it reads


def ensure_state_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists pipeline")
    con.execute(
        """create table if not exists pipeline.model_builds (
            model varchar, build_id bigint, kind varchar, reason varchar, keys_restated bigint,
            rows_after bigint, fingerprint varchar, as_of timestamp, marks varchar, built_at timestamp,
            build_uuid varchar
        )"""
    )
    con.execute("alter table pipeline.model_builds add column if not exists build_uuid varchar")
    con.execute(
        "create table if not exists pipeline.model_changes (model varchar, build_id bigint, key_column varchar, "
        "key_value varchar)"
    )
    con.execute("comment on table pipeline.model_builds is 'Every build of an incremental model: full or "
                "restated, why, and what its inputs held (bookkeeping: transforms/incremental.py).'")
    con.execute("comment on table pipeline.model_changes is 'Keys whose rows an incremental model changed, "
                "by build: what the models downstream of it restate.'")


def build_incremental(con: duckdb.DuckDBPyConnection, model: SqlModel) -> str:
    """Build an incremental model, restating what changed when it safely can; returns what it did."""
    ensure_state_tables(con)
    con.execute("begin transaction")
    try:
        outcome = _build(con, model)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        _drop_quietly(con, "table restate_keys", "table restated_before")
    return outcome


def _drop_quietly(con, *relations: str) -> None:
    """Drop temporary relations; after a failed statement the transaction is aborted and the drop fails
    too, which must not hide the error that matters (DuckDB drops temp objects with the connection)."""
    for relation in relations:
        with contextlib.suppress(duckdb.Error):
            con.execute(f"drop {relation.split()[0]} if exists {relation.split()[1]}")


def _build(con: duckdb.DuckDBPyConnection, model: SqlModel) -> str:
    keyed, global_inputs, texts = _inputs(con, model)
    _check_as_of_use(model, texts)
    fingerprint = _fingerprint(con, model, global_inputs, texts)
    as_of = con.sql(f"select max(as_of) from {AS_OF_RELATION}").fetchall()[0][0] \
        if model.restate_when_due else None
    marks = _current_marks(con, keyed)
    build_id = con.sql("select coalesce(max(build_id), 0) + 1 from pipeline.model_builds").fetchall()[0][0]
    previous = _last_build(con, model.name)

    why_full = _why_full(con, model, keyed, previous, fingerprint, as_of)
    if why_full is None:
        why_full = _stage_restate_keys(con, model, keyed, previous, as_of)
    if why_full is not None:
        create_model_relation(con, model)
        con.execute("delete from pipeline.model_changes where model = ?", [model.name])
        rows = _record(con, model, build_id, "full", why_full, None, fingerprint, as_of, marks)
        return f"rebuilt in full ({why_full}): {rows:,} rows"

    drop_retired(con, model)
    # descriptions live in the header, outside the fingerprint: written on every build, as a full one does
    comment_table(con, model.qualified_name, model.description, model.column_descriptions)
    keys = con.sql("select count(*) from restate_keys").fetchall()[0][0]
    log = _change_log(model)
    changed_rows = _restate(con, model, keyed, build_id, log) if keys else 0
    _record(con, model, build_id, "restated", f"{keys:,} {model.unique_key} value(s) to restate", keys,
            fingerprint, as_of, marks)
    if not keys:
        return "unchanged: no input changed since the last build"
    said = f"restated {keys:,} {model.unique_key} value(s) whose inputs changed"
    return f"{said}: {changed_rows:,} row(s) differ" if log == "rows" else said


# ------------------------------------------------------------------------------ for other consumers


def latest_builds(con: duckdb.DuckDBPyConnection) -> dict[str, list]:
    """Each incremental model's latest build as [build_id, build_uuid]: what a copy of its table (the serving
    file) is as of. The uuid tells this warehouse's build from a build of the same number in another copy of
    it (a restored backup numbers its next builds as the copy did)."""
    ensure_state_tables(con)
    found = con.sql("select model, arg_max([build_id::varchar, build_uuid], build_id) from pipeline.model_builds "
                    "group by model").fetchall()
    return {model: [int(latest[0]), latest[1]] for model, latest in found if _is_incremental(model)}


def _is_incremental(name: str) -> bool:
    return (SQL_DIR / f"{name}.sql").exists() and load_model(name).materialized == "incremental"


def changed_keys_since(con: duckdb.DuckDBPyConnection, name: str, build: list | None) -> str | None:
    """SQL selecting the unique_key values whose rows of model `name` changed after `build` ([build_id,
    build_uuid], from latest_builds), or None when that is unknown (not an incremental model now, not a
    build of this warehouse, or a full rebuild since): then copy the whole table."""
    if not build or not _is_incremental(name):
        return None
    ensure_state_tables(con)
    build_id, build_uuid = int(build[0]), str(build[1])
    known, fuller = con.execute(
        "select count(*) filter (where build_id = ? and build_uuid = ?), "
        "count(*) filter (where build_id > ? and kind = 'full') from pipeline.model_builds where model = ?",
        [build_id, build_uuid, build_id, name]).fetchall()[0]
    if not known or fuller:
        return None
    return (f"select key_value from pipeline.model_changes where model = '{name}' "
            f"and key_column = '{load_model(name).unique_key}' and build_id > {int(build_id)}")


# ------------------------------------------------------------------------------------------ inputs


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    schema, table = relation.split(".")
    return [r[0] for r in con.execute(
        "select column_name from duckdb_columns() where database_name = current_database() and schema_name = ? "
        "and table_name = ? order by column_index", [schema, table]).fetchall()]


def _model_name(relation: str) -> str:
    """"intermediate.subscription_periods" -> "intermediate/subscription_periods" (a model's name)."""
    return relation.replace(".", "/")


def _model_of(relation: str) -> SqlModel | None:
    name = _model_name(relation)
    return load_model(name) if (SQL_DIR / f"{name}.sql").exists() else None


def _inputs(con, model: SqlModel) -> tuple[list[KeyedInput], list[str], list[str]]:
    """The model's keyed inputs, its global inputs (looked through views) and the SQL texts it depends on."""
    texts = [model.select_sql]
    global_inputs: list[str] = []

    def classify(relation: str) -> KeyedInput | None:
        keyed = model.unique_key in _columns(con, relation)
        upstream = _model_of(relation)
        if upstream is not None and upstream.materialized == "view":
            texts.append(upstream.select_sql)
            sources = tuple(s for s in (classify(r) for r in upstream.upstream_tables) if s is not None)
            return KeyedInput(relation, "view", sources) if keyed else None
        if not keyed:
            global_inputs.append(relation)
            return None
        kind = "raw" if relation.startswith("raw.") else (
            "incremental" if upstream is not None and upstream.materialized == "incremental" else "table")
        return KeyedInput(relation, kind)

    keyed = [k for k in (classify(r) for r in model.upstream_tables) if k is not None]
    names = [k.relation.split(".")[1] for k in keyed]
    if len(set(names)) < len(names):
        raise ValueError(f"{model.name}: two keyed inputs share a table name ({names}); a restatement reads each "
                         "through a temporary view of that name")
    return keyed, sorted(set(global_inputs)), texts


def _leaves(keyed: list[KeyedInput]) -> list[KeyedInput]:
    """The raw tables and models behind the keyed inputs (views looked through)."""
    found: dict[str, KeyedInput] = {}
    for item in keyed:
        for leaf in (_leaves(list(item.sources)) if item.kind == "view" else [item]):
            found[leaf.relation] = leaf
    return sorted(found.values(), key=lambda k: k.relation)


def _fingerprint(con, model: SqlModel, global_inputs: list[str], texts: list[str]) -> str:
    digest = hashlib.sha256()
    for text in (STATE_VERSION, model.unique_key or "", model.restate_when_due or "",
                 (SQL_DIR / "macros.sql").read_text(), *texts):
        digest.update(text.encode() + b"\0")
    for relation in global_inputs:
        columns = [c for c in _columns(con, relation) if c not in LOAD_TIME_COLUMNS
                   and not (relation == AS_OF_RELATION and c in AS_OF_COLUMNS)]
        row = "to_json(struct_pack(" + ", ".join(f'"{c}" := "{c}"' for c in columns) + "))::varchar"
        content = con.sql(f"select count(*), coalesce(md5(string_agg({row}, chr(10) order by {row})), '') "
                          f"from {relation}").fetchall()[0]
        digest.update(f"{relation}:{columns}:{content}".encode() + b"\0")
    return digest.hexdigest()


def _current_marks(con, keyed: list[KeyedInput]) -> dict:
    """What each keyed source holds now: a raw table's latest ingested_at and its row count, an incremental
    model's latest build."""
    marks: dict = {}
    for leaf in _leaves(keyed):
        if leaf.kind == "raw":
            latest, count = con.sql(f"select max(ingested_at)::varchar, count(*) from {leaf.relation}").fetchall()[0]
            marks[leaf.relation] = [latest, count]
        elif leaf.kind == "incremental":
            marks[leaf.relation] = con.execute(
                "select max(build_id) from pipeline.model_builds where model = ?",
                [_model_name(leaf.relation)]).fetchall()[0][0]
    return marks


def _last_build(con, name: str) -> dict | None:
    relation = con.execute(
        "select * from pipeline.model_builds where model = ? order by build_id desc limit 1", [name])
    found = relation.fetchall()
    return dict(zip([d[0] for d in relation.description], found[0], strict=True)) if found else None


def _check_as_of_use(model: SqlModel, texts: list[str]) -> None:
    """The as-of instant is left out of the fingerprint, so a model may read it only as the bound of what is
    effective yet (restate_when_due); any other use would go stale between full builds."""
    words = set(re.findall(r"[a-z_][a-z0-9_]*", " ".join(texts)))
    if "month_end_cutoff" in words:
        raise ValueError(f"{model.name}: an incremental model cannot read month_end_cutoff (it moves with the "
                         "as-of instant); make it a table")
    if "as_of" in words and not (model.restate_when_due and AS_OF_RELATION in model.upstream_tables):
        raise ValueError(f"{model.name}: an incremental model that reads as_of must read it from "
                         f"{AS_OF_RELATION} and name the time column it bounds (restate_when_due)")


# ------------------------------------------------------------------------------------ full or not


def _why_full(con, model: SqlModel, keyed: list[KeyedInput], previous: dict | None, fingerprint: str,
              as_of) -> str | None:
    """Why this build must be a full one, or None when restating keys gives the same table."""
    if previous is None:
        return "first build"
    if previous["fingerprint"] is None:
        return "the last build left rows without a key"
    if previous["fingerprint"] != fingerprint:
        return "the calendar, FX rates, plans or SQL changed"
    exists = con.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() and schema_name = ? "
        "and table_name = ?", [model.schema, model.table]).fetchall()[0][0]
    if not exists:
        return f"{model.qualified_name} is missing"
    if con.sql(f"select count(*) from {model.qualified_name}").fetchall()[0][0] != previous["rows_after"]:
        return f"{model.qualified_name} is not as its last build left it"
    if model.restate_when_due and (as_of is None or previous["as_of"] is None or as_of < previous["as_of"]):
        return "the data's as-of instant moved back"
    marks = json.loads(previous["marks"])
    for leaf in _leaves(keyed):
        if leaf.kind == "table":
            return f"{leaf.relation} is rebuilt in full every run, so which keys changed is unknown"
        if leaf.relation not in marks:
            return f"no record of what {leaf.relation} held"
        mark = marks[leaf.relation]
        if leaf.kind == "raw":
            latest, count = mark
            still = con.execute(f"select count(*) from {leaf.relation} where ingested_at <= ?::timestamp",
                                [latest]).fetchall()[0][0] if latest is not None else 0
            if still != count:
                return f"rows of {leaf.relation} loaded before the last build changed"
        else:
            fuller = con.execute(
                "select count(*) from pipeline.model_builds where model = ? and kind = 'full' and build_id > ?",
                [_model_name(leaf.relation), mark if mark is not None else -1]).fetchall()[0][0]
            if mark is None or fuller:
                return f"{leaf.relation} was rebuilt in full since"
            upstream = load_model(_model_name(leaf.relation))
            if model.unique_key != upstream.unique_key and model.unique_key not in LOGGED_KEYS:
                return f"{leaf.relation} logs its changes by {upstream.unique_key}, not by {model.unique_key}"
    return None


def _stage_restate_keys(con, model: SqlModel, keyed: list[KeyedInput], previous: dict, as_of) -> str | None:
    """Temp table restate_keys: the unique_key values whose inputs changed since the last build. Returns why
    a full build is better instead (too many), or None."""
    key = model.unique_key
    marks = json.loads(previous["marks"])
    changed = []
    for leaf in _leaves(keyed):
        mark = marks[leaf.relation]
        if leaf.kind == "raw":
            if mark[0] is None:
                changed.append(f"select {key}::varchar from {leaf.relation}")
            else:
                changed.append(f"select {key}::varchar from {leaf.relation} where ingested_at > "
                               f"'{mark[0]}'::timestamp")
        else:
            changed.append(
                f"select key_value from pipeline.model_changes where model = '{_model_name(leaf.relation)}' "
                f"and key_column = '{key}' and build_id > {int(mark)}")
    if model.restate_when_due:
        # rows not yet effective at the last build's as-of instant that are now
        due = model.restate_when_due
        for item in keyed:
            if due in _columns(con, item.relation):
                changed.append(
                    f"select {key}::varchar from {item.relation} where {due} > '{previous['as_of']}'::timestamp "
                    f"and {due} <= '{as_of}'::timestamp")
    con.execute("create or replace temp table restate_keys as select distinct key_value from ("
                + " union all ".join(f"({c})" for c in changed) + ") as changed(key_value) "
                "where key_value is not null")
    if model.restate_together:
        unclosed = _restate_together(con, model, keyed)
        if unclosed:
            return unclosed
    keys = con.sql("select count(*) from restate_keys").fetchall()[0][0]
    total = con.sql(f"select approx_count_distinct({key}) from {model.qualified_name}").fetchall()[0][0]
    if keys and total >= RESTATE_SHARE_FROM and keys > RESTATE_SHARE * total:
        return f"{keys:,} of about {total:,} {key} values changed"
    return None


def _restate_together(con, model: SqlModel, keyed: list[KeyedInput], rounds: int = 10) -> str | None:
    """Add to restate_keys every key linked to one in it through a shared restate_together value in a keyed
    input, until nothing more is linked. Returns why a full build is better when the links run on."""
    key, together = model.unique_key, model.restate_together
    linked = [item.relation for item in keyed if together in _columns(con, item.relation)]
    for _ in range(rounds):
        added = 0
        for relation in linked:
            added += con.execute(
                f"""insert into restate_keys
                    select distinct {key}::varchar from {relation}
                    where {together} in (select {together} from {relation}
                                         where {key}::varchar in (select key_value from restate_keys))
                      and {key} is not null and {key}::varchar not in (select key_value from restate_keys)"""
            ).fetchall()[0][0]
        if not added:
            return None
    return f"keys linked through {together} still growing after {rounds} rounds"


# ---------------------------------------------------------------------------------------- restating


def _change_log(model: SqlModel) -> str:
    """What the model's change log must hold for its readers: incremental models downstream (through views
    too) and, for a mart, the serving file's update (which restates by the mart's unique_key).

    "none": nothing reads it, so nothing is logged. "keys": every reader restates by this model's own
    unique_key, so the keys restated are logged as they are (a few unchanged ones included: cheap and
    safe). "rows": some reader restates by another column (an account's subscriptions, say), so the rows
    that differ before and after are found and the values of every logged column among them are kept. A
    model that starts reading a log later starts with a full build of its own, after which it is kept."""
    reader_keys: set[str] = set()

    def collect(relation: str) -> None:
        for name in all_model_names():
            other = load_model(name)
            if relation not in other.upstream_tables:
                continue
            if other.materialized == "incremental":
                reader_keys.add(other.unique_key or "")
            elif other.materialized == "view":
                collect(other.qualified_name)

    collect(model.qualified_name)
    if model.schema == "marts":
        reader_keys.add(model.unique_key or "")
    if not reader_keys:
        return "none"
    return "keys" if reader_keys == {model.unique_key} else "rows"


def _restate(con, model: SqlModel, keyed: list[KeyedInput], build_id: int, log: str) -> int:
    """Replace the rows of the keys in restate_keys by the model's SELECT over its keyed inputs narrowed
    to them and log what changed as `log` says (_change_log); with "rows", returns how many rows differ
    (before and after)."""
    key, table = model.unique_key, model.qualified_name
    in_keys = f"{key}::varchar in (select key_value from restate_keys)"
    sql = model.select_sql
    for item in keyed:
        # A temp view of the same table name stands in for the input, so qualified column names still bind.
        name = item.relation.split(".")[1]
        con.execute(f"create or replace temp view {name} as select * from {item.relation} where {in_keys}")
        sql = re.sub(rf"\b{re.escape(item.relation)}\b", f"temp.main.{name}", sql)
    try:
        if log != "rows":
            con.execute(f"delete from {table} where {in_keys}")
            con.execute(f"insert into {table} select * from (\n{sql}\n)")
            if log == "keys":
                con.execute("insert into pipeline.model_changes select ?, ?, ?, key_value from restate_keys",
                            [model.name, build_id, key])
            return 0
        con.execute(f"create or replace temp table restated_before as select * from {table} where {in_keys}")
        con.execute(f"delete from {table} where {in_keys}")
        con.execute(f"insert into {table} select * from (\n{sql}\n)")
        differing = f"""(select * from restated_before except all select * from {table} where {in_keys})
                        union all
                        (select * from {table} where {in_keys} except all select * from restated_before)"""
        con.execute(f"create or replace temp table restated_rows as {differing}")
        # its own key too: a reader may restate by it while another reader makes this log "rows"
        logged = [c for c in dict.fromkeys([key, *LOGGED_KEYS]) if c in _columns(con, table)]
        for column in logged:
            con.execute(
                f"insert into pipeline.model_changes select distinct ?, ?, ?, {column}::varchar "
                f"from restated_rows where {column} is not null", [model.name, build_id, column])
        return con.sql("select count(*) from restated_rows").fetchall()[0][0]
    finally:
        _drop_quietly(con, "table restated_rows", *(f"view temp.main.{item.relation.split('.')[1]}" for item in keyed))


def _record(con, model: SqlModel, build_id: int, kind: str, reason: str, keys: int | None, fingerprint: str,
            as_of, marks: dict) -> int:
    rows, keyless = con.sql(
        f"select count(*), count(*) filter (where {model.unique_key} is null) from {model.qualified_name}"
    ).fetchall()[0]
    con.execute(
        "insert into pipeline.model_builds (model, build_id, kind, reason, keys_restated, rows_after, fingerprint, "
        "as_of, marks, built_at, build_uuid) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, uuid()::varchar)",
        [model.name, build_id, kind, reason, keys, rows,
         # rows without a key cannot be restated by key: the next build is a full one
         fingerprint if not keyless else None,
         as_of, json.dumps(marks), datetime.now(UTC).replace(tzinfo=None)],
    )
    return rows
