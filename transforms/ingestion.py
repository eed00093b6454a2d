"""Load landed event files and reference data into the warehouse's `raw` schema.

Every new file of a stream is read in one pass by DuckDB, validated against the contract in
`event_schema`, de-duplicated by `event_id`, and appended to `raw.<stream>`; rejected rows go to
`raw.quarantine` with their file, line, text and reason. A stream's load is one transaction: a crash
leaves the warehouse as it was. Files already loaded (`raw.loaded_files`) are skipped, so a re-run over
the same landing folder changes nothing.
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
import os
import tempfile
import zlib
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from transforms import landed_state, landing_headers, line_limits, strict_json
from transforms.event_schema import (
    FX_RATE,
    QUARANTINE_REASONS,
    REPORTING_CURRENCY,
    REQUIRED_FIELDS,
    STREAMS,
    Field,
    stream_fields,
)
from transforms.instant_bounds import InstantBounds
from transforms.instant_bounds import checks as instant_checks

log = logging.getLogger(__name__)

JSON_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
TABULAR_SUFFIXES = (".parquet", ".csv", ".csv.gz")
# About this much uncompressed text is validated at a time (gzip counts 8x its size on disk).
CHUNK_BYTES = 512 * 1024 * 1024

# Rows of CSV and Parquet files (and of JSON files read line by line) before validation: `raw` is the text as
# landed, `record` the JSON object validated (NULL when the row was already rejected at read, with its reason).
LANDED_LINES_SCHEMA = {"source_file": pl.String, "line_number": pl.Int64, "raw": pl.String, "record": pl.String,
                       "read_reason": pl.String, "read_detail": pl.String}
LANDED_LINES_COLUMNS = ("source_file varchar, line_number bigint, raw varchar, record varchar, read_reason varchar, "
                        "read_detail varchar")
# DuckDB's types for a Parquet timestamp without a time zone (isAdjustedToUTC = false, or INT96).
ZONELESS_TIMESTAMPS = ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS")
# JSON's white space within a line (RFC 8259: space, tab, carriage return), as a DuckDB string of trim characters.
JSON_WHITESPACE = "(' ' || chr(9) || chr(13))"
# Characters DuckDB's file readers take as a glob pattern (or an escape) in a path: a landed file whose name
# holds one is read through a link with a plain name, never as a pattern that may match other files.
GLOB_CHARACTERS = frozenset("*?[]{}\\")
# What a file that cannot be read at all raises (DuckDB's readers; Python's gzip, decoding and CSV parser).
UNREADABLE = (duckdb.Error, OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error)

PLAN_COLUMNS = ["plan_id", "plan_name", "tier_rank", "seat_limit", "api_call_limit", "list_price_monthly"]
FX_COLUMNS = ["month", "currency", "usd_per_unit"]


class LandingError(ValueError):
    """Input that cannot be used at all (a missing folder, an unreadable reference file)."""


@dataclass
class LoadReport:
    stream: str
    files_read: list[str] = field(default_factory=list)
    files_skipped: int = 0  # already loaded by an earlier run
    files_ignored: list[str] = field(default_factory=list)  # in the stream's folder, not an event file
    unreadable_files: dict[str, str] = field(default_factory=dict)  # file -> error
    rows_read: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0  # identical re-deliveries: no-ops
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    invalid_headers: dict[str, str] = field(default_factory=dict)  # file -> columns expected and found
    files_changed: list[str] = field(default_factory=list)  # edited since they were loaded: reloaded

    @property
    def rows_quarantined(self) -> int:
        return sum(self.quarantined_by_reason.values())


# --------------------------------------------------------------------------------------------- DDL


def ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    for stream in STREAMS:
        columns = ",\n".join(f"{f.name} {f.sql_type}" for f in stream_fields(stream))
        con.execute(
            f"""create table if not exists raw.{stream} (
                {columns},
                source_file varchar,
                line_number bigint,
                ingested_at timestamp
            )"""
        )
        _add_missing_columns(con, stream)
    con.execute(
        """create table if not exists raw.quarantine (
            source_file varchar, line_number bigint, raw varchar, reason varchar, detail varchar,
            stream varchar, quarantined_at timestamp
        )"""
    )
    con.execute(
        """create table if not exists raw.loaded_files (
            source_file varchar, stream varchar, rows_read bigint, rows_loaded bigint,
            rows_duplicate bigint, rows_quarantined bigint, loaded_at timestamp
        )"""
    )
    landed_state.ensure_signature_columns(con)
    con.execute(
        """create table if not exists raw.plans (
            plan_id varchar, plan_name varchar, tier_rank integer, seat_limit bigint,
            api_call_limit bigint, list_price_monthly decimal(18, 6), source_file varchar, ingested_at timestamp
        )"""
    )
    con.execute(
        f"""create table if not exists raw.fx_rates (
            month date, currency varchar, usd_per_unit {FX_RATE}, source_file varchar, ingested_at timestamp
        )"""
    )
    _document_raw_tables(con)


def _add_missing_columns(con: duckdb.DuckDBPyConnection, stream: str) -> None:
    """A warehouse made before a field joined the contract (discount_amount, interval_count) gains it: NULL
    in the rows loaded before, as in an event that left it out. The table is copied once in the contract's
    column order, so an upgraded warehouse has the same columns in the same order as a new one."""
    have = {r[0] for r in con.execute(
        "select column_name from duckdb_columns() where database_name = current_database() "
        "and schema_name = 'raw' and table_name = ?", [stream]).fetchall()}
    fields = stream_fields(stream)
    if all(f.name in have for f in fields):
        return
    columns = ", ".join(
        (f.name if f.name in have else f"null::{f.sql_type} as {f.name}") for f in fields)
    con.execute("begin transaction")
    try:
        con.execute(f"create table raw.{stream}__upgraded as select {columns}, source_file, line_number, "
                    f"ingested_at from raw.{stream}")
        con.execute(f"drop table raw.{stream}")
        con.execute(f"alter table raw.{stream}__upgraded rename to {stream}")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _document_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    provenance = {
        "source_file": "Landed file the row came from, relative to the landing folder.",
        "line_number": "Line of the row in its file (1-based; for CSV the header is line 1).",
        "ingested_at": "When the row was loaded, UTC.",
    }
    for stream in STREAMS:
        table = f"raw.{stream}"
        con.execute(f"comment on table {table} is 'Every accepted {stream[:-1].replace('_', ' ')}, as landed (docs/input-format.md), typed; UTC.'")
        for f in stream_fields(stream):
            if f.description:
                con.execute(f"comment on column {table}.{f.name} is {_sql_string(f.description)}")
        for column, text in provenance.items():
            con.execute(f"comment on column {table}.{column} is {_sql_string(text)}")
    con.execute("comment on table raw.quarantine is 'Rows rejected at load with the reason; nothing is dropped silently.'")
    reasons = "; ".join(f"{k}: {v}" for k, v in QUARANTINE_REASONS.items())
    con.execute(f"comment on column raw.quarantine.reason is {_sql_string(reasons)}")
    con.execute("comment on column raw.quarantine.raw is 'The rejected line exactly as landed.'")
    con.execute("comment on column raw.quarantine.detail is 'Which field was wrong and how.'")
    con.execute("comment on table raw.loaded_files is 'Files already loaded: a later run skips them.'")
    con.execute("comment on table raw.plans is 'reference/plans.csv: plan tiers with seat and API-call limits per month.'")
    con.execute("comment on column raw.plans.list_price_monthly is 'USD per seat per month.'")
    con.execute("comment on table raw.fx_rates is 'reference/fx_rates.csv: USD per unit of each currency, by month.'")


# ----------------------------------------------------------------------------------- reference data


def load_reference(con: duckdb.DuckDBPyConnection, landing_dir: Path) -> dict[str, int]:
    """Replace raw.plans and raw.fx_rates from the landing folder's reference files (small, validated strictly)."""
    reference = Path(landing_dir) / "reference"
    plans = _read_reference_csv(reference / "plans.csv", PLAN_COLUMNS)
    fx = _read_reference_csv(reference / "fx_rates.csv", FX_COLUMNS)
    now = _now()
    plan_rows = [_plan_row(path_line, row) for path_line, row in plans]
    fx_rows = [_fx_row(path_line, row) for path_line, row in fx]
    seen: set[tuple] = set()
    for (path_line, _), row in zip(fx, fx_rows, strict=True):
        key = (row[0], row[1])
        if key in seen:
            raise LandingError(f"{path_line}: a second rate for {row[1]} in {row[0]:%Y-%m}")
        seen.add(key)
    con.execute("begin transaction")
    try:
        con.execute("delete from raw.plans")
        con.execute("delete from raw.fx_rates")
        if plan_rows:
            con.executemany(
                "insert into raw.plans values (?, ?, ?, ?, ?, ?, 'reference/plans.csv', ?)",
                [(*r, now) for r in plan_rows],
            )
        if fx_rows:
            con.executemany(
                "insert into raw.fx_rates values (?, ?, ?, 'reference/fx_rates.csv', ?)",
                [(*r, now) for r in fx_rows],
            )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return {"plans": len(plan_rows), "fx_rates": len(fx_rows)}


def _read_reference_csv(path: Path, columns: list[str]) -> list[tuple[str, dict[str, str]]]:
    if not path.exists():
        raise LandingError(f"missing reference file {path} (expected columns: {', '.join(columns)})")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise LandingError(f"{path}: missing column(s) {missing}; expected {columns}")
        return [(f"{path}:{i}", row) for i, row in enumerate(reader, start=2)]


def _plan_row(where: str, row: dict[str, str]) -> tuple:
    def number(name: str, cast: Callable, optional: bool = False):
        text = (row.get(name) or "").strip()
        if not text:
            if optional:
                return None
            raise LandingError(f"{where}: {name} is empty")
        try:
            value = cast(text)
        except Exception as exc:
            raise LandingError(f"{where}: {name}={text!r} is not a number") from exc
        if value < 0:
            raise LandingError(f"{where}: {name}={text!r} is negative")
        return value

    from decimal import Decimal

    plan_id = (row.get("plan_id") or "").strip()
    if not plan_id:
        raise LandingError(f"{where}: plan_id is empty")
    return (
        plan_id,
        (row.get("plan_name") or plan_id).strip(),
        number("tier_rank", int),
        number("seat_limit", int, optional=True),
        number("api_call_limit", int, optional=True),
        number("list_price_monthly", Decimal),
    )


def _fx_row(where: str, row: dict[str, str]) -> tuple:
    from decimal import Decimal, InvalidOperation

    month_text = (row.get("month") or "").strip()
    try:
        if len(month_text) == 7:
            month = datetime.strptime(month_text, "%Y-%m").date()
        else:
            month = datetime.strptime(month_text, "%Y-%m-%d").date()
            if month.day != 1:
                raise ValueError
    except ValueError as exc:
        raise LandingError(f"{where}: month={month_text!r} is not YYYY-MM or the month's first day YYYY-MM-DD") from exc
    currency = (row.get("currency") or "").strip().upper()
    if len(currency) != 3:
        raise LandingError(f"{where}: currency={currency!r} is not a 3-letter code")
    try:
        rate = Decimal((row.get("usd_per_unit") or "").strip())
    except InvalidOperation as exc:
        raise LandingError(f"{where}: usd_per_unit={row.get('usd_per_unit')!r} is not a number") from exc
    if rate <= 0:
        raise LandingError(f"{where}: usd_per_unit must be positive")
    return (month, currency, rate)


# ------------------------------------------------------------------------------------- event streams


def landed_files(landing_dir: Path, stream: str) -> list[str]:
    """Paths (relative to the landing folder, sorted) of the stream's event files."""
    folder = Path(landing_dir) / stream
    if not folder.is_dir():
        return []
    suffixes = JSON_SUFFIXES + TABULAR_SUFFIXES
    return sorted(
        p.relative_to(landing_dir).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name.lower().endswith(suffixes)
    )


# Files that are, by convention, still being written or not meant to be read: never reported as ignored.
IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload")


def ignored_files(landing_dir: Path, stream: str) -> list[str]:
    """Files in the stream's folder that are not event files (e.g. `events.json`, `export.xlsx`): never read,
    so they are named in the load's report rather than passed over in silence. Hidden files and files still
    being written (`.part`, `.tmp`) are left out."""
    folder = Path(landing_dir) / stream
    if not folder.is_dir():
        return []
    return sorted(
        p.relative_to(landing_dir).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".")
        and not p.name.lower().endswith(JSON_SUFFIXES + TABULAR_SUFFIXES + IN_PROGRESS_SUFFIXES)
    )


def new_files(con: duckdb.DuckDBPyConnection, landing_dir: Path, stream: str) -> tuple[list[str], int]:
    files = landed_files(landing_dir, stream)
    loaded = {r[0] for r in con.execute("select source_file from raw.loaded_files where stream = ?", [stream]).fetchall()}
    fresh = [f for f in files if f not in loaded]
    return fresh, len(files) - len(fresh)


def load_stream(
    con: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    stream: str,
    progress: Callable[[str], None] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    bounds: InstantBounds | None = None,
    max_line_bytes: int = line_limits.DEFAULT_MAX_LINE_BYTES,
) -> LoadReport:
    """Append the stream's new files to raw.<stream>, quarantining bad rows.

    Files are processed in chunks of about `chunk_bytes` (uncompressed) so memory stays bounded however
    much has landed. Each chunk is one transaction (its rows, its quarantined rows and the record of its
    files together), so a crash never leaves a file half loaded: a daily load is a single chunk, and an
    interrupted backfill resumes with the files it had not committed. `bounds`: the plausible instants
    (default: docs/bad-input.md's, with the real clock); a line longer than `max_line_bytes` is quarantined."""
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}; expected one of {STREAMS}")
    landing_dir = Path(landing_dir)
    if not landing_dir.is_dir():
        raise LandingError(f"landing folder {landing_dir} does not exist")
    report = LoadReport(stream)
    changes = landed_state.prepare_reload(con, landing_dir, stream, landed_files(landing_dir, stream))
    report.files_changed = changes.files
    files, report.files_skipped = new_files(con, landing_dir, stream)
    report.files_ignored = ignored_files(landing_dir, stream)
    if report.files_ignored:
        log.warning("%s: %d file(s) are not event files and are not read (expected %s): %s", stream,
                    len(report.files_ignored), ", ".join(JSON_SUFFIXES + TABULAR_SUFFIXES),
                    ", ".join(report.files_ignored[:5]) + (" ..." if len(report.files_ignored) > 5 else ""))
    if not files:
        return report
    say = progress or (lambda _msg: None)
    chunks = _chunks(landing_dir, files, chunk_bytes)
    say(f"{stream}: reading {len(files)} new file(s) in {len(chunks)} chunk(s)")
    for number, chunk in enumerate(chunks, start=1):
        # a folder for links only when a name needs one (a killed load leaves no empty folders behind)
        needs_links = any(GLOB_CHARACTERS.intersection(os.path.abspath(landing_dir / f)) for f in chunk)
        with tempfile.TemporaryDirectory(prefix="subwh-links-") if needs_links else nullcontext() as links:
            paths = _literal_paths(landing_dir, chunk, Path(links) if links else None)
            signatures = landed_state.start_signatures(landing_dir, chunk)  # hashed while the files load
            try:
                # Reading and validating happen before the transaction (into temp tables): an unreadable
                # file is set aside, not a rollback.
                readable = _read_and_validate(con, stream, paths, chunk, report, bounds or InstantBounds(),
                                              max_line_bytes)
                report.invalid_headers.update(landing_headers.mark_invalid_headers(con, stream, readable, paths))
                if readable:
                    con.execute("begin transaction")
                    try:
                        _deduplicate(con, stream)
                        _publish(con, stream, report, readable, paths)
                        landed_state.record_signatures(con, [s for s in signatures.result() if s.source_file in readable])
                        con.execute("commit")
                    except BaseException:
                        con.execute("rollback")
                        raise
                    report.files_read.extend(readable)
            finally:
                _drop_work_tables(con)
        if len(chunks) > 1:
            say(f"{stream}: chunk {number}/{len(chunks)} committed, {report.rows_loaded:,} rows loaded so far")
    if changes.reloaded and not changes.whole_stream and landed_state.has_redeliveries(con, stream):
        # the reloaded files share event ids with others: load the stream again in a full rebuild's order
        landed_state.forget_files(con, stream, None)
        again = load_stream(con, landing_dir, stream, progress, chunk_bytes)
        again.files_changed = report.files_changed
        return again
    say(
        f"{stream}: {report.rows_loaded:,} rows loaded, {report.rows_duplicate:,} duplicates, "
        f"{report.rows_quarantined:,} quarantined from {len(report.files_read)} file(s)"
    )
    return report


def _chunks(landing_dir: Path, files: list[str], chunk_bytes: int) -> list[list[str]]:
    chunks: list[list[str]] = [[]]
    size = 0
    for f in files:
        weight = (landing_dir / f).stat().st_size * (8 if f.lower().endswith(".gz") else 1)
        if chunks[-1] and size + weight > chunk_bytes:
            chunks.append([])
            size = 0
        chunks[-1].append(f)
        size += weight
    return chunks


def _literal_paths(landing_dir: Path, files: list[str], links: Path | None) -> dict[str, str]:
    """The path DuckDB is given for each landed file (relative name -> path). DuckDB expands `*`, `?` and
    `[...]` in a path even when a file of that very name exists (`2024-03-0[1].jsonl` reads
    `2024-03-01.jsonl`), so a name holding such a character is read through a symbolic link with a plain
    name in `links`, keeping its suffix (`.gz` decides decompression)."""
    paths = {}
    for index, relative in enumerate(files):
        path = os.path.abspath(landing_dir / relative)
        if GLOB_CHARACTERS.intersection(path):
            name = Path(relative).name.lower()
            suffix = next(s for s in sorted(JSON_SUFFIXES + TABULAR_SUFFIXES, key=len, reverse=True)
                          if name.endswith(s))
            assert links is not None, "a name with glob characters needs the links folder"
            link = links / f"file-{index}{suffix}"
            os.symlink(path, link)
            path = str(link)
        paths[relative] = path
    return paths


def _drop_work_tables(con) -> None:
    for table in ("landed_lines", "validated_events", "suspect_events", "conflicting_lines"):
        con.execute(f"drop table if exists {table}")


def _line_reader(paths: list[str]) -> str:
    """SQL reading JSONL files as one text column, one row per physical line, blank lines kept as NULL.

    The reader's `file_index` column is the position of a row's file in `paths`."""
    listing = ", ".join(_sql_string(p) for p in paths)
    # The delimiter is four control characters in a row, which valid JSON cannot hold and no text file is
    # likely to: each line stays one column, even a broken line with a stray control character, and its
    # raw text is kept whole. Quotes are not CSV quotes here.
    return (
        f"read_csv([{listing}], columns = {{'raw': 'VARCHAR'}}, header = false, delim = '\x01\x02\x03\x04', quote = '', "
        "escape = '', auto_detect = false, strict_mode = false, null_padding = true)"
    )


def _json_lines(files: list[str], absolute: dict[str, str]) -> str:
    """SQL for (source_file, line_number, raw) of every physical line of the JSON files, read in one pass."""
    names = ", ".join(f"({i}::ubigint, {_sql_string(f)})" for i, f in enumerate(files))
    # DuckDB keeps a scan's rows in file order (preserve_insertion_order), so a running row number
    # minus each file's first one is the line number within the file. Partitioning by the reader's
    # integer file_index (not the file name) keeps the window cheap.
    return f"""
        select file_names.source_file, numbered.line_number, numbered.raw
        from (
            select file_index, global_row - min(global_row) over (partition by file_index) + 1 as line_number, raw
            from (select file_index, raw, row_number() over () as global_row
                  from {_line_reader([absolute[f] for f in files])})
        ) as numbered
        join (values {names}) as file_names(file_index, source_file)
            on file_names.file_index = numbered.file_index
    """


def _read_and_validate(con, stream: str, absolute: dict[str, str], files: list[str], report: LoadReport,
                       bounds: InstantBounds, max_line_bytes: int) -> list[str]:
    """Read the chunk's files and validate every line into temp table validated_events; returns the files
    read. A bad line is quarantined (one that is not UTF-8 too); a file that cannot be read at all (corrupt
    gzip, broken parquet) is set aside in `report.unreadable_files`, so the load never half-reads a file.
    `absolute` gives the path to read for each file (`_literal_paths`)."""
    json_files = [f for f in files if f.lower().endswith(JSON_SUFFIXES)]
    tabular_files = [f for f in files if f.lower().endswith(TABULAR_SUFFIXES)]
    # Parquet and CSV rows become JSON text first (`record`), so they are validated exactly like JSON lines.
    con.execute("drop table if exists landed_lines")
    con.execute(f"create temp table landed_lines ({LANDED_LINES_COLUMNS})")
    for f in tabular_files:
        try:
            _insert_tabular_rows(con, f, absolute[f], max_line_bytes)
        except UNREADABLE as exc:
            con.execute("delete from landed_lines where source_file = ?", [f])
            report.unreadable_files[f] = _first_line(exc)
    try:
        _validate_lines(con, stream, json_files, absolute, bounds, max_line_bytes)
    except duckdb.Error:
        # Some file DuckDB's line reader refuses: find which, and read those line by line in Python (a line
        # that is not UTF-8 is quarantined, the others load); only a file Python cannot read either (a
        # corrupt gzip) is set aside.
        good = []
        for f in json_files:
            try:
                con.sql(f"select count(*) from {_line_reader([absolute[f]])}").fetchall()
                good.append(f)
            except duckdb.Error as exc:
                try:
                    _insert_python_rows(con, _json_rows_read_in_python(f, absolute[f], max_line_bytes))
                except UNREADABLE:
                    con.execute("delete from landed_lines where source_file = ?", [f])
                    report.unreadable_files[f] = _first_line(exc)
        _validate_lines(con, stream, good, absolute, bounds, max_line_bytes)  # a failure that is not a file's fails the load
    for f in files:
        if f in report.unreadable_files:
            log.error("cannot read %s: %s (nothing loaded from it; it will be retried next run)", f,
                      report.unreadable_files[f])
    return [f for f in files if f not in report.unreadable_files]


def _insert_tabular_rows(con, relative: str, absolute: str, max_line_bytes: int = line_limits.DEFAULT_MAX_LINE_BYTES) -> None:
    if relative.lower().endswith(".parquet"):
        # Parquet has no text: a row's JSON rendering stands for its line. A timestamp column without a
        # time zone (TIMESTAMP, not TIMESTAMPTZ: e.g. a zone-less Polars or pandas datetime) is taken as UTC,
        # as Parquet writers mean it; text timestamps (JSON, CSV) still need their offset.
        source = f"read_parquet({_sql_string(absolute)})"
        columns = con.sql(f"describe select * from {source}").fetchall()
        as_utc = [
            f"{_sql_identifier(name)}::varchar || 'Z' as {_sql_identifier(name)}"
            for name, column_type, *_ in columns if column_type in ZONELESS_TIMESTAMPS
        ]
        rows = f"(select * replace ({', '.join(as_utc)}) from {source})" if as_utc else source
        con.execute(
            f"""
            insert into landed_lines
            select {_sql_string(relative)}, row_number() over (), record, record, null, null
            from (select to_json(src)::varchar as record from {rows} as src)
            """
        )
        return
    header = _csv_header(absolute)
    if header is None:
        return  # an empty file
    try:
        _insert_csv_rows(con, relative, absolute, header)
    except duckdb.Error:
        # A row DuckDB's strict reader refuses (a wrong field count, broken quoting) or a quoted line
        # break: this file is read again in Python, record by record (rare, and only this file).
        con.execute("delete from landed_lines where source_file = ?", [relative])
        _insert_python_rows(con, _rows_read_in_python(relative, absolute, max_line_bytes))


def _csv_reader(absolute: str, header: list[str]) -> str:
    """A CSV event file as DuckDB reads it: RFC 4180 (comma, double quotes doubled inside quotes), the first
    line is the header and names the columns, every column text. Nothing is sniffed: a sniffer that meets
    one odd row may read the whole file as a single column."""
    columns = ", ".join(f"{_sql_string(name)}: 'VARCHAR'" for name in header)
    return (
        f"read_csv({_sql_string(absolute)}, columns = {{{columns}}}, header = true, delim = ',', quote = '\"', "
        "escape = '\"', auto_detect = false, strict_mode = true, null_padding = false)"
    )


def _insert_csv_rows(con, relative: str, absolute: str, header: list[str]) -> None:
    """The fast path: DuckDB parses the file, and its physical lines, read beside it, give each record its
    number and its text as landed. DuckDB skips blank lines, so the n-th record is the n-th non-blank line
    after the header, unless a quoted field holds a line break: then the statement fails (error()) and the
    caller reads the file in Python."""
    con.execute(
        f"""
        insert into landed_lines
        select {_sql_string(relative)}, lines.line_number,
               case when records.record is null or lines.raw is null
                    then error('CSV records and lines are not one to one') else lines.raw end,
               records.record, null, null
        from (select row_number() over () as ordinal, to_json(src)::varchar as record
              from {_csv_reader(absolute, header)} as src) as records
        full join (
            select row_number() over () as ordinal, line_number, raw
            from (select row_number() over () as line_number, raw from {_line_reader([absolute])})
            where line_number > 1 and raw is not null
        ) as lines using (ordinal)
        """
    )


def _open_landed(absolute: str):
    return gzip.open(absolute, "rb") if absolute.lower().endswith(".gz") else open(absolute, "rb")  # noqa: SIM115


def _csv_header(absolute: str) -> list[str] | None:
    with _open_landed(absolute) as handle:
        first = handle.readline()
    if not first.strip():
        return None
    return next(csv.reader([first.decode("utf-8-sig")]))


def _byte_lines(handle, limit: int = line_limits.DEFAULT_MAX_LINE_BYTES):
    """(line, size) of the lines of a binary file as DuckDB's readers count them: ended by \\n, \\r\\n or a lone
    \\r (Python's binary iteration ends them at \\n only), each with its ending. A line longer than `limit`
    comes back cut short with its full size (line_limits.bounded_lines), never read into memory whole."""
    for data, size in line_limits.bounded_lines(handle, limit):
        if size > limit:
            yield data, size
            continue
        end = b"\r\n" if data.endswith(b"\r\n") else b"\n" if data.endswith(b"\n") else b""
        pieces = data[: len(data) - len(end)].split(b"\r")
        for piece in pieces[:-1]:
            yield piece + b"\r", len(piece)
        if pieces[-1] or end:  # a file ending in a lone CR has no line after it
            yield pieces[-1] + end, len(pieces[-1])


def _physical_lines(absolute: str, limit: int = line_limits.DEFAULT_MAX_LINE_BYTES):
    """(line number, text, line ending, is UTF-8, size in bytes) of every line of a landed file; a line that is
    not UTF-8 is decoded with U+FFFD in place of its bad bytes; one longer than `limit` is cut short."""
    with _open_landed(absolute) as handle:
        for number, (data, size) in enumerate(_byte_lines(handle, limit), start=1):
            encoding = "utf-8-sig" if number == 1 else "utf-8"
            try:
                text, utf8 = data.decode(encoding), True
            except UnicodeDecodeError:
                text, utf8 = data.decode(encoding, errors="replace"), False
            body = text.rstrip("\r\n")
            yield number, body, text[len(body):], utf8, size


NOT_UTF8 = "not UTF-8 text (shown with U+FFFD for the bytes that are not)"


def _json_rows_read_in_python(relative: str, absolute: str,
                              limit: int = line_limits.DEFAULT_MAX_LINE_BYTES) -> list[tuple]:
    """landed_lines rows of a JSON file that DuckDB's line reader refused: every line, those that are too
    long (line_too_long) or not UTF-8 (invalid_encoding) already rejected."""
    return [
        (relative, number, text, None, line_limits.REASON, line_limits.detail(size, limit)) if size > limit
        else (relative, number, text, text, None, None) if utf8
        else (relative, number, text, None, "invalid_encoding", NOT_UTF8)
        for number, text, _, utf8, size in _physical_lines(absolute, limit)
    ]


def _rows_read_in_python(relative: str, absolute: str, limit: int = line_limits.DEFAULT_MAX_LINE_BYTES) -> list[tuple]:
    """landed_lines rows of a CSV file that DuckDB's strict reader refused, parsed record by record: a record
    whose field count differs from the header's, or whose quoting is broken, is rejected at read
    (invalid_csv_row) with its line number and text; the others become JSON records."""
    rows: list[tuple] = []
    consumed: list[tuple[int, str, str, bool, int]] = []  # the lines of the record being read

    def feed():
        for line in _physical_lines(absolute, limit):
            consumed.append(line)
            yield line[1] + line[2]

    reader = csv.reader(feed(), delimiter=",", quotechar='"', doublequote=True, strict=True)
    header: list[str] | None = None
    while True:
        error = None
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            fields, error = [], str(exc)
        lines = consumed[:]
        consumed.clear()
        if header is None:
            if error or not all(utf8 for _, _, _, utf8, _ in lines):
                raise csv.Error(f"the header cannot be read: {error or NOT_UTF8}")
            header = fields
            continue
        if not error and not "".join(fields).strip() and len(fields) <= 1:
            continue  # a blank line carries no event
        number = lines[0][0]
        raw = "".join(text + ending for _, text, ending, _, _ in lines[:-1]) + lines[-1][1]
        too_long = max(size for *_, size in lines)
        if too_long > limit:
            rows.append((relative, number, raw, None, line_limits.REASON, line_limits.detail(too_long, limit)))
        elif not all(utf8 for _, _, _, utf8, _ in lines):
            rows.append((relative, number, raw, None, "invalid_encoding", NOT_UTF8))
        elif error:
            rows.append((relative, number, raw, None, "invalid_csv_row", f"not a CSV row: {error}"))
        elif len(fields) != len(header):
            rows.append((relative, number, raw, None, "invalid_csv_row",
                         f"{len(fields)} fields where the header has {len(header)}"))
        else:
            rows.append((relative, number, raw, json.dumps(dict(zip(header, fields, strict=True))), None, None))
    return rows


def _insert_python_rows(con, rows: list[tuple]) -> None:
    if not rows:
        return
    frame = pl.DataFrame(rows, schema=LANDED_LINES_SCHEMA, orient="row")  # noqa: F841 (read by DuckDB)
    con.execute("insert into landed_lines select * from frame")


def _field_text(position: int) -> str:
    # JSON null, absent and blank all mean "not given". trim() strips only ' ' among ASCII characters
    # (and Unicode space separators), so an ASCII text that neither starts nor ends with ' ' is already
    # trimmed: checking that is cheaper than trim's copy of every field of every line.
    text = f"field_texts[{position}]"
    return (
        f"case when strlen({text}) = length({text}) and not starts_with({text}, ' ') "
        f"and not ends_with({text}, ' ') then nullif({text}, '') else nullif(trim({text}), '') end"
    )


def _validate_lines(con, stream: str, json_files: list[str], absolute: dict[str, str], bounds: InstantBounds,
                    max_line_bytes: int = line_limits.DEFAULT_MAX_LINE_BYTES) -> None:
    """_validate, with the test for JSON objects and arrays in text fields only where one may be. Any extra
    test per row costs about 6% of a large load, and such values are rare; so the lines are validated
    again with it only when an accepted text value starts like one. The probe is written as ranges
    ('[' <= v < '\\' or '{' <= v < '|': v starts with '[' or '{'), which DuckDB answers from each column's
    min/max statistics without reading the values when none can match."""
    ceiling = bounds.ceiling()  # one clock for the whole chunk
    limits = {"bounds": bounds, "ceiling": ceiling, "max_line_bytes": max_line_bytes}
    _validate(con, stream, json_files, absolute, nested_values=False, **limits)
    text = [f.name for f in stream_fields(stream) if f.kind == "text"]
    shaped = " or ".join(f"({name} >= '[' and {name} < '\\') or ({name} >= '{{' and {name} < '|')" for name in text)
    if con.sql(f"select count(*) from validated_events where reason is null and ({shaped})").fetchall()[0][0]:
        _validate(con, stream, json_files, absolute, nested_values=True, **limits)


def _validate(con, stream: str, json_files: list[str], absolute: dict[str, str], *, nested_values: bool,
              bounds: InstantBounds, ceiling: datetime, max_line_bytes: int) -> None:
    """Lines of the JSON files and of landed_lines -> validated_events: typed fields plus the first reason
    a row is unusable (its detail and raw text kept only for those rows). `nested_values`: also reject a
    JSON object or array in a text field."""
    fields = stream_fields(stream)
    required = REQUIRED_FIELDS[stream]
    known_currencies = f"(select currency from raw.fx_rates union select '{REPORTING_CURRENCY}')"

    paths = ", ".join(f"'$.{f.name}'" for f in fields)
    texts = ",\n".join(f"{_field_text(i)} as t_{f.name}" for i, f in enumerate(fields, start=1))
    typed = ",\n".join(f"{_typed_expression(f)} as {f.name}" for f in fields)

    # (condition, reason, detail) in order: the first that holds gives the reason. A row rejected at read
    # (landed_lines.read_reason) keeps its own.
    checks: list[tuple[str, str, str]] = [
        ("read_reason is not null", "read_reason", "read_detail"),
        # strlen is the length DuckDB keeps with every string: no pass over the text
        (f"strlen(raw) > {int(max_line_bytes)}", line_limits.REASON,
         f"'a line of ' || format('{{:,}}', strlen(raw)) || ' bytes is longer than SUBWH_MAX_LINE_BYTES "
         f"({int(max_line_bytes):,}); raw holds only its beginning'"),
        ("field_texts is null", "invalid_json", "'not a JSON object'"),
        # what DuckDB's parser tolerates beyond RFC 8259 (trailing commas, NaN, Infinity)
        # (on `raw`: the landed line itself for JSON files; CSV and Parquet rows are left out)
        (strict_json.lenient_condition("raw"), "invalid_json", strict_json.lenient_detail("raw")),
    ]
    for f in fields[:4]:
        checks.append((f"t_{f.name} is null", "missing_field", f"'missing {f.name}'"))
    event_types = ", ".join(_sql_string(t) for t in required)
    checks.append(
        (f"t_event_type not in ({event_types})", "unknown_event_type",
         f"'event_type ' || t_event_type || ' is not a {stream} type'")
    )
    for event_type, names in required.items():
        for name in names:
            checks.append(
                (f"t_event_type = '{event_type}' and t_{name} is null", "missing_field",
                 f"'{event_type} needs {name}'")
            )
    for f in fields:
        bad = _wrong_type_condition(f)
        if bad:
            checks.append((f"t_{f.name} is not null and ({bad})", "wrong_type",
                           f"'{f.name}=' || t_{f.name} || ' is not {_kind_label(f)}'"))
    nested_value = _nested_value_check(fields) if nested_values else None
    if nested_value:
        checks.append(nested_value)
    for f in fields:
        if f.non_negative:
            checks.append((f"{f.name} < 0", "negative_value", f"'{f.name}=' || t_{f.name} || ' is negative'"))
    for f in fields:
        if f.minimum is not None:
            checks.append((f"{f.name} < {f.minimum}", "wrong_type",
                           f"'{f.name}=' || t_{f.name} || ' is below {f.minimum}'"))
        if f.kind == "percent":
            checks.append((f"{f.name} > 100", "wrong_type", f"'{f.name}=' || t_{f.name} || ' is above 100'"))
        if f.kind == "currency":
            checks.append((f"{f.name} not in {known_currencies}", "unknown_currency",
                           f"'no FX rate for currency ' || {f.name}"))
    checks += instant_checks({f.name for f in fields}, bounds, ceiling, shown=lambda name: f"t_{name}")
    reason = "case " + " ".join(f"when {c} then {r if r == 'read_reason' else _sql_string(r)}" for c, r, _ in checks) + " end"
    detail = "case " + " ".join(f"when {c} then {d}" for c, _, d in checks) + " end"
    sources = ["select source_file, line_number, raw, record, read_reason, read_detail from landed_lines"]
    if json_files:
        sources.insert(0, "select source_file, line_number, raw, raw as record, null::varchar as read_reason, "
                          f"null::varchar as read_detail from ({_json_lines(json_files, absolute)})")
    con.execute("drop table if exists validated_events")
    con.execute(
        f"""
        create temp table validated_events as
        with lines as ({" union all ".join(sources)}),
        parsed as (
            -- one JSON parse per line: every field's text at once. The starts_with tests come first
            -- so that the copies ltrim and trim make are only paid for the odd line.
            select source_file, line_number, raw, read_reason, read_detail,
                   case when (case when starts_with(record, '{{') then true
                                   else starts_with(ltrim(record, {JSON_WHITESPACE}), '{{') end)
                        -- try(): NULL where the text is not valid JSON (the same parser as json_valid)
                        then try(json_extract_string(record, [{paths}])) end as field_texts
            from lines
            -- blank lines (nothing but JSON's white space) carry no event
            where read_reason is not null
               or (record is not null and (starts_with(record, '{{') or trim(record, {JSON_WHITESPACE}) <> ''))
        ),
        texts as (select source_file, line_number, raw, read_reason, read_detail, field_texts, {texts} from parsed),
        typed as (select *, {typed} from texts),
        judged as (select *, {reason} as reason from typed)
        select source_file, line_number, {", ".join(f.name for f in fields)}, reason,
               -- the detail repeats the checks, so it is worked out for rejected rows only
               case when reason is not null then {detail} end as detail,
               case when reason = '{line_limits.REASON}' and strlen(raw) > {int(max_line_bytes)}
                    then left(raw, {line_limits.PREVIEW_BYTES}) when reason is not null then raw end as raw
        from judged
        """
    )


def _typed_expression(f: Field) -> str:
    t = f"t_{f.name}"
    if f.kind == "timestamp":
        # DuckDB's cast refuses ISO 8601's lower-case z for UTC
        utc = f"case when ends_with({t}, 'z') then left({t}, -1) || 'Z' else {t} end"
        return f"try_cast(try_cast({utc} as timestamptz) as timestamp)"
    if f.kind == "date":
        return f"try_cast({t} as date)"
    if f.kind in ("money", "percent"):
        return f"try_cast({t} as {f.sql_type})"
    if f.kind == "integer":
        return f"try_cast(try_cast({t} as decimal(18, 6)) as integer)"
    if f.kind == "quantity":
        return f"try_cast({t} as double)"
    if f.kind == "currency":
        return f"upper({t})"
    return t


def _wrong_type_condition(f: Field) -> str | None:
    t = f"t_{f.name}"
    if f.kind == "timestamp":
        # ISO-8601 with an explicit offset: a local time without one is ambiguous.
        # an offset is at most 23:59 (DuckDB would carry +25:00 over into the next day)
        return (f"{f.name} is null or not regexp_matches({t}, "
                r"'^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|z|[+-]([01]\d|2[0-3])(:?[0-5]\d)?)$')")
    if f.kind == "date":
        return rf"{f.name} is null or not regexp_matches({t}, '^\d{{4}}-\d{{2}}-\d{{2}}$')"
    # DuckDB's casts take `_` between digits ("4_9" is 49); JSON and CSV numbers do not
    if f.kind in ("money", "percent", "quantity"):
        extra = " or isinf(" + f.name + ") or isnan(" + f.name + ")" if f.kind == "quantity" else ""
        return f"{f.name} is null{extra} or contains({t}, '_')"
    if f.kind == "integer":
        return f"{f.name} is null or try_cast({t} as decimal(18, 6)) <> {f.name} or contains({t}, '_')"
    if f.kind == "enum":
        return f"{t} not in ({', '.join(_sql_string(a) for a in f.allowed)})"
    if f.kind == "currency":
        return rf"not regexp_matches({t}, '^[A-Za-z]{{3}}$')"
    return None  # text: see _nested_value_check


def _nested_value_check(fields: tuple[Field, ...]) -> tuple[str, str, str] | None:
    """(condition, reason, detail) for a JSON object or array in a text field: json_extract_string hands
    back its JSON, which is not text. One test for all text fields (is any value shaped like one?) keeps
    the common row cheap; the JSON type is looked up only for the rare row where one is."""
    text = [f for f in fields if f.kind == "text"]
    if not text:
        return None
    shaped = " or ".join(f"starts_with(t_{f.name}, '{{') or starts_with(t_{f.name}, '[')" for f in text)

    # `raw` is the record itself for JSON lines and Parquet rows (a CSV line is not JSON: try() gives NULL,
    # and a CSV cell is text anyway); looking at `raw` spares carrying `record` through every step
    def nested(f: Field) -> str:
        return f"try(json_type(raw, '$.{f.name}')) in ('OBJECT', 'ARRAY')"

    detail = "case " + " ".join(
        f"when {nested(f)} then '{f.name}=' || t_{f.name} || ' is not {_kind_label(f)}'" for f in text) + " end"
    return f"({shaped}) and ({' or '.join(nested(f) for f in text)})", "wrong_type", detail


def _kind_label(f: Field) -> str:
    return {
        "timestamp": "an ISO-8601 timestamp with offset",
        "date": "a YYYY-MM-DD date",
        "money": "a decimal amount",
        "percent": "a number",
        "integer": "a whole number",
        "quantity": "a number",
        "enum": "one of " + "/".join(f.allowed),
        "currency": "a 3-letter currency code",
    }.get(f.kind, "text (not a JSON object or array)")


def _deduplicate(con, stream: str) -> None:
    """validated_events -> suspect_events: re-deliveries, identical (is_repeat) or conflicting.

    Only rows whose event_id was seen before (in this chunk, in raw, or in another stream) need their
    payloads compared; everything else is accepted as is, which keeps a large load cheap."""
    names = [f.name for f in stream_fields(stream)]

    def payload(prefix: str = "") -> str:
        return "to_json(struct_pack(" + ", ".join(f"{n} := {prefix}{n}" for n in names) + "))::varchar"

    others = [s for s in STREAMS if s != stream]
    # Earlier loads are searched only within the chunk's range of ids, given as constants: DuckDB then
    # skips the row groups of raw tables whose min/max statistics lie outside it. Ids that grow over
    # time (most event logs) make this a read of a few row groups instead of whole tables, so a load
    # costs the same on the first day and after years of history.
    low, high = con.sql("select min(event_id), max(event_id) from validated_events where reason is null").fetchall()[0]
    def in_range(column: str) -> str:
        return f"{column} between {_sql_string(low)} and {_sql_string(high)}" if low is not None else "false"

    def earlier(table: str, ids: str) -> str:
        return f"select event_id from {table} where {in_range('event_id')} and event_id in (select event_id from {ids})"

    con.execute(
        f"""
        create temp table suspect_events as
        with valid as (select event_id from validated_events where reason is null),
        repeated_here as (select event_id from valid group by event_id having count(*) > 1),
        loaded_before as ({earlier(f"raw.{stream}", "valid")}),
        in_other_streams as (
            {" union ".join(earlier(f"raw.{s}", "valid") for s in others)}
        ),
        suspect_ids as (
            select event_id from repeated_here union select event_id from loaded_before
            union select event_id from in_other_streams
        ),
        suspects as (
            select v.*, {payload("v.")} as payload,
                   row_number() over (partition by v.event_id order by v.source_file, v.line_number) as delivery
            from validated_events v semi join suspect_ids using (event_id)
            where v.reason is null
        ),
        first_delivery as (select event_id, payload from suspects where delivery = 1),
        already_loaded as (
            select r.event_id, {payload("r.")} as payload
            from raw.{stream} r
            where {in_range('r.event_id')} and r.event_id in (select event_id from suspect_ids)
        )
        select s.source_file, s.line_number,
            case
                when s.event_id in (select event_id from in_other_streams) then 'conflicting_duplicate'
                -- once loaded, the loaded payload is the one every later delivery must match, whatever
                -- this chunk delivered first
                when a.payload is not null then
                    case when a.payload <> s.payload then 'conflicting_duplicate' end
                when s.delivery > 1 and s.payload <> f.payload then 'conflicting_duplicate'
            end as duplicate_reason,
            a.payload is not null or s.delivery > 1 as is_repeat
        from suspects s
        join first_delivery f using (event_id)
        left join already_loaded a using (event_id)
        """
    )


def _publish(con, stream: str, report: LoadReport, files: list[str], absolute: dict[str, str]) -> None:
    names = [f.name for f in stream_fields(stream)]
    now = _now()
    columns = ", ".join(names)
    skipped = con.sql(
        "select count(*) from suspect_events where is_repeat or duplicate_reason is not null"
    ).fetchall()[0][0]
    # Usually nothing is a re-delivery: then every valid row goes in without an anti-join.
    not_skipped = (
        """and not exists (select 1 from suspect_events s
                           where s.source_file = v.source_file and s.line_number = v.line_number
                             and (s.is_repeat or s.duplicate_reason is not null))"""
        if skipped else ""
    )
    con.execute(
        f"""
        insert into raw.{stream} ({columns}, source_file, line_number, ingested_at)
        select {columns}, source_file, line_number, ?::timestamp
        from validated_events v
        where reason is null {not_skipped}
        """,
        [now],
    )
    con.execute(
        "insert into raw.quarantine select source_file, line_number, raw, reason, detail, ?, ?::timestamp "
        "from validated_events where reason is not null",
        [stream, now],
    )
    conflicts = con.sql("select count(*) from suspect_events where duplicate_reason is not null").fetchall()[0][0]
    if conflicts:
        _stage_conflicting_lines(con, absolute)
        con.execute(
            """
            insert into raw.quarantine
            select s.source_file, s.line_number, l.raw, s.duplicate_reason,
                   'event_id ' || v.event_id || ' was already delivered with a different payload', ?, ?::timestamp
            from suspect_events s
            join validated_events v using (source_file, line_number)
            join conflicting_lines l using (source_file, line_number)
            where s.duplicate_reason is not null
            """,
            [stream, now],
        )
    # One row per file into raw.loaded_files, straight from the chunk's tables (a daily backfill has
    # thousands of files: one statement, not one insert each).
    per_file = con.execute(
        """
        insert into raw.loaded_files (source_file, stream, rows_read, rows_loaded, rows_duplicate,
                                      rows_quarantined, loaded_at)
        with outcome as (
            -- validated_events holds every non-blank line: what a file delivered
            select source_file,
                   count(*) as rows_read,
                   count(*) filter (where reason is null) as valid,
                   count(*) filter (where reason is not null) as quarantined_invalid
            from validated_events group by all
        ),
        repeats as (
            select source_file,
                   count(*) filter (where duplicate_reason is null and is_repeat) as duplicates,
                   count(*) filter (where duplicate_reason is not null) as conflicts
            from suspect_events group by all
        )
        select f.source_file, ?, coalesce(o.rows_read, 0),
               coalesce(o.valid, 0) - coalesce(a.duplicates, 0) - coalesce(a.conflicts, 0),
               coalesce(a.duplicates, 0),
               coalesce(o.quarantined_invalid, 0) + coalesce(a.conflicts, 0),
               ?::timestamp
        from (select unnest(?::varchar[]) as source_file) f
        left join outcome o using (source_file)
        left join repeats a using (source_file)
        order by f.source_file
        returning rows_read, rows_loaded, rows_duplicate
        """,
        [stream, now, files],
    ).fetchall()
    report.rows_read += sum(r[0] for r in per_file)
    report.rows_loaded += sum(r[1] for r in per_file)
    report.rows_duplicate += sum(r[2] for r in per_file)
    quarantined = dict(
        con.execute(
            """
            select reason, count(*) from (
                select reason from validated_events where reason is not null
                union all select duplicate_reason from suspect_events where duplicate_reason is not null
            ) group by all order by 1
            """
        ).fetchall()
    )
    for reason, count in quarantined.items():
        report.quarantined_by_reason[reason] = report.quarantined_by_reason.get(reason, 0) + count


def _stage_conflicting_lines(con, absolute: dict[str, str]) -> None:
    """conflicting_lines(source_file, line_number, raw): the text of the lines quarantined as conflicting
    duplicates (valid rows keep no text in validated_events, so their files are read again; rare)."""
    wanted = [r[0] for r in con.sql(
        "select distinct source_file from suspect_events where duplicate_reason is not null order by 1"
    ).fetchall()]
    # JSON files read in Python (not UTF-8 throughout) have their lines in landed_lines already.
    in_landed_lines = {r[0] for r in con.execute(
        "select distinct source_file from landed_lines where source_file in (select unnest(?::varchar[]))", [wanted]
    ).fetchall()}
    json_files = [f for f in wanted if f.lower().endswith(JSON_SUFFIXES) and f not in in_landed_lines]
    sources = ["select source_file, line_number, raw from landed_lines"]
    if json_files:
        sources.insert(0, _json_lines(json_files, absolute))
    con.execute(
        f"""
        create temp table conflicting_lines as
        select lines.* from ({" union all ".join(sources)}) as lines
        semi join (select source_file, line_number from suspect_events where duplicate_reason is not null) as c
            using (source_file, line_number)
        """
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sql_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
