"""The bookkeeping of incremental models that the serving file's update reads.

An incremental model (materialized `incremental` in its `.yml`, with a `unique_key`) records each build in
`pipeline.model_builds` and the keys whose rows it changed in `pipeline.model_changes`; the publication
(transforms/serving.py) copies only those keys' rows of an incremental mart into a copy of the last serving
file. A model that is not incremental, or a build this warehouse has no record of, is copied whole.
Models are named here as "marts/account_mrr_monthly".
"""

from __future__ import annotations

import duckdb

from transforms.dbt_project import model_doc


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


def latest_builds(con: duckdb.DuckDBPyConnection) -> dict[str, list]:
    """Each incremental model's latest build as [build_id, build_uuid]: what a copy of its table (the serving
    file) is as of. The uuid tells this warehouse's build from a build of the same number in another copy of
    it (a restored backup numbers its next builds as the copy did)."""
    ensure_state_tables(con)
    found = con.sql("select model, arg_max([build_id::varchar, build_uuid], build_id) from pipeline.model_builds "
                    "group by model").fetchall()
    return {model: [int(latest[0]), latest[1]] for model, latest in found if _is_incremental(model)}


def _is_incremental(name: str) -> bool:
    doc = model_doc(name.replace("/", "."))
    return doc is not None and doc.materialized == "incremental"


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
    key = model_doc(name.replace("/", ".")).unique_key
    return (f"select key_value from pipeline.model_changes where model = '{name}' "
            f"and key_column = '{key}' and build_id > {int(build_id)}")
