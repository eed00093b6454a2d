"""The load log in the serving file: what was rejected and which files were loaded (docs/bi.md).

`raw.quarantine` and `raw.loaded_files` live in the warehouse, which BI tools never open. Every
publication copies them to the serving file as `meta.quarantine` and `meta.loaded_files`, with their
descriptions, so an analyst sees from the same connection as the marts what was rejected and why
(`select reason, count(*) from meta.quarantine group by all`).
"""

from __future__ import annotations

import duckdb

# serving table -> (warehouse table, its description in the serving file)
LOAD_LOG_TABLES = {
    "meta.quarantine": (
        "raw.quarantine",
        "Rows rejected at load, with the file, line, text as landed and the reason; nothing is dropped "
        "silently. As of the publication (meta.publication).",
    ),
    "meta.loaded_files": (
        "raw.loaded_files",
        "Every landed event file loaded so far, with what it delivered (rows read, loaded, duplicate, "
        "quarantined) and its size, modification time and SHA-256 when loaded: a file edited since is "
        "reloaded by the next run.",
    ),
}


def copy_load_log(con: duckdb.DuckDBPyConnection, alias: str) -> dict[str, int]:
    """Copy the warehouse's load log (on `con`) into the attached database `alias`, whose `meta` schema
    exists; returns the row count of each table written."""
    counts = {}
    for target, (source, comment) in LOAD_LOG_TABLES.items():
        schema, table = source.split(".")
        exists = con.execute(
            "select count(*) from duckdb_tables() where database_name = current_database() and schema_name = ? "
            "and table_name = ?", [schema, table]).fetchall()[0][0]
        if not exists:
            continue
        order = "source_file, line_number" if table == "quarantine" else "source_file"
        con.execute(f"create or replace table {alias}.{target} as select * from {source} order by {order}")
        con.execute(f"comment on table {alias}.{target} is {_quote(comment)}")
        for column, text in con.execute(
            "select column_name, comment from duckdb_columns() where database_name = current_database() "
            "and schema_name = ? and table_name = ? and comment is not null and comment <> ''",
            [schema, table]).fetchall():
            con.execute(f'comment on column {alias}.{target}."{column}" is {_quote(text)}')
        for column, text in EXTRA_COMMENTS.get(target, {}).items():
            con.execute(f'comment on column {alias}.{target}."{column}" is {_quote(text)}')
        counts[target] = con.sql(f"select count(*) from {alias}.{target}").fetchall()[0][0]
    return counts


# Columns the warehouse leaves undescribed.
EXTRA_COMMENTS = {
    "meta.quarantine": {
        "source_file": "Landed file the row came from, relative to the landing folder.",
        "line_number": "Line of the row in its file (1-based; for CSV the header is line 1; for Parquet the row).",
        "stream": "The stream the file was loaded as: subscription_events, billing_events or usage_events.",
        "quarantined_at": "When the row was rejected, UTC.",
    },
    "meta.loaded_files": {
        "source_file": "Landed file, relative to the landing folder.",
        "stream": "subscription_events, billing_events or usage_events.",
        "rows_read": "Non-blank lines (rows) the file held.",
        "rows_loaded": "Rows added to the warehouse.",
        "rows_duplicate": "Identical re-deliveries of events already loaded: skipped.",
        "rows_quarantined": "Rows rejected: see meta.quarantine for this file.",
        "loaded_at": "When the file was loaded, UTC.",
    },
}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
