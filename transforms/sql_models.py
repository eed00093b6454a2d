"""The warehouse connection the Python steps share, and what a table holds, for asset metadata and tests.

The SQL models are a dbt project (sql/, transforms/dbt_project.py): dbt builds them and writes their
descriptions to the DuckDB catalog (persist_docs). The Python steps (ingestion, the sales lists, the
report, the publication) open the warehouse here, with the session settings they assume.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from transforms.safe_text import markdown_cell, markdown_header

# `pipeline` holds the bookkeeping of incremental models; staging, intermediate and marts the dbt models.
WAREHOUSE_SCHEMAS = ("raw", "staging", "intermediate", "marts", "pipeline")


@dataclass(frozen=True)
class TableSummary:
    """What a model (or a load) left in the warehouse: enough for asset metadata and tests."""

    qualified_name: str
    row_count: int
    columns: list[tuple[str, str, str | None]]  # (name, type, description)
    preview_markdown: str
    preview: object = None  # the previewed rows as a Polars frame (the Dagster UI shows it as a table)


def ensure_schemas(con: duckdb.DuckDBPyConnection) -> None:
    for schema in WAREHOUSE_SCHEMAS:
        con.execute(f"create schema if not exists {schema}")


def comment_table(
    con: duckdb.DuckDBPyConnection,
    qualified_name: str,
    description: str,
    columns: dict[str, str],
    kind: str = "table",
) -> None:
    actual = {row[0] for row in con.sql(f"describe {qualified_name}").fetchall()}
    unknown = set(columns) - actual
    if unknown:
        raise ValueError(f"{qualified_name}: descriptions name columns it does not have: {sorted(unknown)}")
    con.execute(f"comment on {kind} {qualified_name} is {_quote(description)}")
    for column, text in columns.items():
        con.execute(f"comment on column {qualified_name}.{column} is {_quote(text)}")


def summarize_table(
    con: duckdb.DuckDBPyConnection, qualified_name: str, preview_rows: int = 10, order_by: str | None = None
) -> TableSummary:
    schema, table = qualified_name.split(".")
    columns = con.execute(
        """
        select column_name, data_type, comment
        from duckdb_columns()
        where schema_name = ? and table_name = ? and database_name = current_database()
        order by column_index
        """,
        [schema, table],
    ).fetchall()
    row_count = con.sql(f"select count(*) from {qualified_name}").fetchall()[0][0]
    order = f" order by {order_by}" if order_by else ""
    preview = con.sql(f"select * from {qualified_name}{order} limit {preview_rows}").pl()
    return TableSummary(qualified_name, row_count, columns, markdown_table(preview), preview)


def markdown_table(frame) -> str:
    """A Polars frame as a Markdown table (Dagster renders it in the asset's metadata)."""
    if frame.width == 0:
        return "(no columns)"
    # values are the customer's text: escaped so that a name renders as itself (transforms/safe_text.py)
    header = "| " + " | ".join(markdown_header(c) for c in frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = ["| " + " | ".join(markdown_cell(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join([header, rule, *rows]) if rows else "\n".join([header, rule])


def _quote(text: str) -> str:
    return "'" + (text or "").replace("'", "''") + "'"


def connect(
    path: str | Path,
    *,
    read_only: bool = False,
    memory_limit: str | None = None,
    threads: int | None = None,
    temp_directory: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse with the session settings the pipeline assumes (UTC, no progress bar, schemas)."""
    config: dict[str, str | int] = {}
    if memory_limit:
        config["memory_limit"] = memory_limit
    if threads:
        config["threads"] = threads
    if temp_directory:
        config["temp_directory"] = str(temp_directory)
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only, config=config)
    con.execute("set TimeZone = 'UTC'")
    con.execute("set enable_progress_bar = false")
    if not read_only:
        ensure_schemas(con)
    return con


def release_memory(con: duckdb.DuckDBPyConnection, memory_limit: str | None) -> None:
    """Hand the memory DuckDB freed back to the OS, keeping the connection; `memory_limit` is the limit it
    was opened with (None: DuckDB's default), restored afterwards.

    DuckDB's allocator (jemalloc) keeps freed memory resident until a large free or until the database
    closes; a run that keeps one connection for all its steps would otherwise carry what its heaviest step
    freed into every later step (peak RSS at L 2.9 -> 4.4 GB; benchmarks/RESULTS.md, "Peak RSS at L, 2.9 -> 4.4 GB: found").
    Lowering memory_limit evicts unpinned blocks and flushes the allocator. Costs milliseconds; blocks a
    later query needs are read back from the file."""
    try:
        con.execute("set memory_limit = '32MB'")
    except duckdb.Error:  # more than 32 MB pinned: whatever could be evicted was
        pass
    finally:
        if memory_limit:
            con.execute("set memory_limit = ?", [memory_limit])
        else:
            con.execute("reset memory_limit")
