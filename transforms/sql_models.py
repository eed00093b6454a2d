"""Run the DuckDB models under `sql/` and describe what they built.

A model is one `.sql` file holding one SELECT. Its folder is its schema and its file name its table:
`sql/marts/mrr_waterfall.sql` builds `marts.mrr_waterfall`. The file opens with a block comment giving the
table's description and one line per column (`description:` then indented text, `columns:` then
indented `name: text` lines); those descriptions are written to the DuckDB
catalog (COMMENT ON) so BI tools show them, and they feed the column schema in the Dagster UI.

Dependencies between models are read from the SQL itself (every `schema.table` it names), so the
orchestration layer never retypes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import duckdb

from transforms.safe_text import markdown_cell, markdown_header

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
WAREHOUSE_SCHEMAS = ("raw", "staging", "intermediate", "marts", "pipeline")
# Schemas that hold models (`pipeline` holds the bookkeeping of incremental models).
MODEL_SCHEMAS = ("staging", "intermediate", "marts")

_HEADER = re.compile(r"\A\s*/\*(?P<yaml>.*?)\*/", re.DOTALL)
_TABLE_REFERENCE = re.compile(r"\b(raw|staging|intermediate|marts)\.([a-z_][a-z0-9_]*)\b")


@dataclass(frozen=True)
class SqlModel:
    """One model file: where it lives, what it builds, what it reads and what its columns mean."""

    name: str  # "marts/mrr_waterfall"
    select_sql: str
    description: str
    column_descriptions: dict[str, str] = field(default_factory=dict)
    upstream_tables: tuple[str, ...] = ()  # "staging.calendar", ...
    # "table", "view" (a staging model that only renames and casts, as in dbt) or "incremental": a table
    # whose rows are restated per `unique_key` value when only some keys' inputs changed
    # (transforms/incremental.py).
    materialized: str = "table"
    unique_key: str | None = None
    # An incremental model that leaves out rows not yet effective at the data's as-of instant names their
    # time column here: rows that came due since its last build are restated with it.
    restate_when_due: str | None = None
    # Keys that share a value of this column in a keyed input are restated together (an account's row
    # that reads its subscriptions' whole histories, when a subscription can move between accounts).
    restate_together: str | None = None
    # Tables of retired models this one took over ("intermediate.account_mrr_bridge"): dropped when it is
    # built, so a warehouse made by an older version does not keep stale copies.
    replaces: tuple[str, ...] = ()

    @property
    def schema(self) -> str:
        return self.name.split("/")[0]

    @property
    def table(self) -> str:
        return self.name.split("/")[1]

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass(frozen=True)
class TableSummary:
    """What a model (or a load) left in the warehouse: enough for asset metadata and tests."""

    qualified_name: str
    row_count: int
    columns: list[tuple[str, str, str | None]]  # (name, type, description)
    preview_markdown: str
    preview: object = None  # the previewed rows as a Polars frame (the Dagster UI shows it as a table)


@cache
def load_model(name: str) -> SqlModel:
    path = SQL_DIR / f"{name}.sql"
    if not path.exists():
        raise FileNotFoundError(f"no SQL model {name!r}: expected {path}")
    text = path.read_text()
    header = _HEADER.match(text)
    if header is None:
        raise ValueError(f"{path}: a model must open with a /* YAML */ block (description, columns)")
    doc = parse_model_header(header.group("yaml"))
    select_sql = text[header.end() :].strip().rstrip(";")
    materialized = str(doc.get("materialized") or "table").strip()
    if materialized not in ("table", "view", "incremental"):
        raise ValueError(f"{path}: materialized must be table, view or incremental, not {materialized!r}")
    unique_key = str(doc.get("unique_key") or "").strip() or None
    restate_when_due = str(doc.get("restate_when_due") or "").strip() or None
    restate_together = str(doc.get("restate_together") or "").strip() or None
    for setting, value in (("unique_key", unique_key), ("restate_when_due", restate_when_due),
                           ("restate_together", restate_together)):
        if value is not None and not re.fullmatch(r"[a-z_][a-z0-9_]*", value):
            raise ValueError(f"{path}: {setting} names one column, not {value!r}")
    if (materialized == "incremental") != (unique_key is not None):
        raise ValueError(f"{path}: an incremental model needs a unique_key, and only an incremental model has one")
    if (restate_when_due or restate_together) and materialized != "incremental":
        raise ValueError(f"{path}: restate_when_due and restate_together are for incremental models")
    replaces = tuple(r.strip() for r in str(doc.get("replaces") or "").split(",") if r.strip())
    for retired in replaces:
        if not re.fullmatch(r"(staging|intermediate|marts)\.[a-z_][a-z0-9_]*", retired):
            raise ValueError(f"{path}: replaces names schema.table relations, not {retired!r}")
        if (SQL_DIR / f"{retired.replace('.', '/')}.sql").exists():
            raise ValueError(f"{path}: replaces {retired}, which is a model of its own")
    qualified = "{}.{}".format(*name.split("/"))
    upstream = sorted({f"{s}.{t}" for s, t in _TABLE_REFERENCE.findall(select_sql)} - {qualified})
    return SqlModel(
        name=name,
        select_sql=select_sql,
        description=str(doc.get("description", "")).strip(),
        column_descriptions={k: str(v).strip() for k, v in (doc.get("columns") or {}).items()},
        upstream_tables=tuple(upstream),
        materialized=materialized,
        unique_key=unique_key,
        restate_when_due=restate_when_due,
        restate_together=restate_together,
        replaces=replaces,
    )


def parse_model_header(text: str) -> dict:
    """The model header: `description:` (text on the following indented lines), `columns:`
    (indented `name: text` lines; deeper-indented lines continue the previous column) and, optionally,
    `materialized: view|incremental`, `unique_key:`, `restate_when_due:` and `restate_together:`
    (incremental models), and
    `replaces: schema.table[, ...]` (retired models' relations to drop)."""
    doc: dict = {"description": "", "columns": {}}
    section, column = None, None
    for line in text.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        stripped = line.strip()
        if indent == 0:
            key, _, rest = stripped.partition(":")
            section = key.strip()
            if section == "description" and rest.strip() not in ("", ">", "|"):
                doc["description"] = rest.strip()
            elif section in ("materialized", "replaces", "unique_key", "restate_when_due", "restate_together"):
                doc[section] = rest.strip()
            continue
        if section == "description":
            doc["description"] = (doc["description"] + " " + stripped).strip()
        elif section == "columns":
            name, sep, rest = stripped.partition(":")
            if sep and column_indent_ok(indent, doc, column) and re.fullmatch(r"[a-z_][a-z0-9_]*", name.strip()):
                column = name.strip()
                doc["columns"][column] = rest.strip()
                doc["_column_indent"] = indent
            elif column:
                doc["columns"][column] += " " + stripped
    doc.pop("_column_indent", None)
    return doc


def column_indent_ok(indent: int, doc: dict, column: str | None) -> bool:
    return column is None or indent <= doc.get("_column_indent", indent)


def all_model_names() -> list[str]:
    return sorted(
        f"{p.parent.name}/{p.stem}" for p in SQL_DIR.glob("*/*.sql") if p.parent.name in MODEL_SCHEMAS
    )


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Money and month helpers every model may use (temporary: they live with the connection)."""
    con.execute((SQL_DIR / "macros.sql").read_text())


def ensure_schemas(con: duckdb.DuckDBPyConnection) -> None:
    for schema in WAREHOUSE_SCHEMAS:
        con.execute(f"create schema if not exists {schema}")


def run_model(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """(Re)build one model's table (or view) in a single transaction and document it in the catalog.

    An incremental model restates only the keys whose inputs changed when it can (transforms/incremental.py);
    it returns what it did, in a sentence for the asset's metadata (None for tables and views)."""
    model = load_model(name)
    if model.materialized == "incremental":
        from transforms.incremental import build_incremental

        return build_incremental(con, model)
    con.execute("begin transaction")
    try:
        create_model_relation(con, model)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return None


def create_model_relation(con: duckdb.DuckDBPyConnection, model: SqlModel) -> None:
    """Create or replace the model's table or view from its whole SELECT (inside the caller's transaction)."""
    kind = "view" if model.materialized == "view" else "table"
    con.execute(f"create schema if not exists {model.schema}")
    # A model that changed materialization replaces the object of the other kind.
    other = "table" if kind == "view" else "view"
    if _catalog_kind(con, model.schema, model.table) == other:
        con.execute(f"drop {other} {model.qualified_name}")
    con.execute(f"create or replace {kind} {model.qualified_name} as\n{model.select_sql}")
    drop_retired(con, model)
    comment_table(con, model.qualified_name, model.description, model.column_descriptions, kind=kind)


def drop_retired(con: duckdb.DuckDBPyConnection, model: SqlModel) -> None:
    """Drop the relations of retired models this one took over (a warehouse built by an older version)."""
    for retired in model.replaces:
        found = _catalog_kind(con, *retired.split("."))
        if found:
            con.execute(f"drop {found} {retired}")


def _catalog_kind(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> str | None:
    found = con.execute(
        """
        select 'table' from duckdb_tables() where database_name = current_database() and schema_name = ? and table_name = ?
        union all
        select 'view' from duckdb_views() where database_name = current_database() and schema_name = ? and view_name = ?
        """,
        [schema, name, schema, name],
    ).fetchall()
    return found[0][0] if found else None


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
    variables: dict[str, str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse with the session settings every model assumes (UTC, macros, schemas).

    `variables` become DuckDB variables models read with getvariable('name'); gross_margin (for LTV)
    defaults to 1.0."""
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
    install_macros(con)
    for name, value in {"gross_margin": "1.0", **(variables or {})}.items():
        if not re.fullmatch(r"[a-z_]+", name):
            raise ValueError(f"bad variable name {name!r}")
        con.execute(f"set variable {name} = ?", [str(value)])
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
