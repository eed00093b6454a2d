"""Publish the warehouse's `marts` schema to the serving database BI tools read (docs/tables.md).

BI tools never open the warehouse: a pipeline run holds it for writing, and DuckDB refuses other
processes while it does. They read a separate serving file instead, which no process ever opens for
writing. A publication copies every `marts` relation (with its table and column comments) into a new
file beside the serving file, then renames it into place, so:

- a reader sees the previous complete version or the new complete one, never a mix: `os.replace` is
  atomic on POSIX, and a connection that is already open keeps reading the file it opened;
- a reader is never refused: the file it opens is never locked by a writer;
- a failed or killed publication leaves the previous version untouched (a stale `*.tmp-<pid>` file is
  removed by the next publication).

The file is written in storage format v1.0.0 (DuckDB's format number 64), which every DuckDB from 0.10
through 2.x opens; DuckDB 2.0's default format is unreadable by the 1.x versions BI drivers bundle.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from transforms.load_log import copy_load_log
from transforms.model_builds import changed_keys_since, latest_builds

# The oldest storage format DuckDB 2.0 writes; readable by DuckDB 0.10 and every 1.x release.
SERVING_STORAGE_VERSION = "v1.0.0"
# The on-disk format number that storage version writes (bytes 12-19 of the file header).
SERVING_FORMAT_NUMBER = 64
PUBLISHED_SCHEMA = "marts"
# Describes the publication itself, so a dashboard can say "data as of".
PUBLICATION_TABLE = "meta.publication"

_ALIAS = "serving_next"


class PublishError(RuntimeError):
    """The serving database could not be written; the previous version is still in place."""


@dataclass(frozen=True)
class Publication:
    serving_path: Path
    published_at: datetime
    tables: dict[str, int]  # marts table -> row count
    file_bytes: int
    # tables brought up to date in a copy of the previous publication (the rest were copied whole)
    updated: tuple[str, ...] = ()


def publish_marts(
    con: duckdb.DuckDBPyConnection, serving_path: str | Path, *, run_id: str | None = None
) -> Publication:
    """Copy the `marts` schema of the warehouse open on `con` to `serving_path`, atomically.

    `con` is a connection to the warehouse (the caller holds the writer role); nothing is published
    when the warehouse has no `marts` relation.

    When the file in place is a publication of this warehouse's latest builds, the new one starts as a copy
    of it and a keyed_incremental mart (transforms/model_builds.py) has only the rows of the keys it restated
    since replaced; every other table is copied whole. The result is the file a copy of everything would
    give, at a fraction of the writing for the largest tables; should bringing the copy up to date fail, a
    copy of everything is made instead."""
    serving_path = Path(serving_path).resolve()
    serving_path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(serving_path)
    relations = _marts_relations(con)
    if not relations:
        raise PublishError("the warehouse has no marts tables yet: build the marts before publishing")
    try:
        return _publish(con, serving_path, relations, run_id, reuse=True)
    except duckdb.Error:
        # e.g. a serving file edited by hand: start again from an empty file
        return _publish(con, serving_path, relations, run_id, reuse=False)


def _publish(con, serving_path: Path, relations: list[tuple[str, str | None]], run_id: str | None, *,
             reuse: bool) -> Publication:
    temporary = serving_path.with_name(f"{serving_path.name}.tmp-{os.getpid()}")
    _remove(temporary)
    published_at = datetime.now(UTC).replace(tzinfo=None)
    builds = latest_builds(con)
    published_builds = _attach_next(con, serving_path, temporary) if reuse else _attach_empty(con, temporary)
    tables: dict[str, int] = {}
    updated: list[str] = []
    try:
        present = set(_next_tables(con))
        changes = {table: changed_keys_since(con, f"{PUBLISHED_SCHEMA}/{table}", published_builds.get(
            f"{PUBLISHED_SCHEMA}/{table}")) if table in present else None for table, _ in relations}
        if present and all(c is None for c in changes.values()):
            # nothing to update in place (a month's first run rebuilds the marts in full): a new file, which
            # also leaves behind the free space a copy accumulates
            _detach_quietly(con)
            _remove(temporary)
            _attach_empty(con, temporary)
            present = set()
        for table, comment in relations:
            source = f"{PUBLISHED_SCHEMA}.{_identifier(table)}"
            target = f"{_ALIAS}.{PUBLISHED_SCHEMA}.{_identifier(table)}"
            changed = changes[table]
            if changed is not None:
                key = _identifier(changed.key_column)
                con.execute(f"create or replace temp table published_keys as {changed.select_sql}")
                con.execute(f"delete from {target} where {key}::varchar in (select * from published_keys)")
                con.execute(f"insert into {target} select * from {source} "
                            f"where {key}::varchar in (select * from published_keys)")
                con.execute("drop table published_keys")
                updated.append(table)
            else:
                con.execute(f"create or replace table {target} as select * from {source}")
            con.execute(f"comment on table {target} is {_quote(comment or '')}")
            for column, column_comment in _column_comments(con, table):
                con.execute(f"comment on column {target}.{_identifier(column)} is {_quote(column_comment)}")
            tables[table] = con.sql(f"select count(*) from {target}").fetchall()[0][0]
        for gone in sorted(present - set(tables)):
            con.execute(f"drop table {_ALIAS}.{PUBLISHED_SCHEMA}.{_identifier(gone)}")
        _write_publication(con, published_at, run_id, tables,
                           {m: b for m, b in builds.items() if m.startswith(f"{PUBLISHED_SCHEMA}/")})
        copy_load_log(con, _ALIAS)  # meta.quarantine, meta.loaded_files (transforms/load_log.py)
        # Everything in the main file before it moves: a WAL left beside the temporary name would be lost.
        con.execute(f"checkpoint {_ALIAS}")
    except BaseException:
        _detach_quietly(con)
        _remove(temporary)
        raise
    con.execute(f"detach {_ALIAS}")
    if Path(f"{temporary}.wal").exists():
        _remove(temporary)
        raise PublishError(f"{temporary}.wal remained after checkpoint; nothing was published")
    _fsync(temporary)
    os.replace(temporary, serving_path)
    _fsync_directory(serving_path.parent)
    return Publication(serving_path, published_at, tables, serving_path.stat().st_size, tuple(updated))


def _next_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The marts tables the attached next publication holds (those of the copied file, or none)."""
    return [r[0] for r in con.sql(
        f"select table_name from duckdb_tables() where database_name = '{_ALIAS}' and schema_name = "
        f"'{PUBLISHED_SCHEMA}'").fetchall()]


def _attach_empty(con: duckdb.DuckDBPyConnection, temporary: Path) -> dict:
    con.execute(f"attach {_quote(str(temporary))} as {_ALIAS} (storage_version '{SERVING_STORAGE_VERSION}')")
    con.execute(f"create schema {_ALIAS}.{PUBLISHED_SCHEMA}")
    return {}


def _attach_next(con: duckdb.DuckDBPyConnection, serving_path: Path, temporary: Path) -> dict[str, list]:
    """Attach the next publication as _ALIAS: a copy of the file in place when it is a complete publication
    this pipeline wrote (returns the incremental marts' builds it holds; changed_keys_since checks they are
    this warehouse's), otherwise a new, empty file (returns {})."""
    if serving_path.exists():
        try:
            shutil.copyfile(serving_path, temporary)
            con.execute(f"attach {_quote(str(temporary))} as {_ALIAS}")
            found = con.sql(f"select * from {_ALIAS}.{PUBLICATION_TABLE}")
            row = dict(zip(found.columns, found.fetchall()[0], strict=True))
            held = json.loads(row.get("incremental_builds") or "{}")
            tables = _next_tables(con)
            rows = sum(con.sql(f"select count(*) from {_ALIAS}.{PUBLISHED_SCHEMA}.{_identifier(t)}").fetchall()[0][0]
                       for t in tables)
            # what the file says it holds must be what it holds (a table dropped or emptied by hand is not)
            if (row.get("storage_version") == SERVING_STORAGE_VERSION and held and len(tables) == row["marts_tables"]
                    and rows == row["marts_rows"]):
                con.execute(f"drop schema {_ALIAS}.{PUBLICATION_TABLE.split('.')[0]} cascade")
                return held
        except (duckdb.Error, OSError, ValueError, IndexError, KeyError, TypeError):
            pass  # not a file this pipeline wrote, or an older one: publish everything anew
        _detach_quietly(con)
        _remove(temporary)
    return _attach_empty(con, temporary)


def remove_stale_temporaries(serving_path: str | Path) -> list[Path]:
    """Delete half-written publications left by killed processes (`<serving>.tmp-<pid>` of dead pids)."""
    serving_path = Path(serving_path)
    removed = []
    for candidate in serving_path.parent.glob(f"{serving_path.name}.tmp-*"):
        pid_text = candidate.name.rsplit(".tmp-", 1)[1].removesuffix(".wal")
        if pid_text.isdigit() and int(pid_text) != os.getpid() and process_alive(int(pid_text)):
            continue
        _remove(candidate)
        removed.append(candidate)
    return removed


def storage_format_number(path: str | Path) -> int:
    """The format number in a DuckDB file's header (64 = readable by DuckDB 0.10 through 2.x)."""
    with open(path, "rb") as handle:
        header = handle.read(20)
    if header[8:12] != b"DUCK":
        raise ValueError(f"{path} is not a DuckDB database file")
    return int.from_bytes(header[12:20], "little")


def _marts_relations(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str | None]]:
    # Views are published as tables: the serving file must not depend on the warehouse.
    return con.execute(
        """
        select table_name, comment from duckdb_tables()
        where database_name = current_database() and schema_name = ? and not temporary
        union all
        select view_name, comment from duckdb_views()
        where database_name = current_database() and schema_name = ? and not internal and not temporary
        order by 1
        """,
        [PUBLISHED_SCHEMA, PUBLISHED_SCHEMA],
    ).fetchall()


def _column_comments(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return con.execute(
        """
        select column_name, comment from duckdb_columns()
        where database_name = current_database() and schema_name = ? and table_name = ?
          and comment is not null and comment <> ''
        order by column_index
        """,
        [PUBLISHED_SCHEMA, table],
    ).fetchall()


def _write_publication(con, published_at: datetime, run_id: str | None, tables: dict[str, int],
                       builds: dict[str, int]) -> None:
    schema, table = PUBLICATION_TABLE.split(".")
    con.execute(f"create schema {_ALIAS}.{schema}")
    con.execute(
        f"""create table {_ALIAS}.{PUBLICATION_TABLE} as
            select ?::timestamp as published_at, ?::varchar as run_id, ?::integer as marts_tables,
                   ?::bigint as marts_rows, ?::varchar as storage_version, ?::varchar as incremental_builds""",
        [published_at, run_id, len(tables), sum(tables.values()), SERVING_STORAGE_VERSION, json.dumps(builds)],
    )
    con.execute(
        f"comment on table {_ALIAS}.{PUBLICATION_TABLE} is "
        "'When this serving file was published and by which pipeline run: the marts are as of then.'"
    )
    con.execute(f"comment on column {_ALIAS}.{PUBLICATION_TABLE}.published_at is 'UTC time of the publication.'")
    con.execute(f"comment on column {_ALIAS}.{PUBLICATION_TABLE}.incremental_builds is 'The warehouse build of "
                "each incremental mart this file holds: the next publication copies only the rows changed since.'")


def _detach_quietly(con) -> None:
    with contextlib.suppress(duckdb.Error):
        con.execute(f"detach {_ALIAS}")


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (on this host)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    for candidate in (path, Path(f"{path}.wal")):
        candidate.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not every platform can open a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
