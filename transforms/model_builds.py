"""What the keyed_incremental models' bookkeeping says, for readers outside dbt (the serving file).

The dbt materialization `keyed_incremental` (sql/macros/materializations/keyed_incremental.sql) records every
build of a model in `pipeline.model_builds` (full or restated, with a uuid telling this warehouse's builds
from a copy's) and the keys each build changed in `pipeline.model_changes`. Models that are no longer
keyed_incremental lose their bookkeeping at the next dbt run, so what is recorded is about current models.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class ChangedKeys:
    """The rows of a keyed_incremental model that changed since a build: those whose `key_column` value is
    among the values `select_sql` selects (as VARCHAR)."""

    key_column: str
    select_sql: str


def latest_builds(con: duckdb.DuckDBPyConnection) -> dict[str, list]:
    """Each keyed_incremental model's latest build as [build_id, build_uuid], by "schema/table": what a copy of
    its table (the serving file) is as of. The uuid tells this warehouse's build from a build of the same
    number in another copy of it (a restored backup numbers its next builds as the copy did)."""
    if not _has_bookkeeping(con):
        return {}
    found = con.sql("select model, arg_max([build_id::varchar, build_uuid], build_id) from pipeline.model_builds "
                    "group by model").fetchall()
    return {model: [int(latest[0]), latest[1]] for model, latest in found}


def changed_keys_since(con: duckdb.DuckDBPyConnection, model: str, build: list | None) -> ChangedKeys | None:
    """The keys whose rows of `model` ("marts/accounts") changed after `build` ([build_id, build_uuid], from
    latest_builds), or None when that is unknown (no such build of this warehouse, not a keyed_incremental
    model now, or a full rebuild since): then copy the whole table."""
    if not build or not _has_bookkeeping(con):
        return None
    build_id, build_uuid = int(build[0]), str(build[1])
    known, fuller, key_column = con.execute(
        "select count(*) filter (where build_id = ? and build_uuid = ?), "
        "count(*) filter (where build_id > ? and kind = 'full'), arg_max(unique_key, build_id) "
        "from pipeline.model_builds where model = ?",
        [build_id, build_uuid, build_id, model]).fetchall()[0]
    if not known or fuller or not key_column:
        return None
    quoted = model.replace("'", "''")
    return ChangedKeys(key_column, f"select key_value from pipeline.model_changes where model = '{quoted}' "
                                   f"and key_column = '{key_column}' and build_id > {build_id}")


def latest_outcomes(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """What each keyed_incremental model's latest build did, by qualified name ("marts.accounts"), in the words
    of dbt's log: "rebuilt in full (first build): 300 rows", "restated 4 account_id value(s) whose inputs
    changed", "unchanged: no input changed since the last build"."""
    if not _has_bookkeeping(con):
        return {}
    found = con.sql("""select model, kind, reason, keys_restated, rows_after, unique_key from pipeline.model_builds
                       qualify row_number() over (partition by model order by build_id desc) = 1""").fetchall()
    outcomes = {}
    for model, kind, reason, keys, rows, key in found:
        if kind == "full":
            said = f"rebuilt in full ({reason}): {rows:,} rows"
        elif not keys:
            said = "unchanged: no input changed since the last build"
        else:
            said = f"restated {keys:,} {key} value(s) whose inputs changed"
        outcomes[model.replace("/", ".")] = said
    return outcomes


def _has_bookkeeping(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.sql(
        "select count(*) from duckdb_columns() where database_name = current_database() and schema_name = 'pipeline' "
        "and table_name = 'model_builds' and column_name = 'unique_key'").fetchall()[0][0])
