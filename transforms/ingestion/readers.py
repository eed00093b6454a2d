"""Reading landed files into lines: JSON lines through DuckDB's line reader (SQL that later steps splice
in), CSV and Parquet rows as JSON text into the temp table `landed_lines`, and, for the rare file DuckDB's
readers refuse, the same read in Python, line by line, so that only the bad lines are rejected."""

from __future__ import annotations

import csv
import gzip
import json
import zlib

import duckdb
import polars as pl

from transforms.core.sql_text import sql_identifier, sql_string
from transforms.ingestion import line_limits

# Rows of CSV and Parquet files (and of JSON files read line by line) before validation: `raw` is the text as
# landed, `record` the JSON object validated (NULL when the row was already rejected at read, with its reason).
LANDED_LINES_SCHEMA = {"source_file": pl.String, "line_number": pl.Int64, "raw": pl.String, "record": pl.String,
                       "read_reason": pl.String, "read_detail": pl.String}
LANDED_LINES_COLUMNS = ("source_file varchar, line_number bigint, raw varchar, record varchar, read_reason varchar, "
                        "read_detail varchar")
# DuckDB's types for a Parquet timestamp without a time zone (isAdjustedToUTC = false, or INT96).
ZONELESS_TIMESTAMPS = ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS")
# What a file that cannot be read at all raises (DuckDB's readers; Python's gzip, decoding and CSV parser).
UNREADABLE = (duckdb.Error, OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error)


def line_reader(paths: list[str]) -> str:
    """SQL reading JSONL files as one text column, one row per physical line, blank lines kept as NULL.

    The reader's `file_index` column is the position of a row's file in `paths`."""
    listing = ", ".join(sql_string(p) for p in paths)
    # The delimiter is four control characters in a row, which valid JSON cannot hold and no text file is
    # likely to: each line stays one column, even a broken line with a stray control character, and its
    # raw text is kept whole. Quotes are not CSV quotes here.
    return (
        f"read_csv([{listing}], columns = {{'raw': 'VARCHAR'}}, header = false, delim = '\x01\x02\x03\x04', quote = '', "
        "escape = '', auto_detect = false, strict_mode = false, null_padding = true)"
    )


def json_lines(files: list[str], absolute: dict[str, str]) -> str:
    """SQL for (source_file, line_number, raw) of every physical line of the JSON files, read in one pass."""
    names = ", ".join(f"({i}::ubigint, {sql_string(f)})" for i, f in enumerate(files))
    # DuckDB keeps a scan's rows in file order (preserve_insertion_order), so a running row number
    # minus each file's first one is the line number within the file. Partitioning by the reader's
    # integer file_index (not the file name) keeps the window cheap.
    return f"""
        select file_names.source_file, numbered.line_number, numbered.raw
        from (
            select file_index, global_row - min(global_row) over (partition by file_index) + 1 as line_number, raw
            from (select file_index, raw, row_number() over () as global_row
                  from {line_reader([absolute[f] for f in files])})
        ) as numbered
        join (values {names}) as file_names(file_index, source_file)
            on file_names.file_index = numbered.file_index
    """


def stage_tabular_files(con, files: list[str], absolute: dict[str, str], max_line_bytes: int) -> dict[str, str]:
    """Temp table landed_lines, with the rows of the chunk's CSV and Parquet files: they become JSON text
    (`record`), so they are validated exactly like JSON lines. Returns the files that cannot be read at all
    (corrupt gzip, broken Parquet), each with its error; nothing of them is kept."""
    con.execute("drop table if exists landed_lines")
    con.execute(f"create temp table landed_lines ({LANDED_LINES_COLUMNS})")
    unreadable = {}
    for f in files:
        try:
            _insert_tabular_rows(con, f, absolute[f], max_line_bytes)
        except UNREADABLE as exc:
            con.execute("delete from landed_lines where source_file = ?", [f])
            unreadable[f] = _first_line(exc)
    return unreadable


def stage_refused_json_files(con, files: list[str], absolute: dict[str, str],
                             max_line_bytes: int) -> tuple[list[str], dict[str, str]]:
    """After DuckDB's line reader refused the chunk's JSON files: find which files it refuses, and read those
    line by line in Python into landed_lines (a line that is not UTF-8 is quarantined, the others load).
    Returns the files DuckDB reads, and those Python cannot read either (a corrupt gzip), with the error."""
    good, unreadable = [], {}
    for f in files:
        try:
            con.sql(f"select count(*) from {line_reader([absolute[f]])}").fetchall()
            good.append(f)
        except duckdb.Error as exc:
            try:
                _insert_python_rows(con, _json_rows_read_in_python(f, absolute[f], max_line_bytes))
            except UNREADABLE:
                con.execute("delete from landed_lines where source_file = ?", [f])
                unreadable[f] = _first_line(exc)
    return good, unreadable


def _insert_tabular_rows(con, relative: str, absolute: str, max_line_bytes: int = line_limits.DEFAULT_MAX_LINE_BYTES) -> None:
    if relative.lower().endswith(".parquet"):
        # Parquet has no text: a row's JSON rendering stands for its line. A timestamp column without a
        # time zone (TIMESTAMP, not TIMESTAMPTZ: e.g. a zone-less Polars or pandas datetime) is taken as UTC,
        # as Parquet writers mean it; text timestamps (JSON, CSV) still need their offset.
        source = f"read_parquet({sql_string(absolute)})"
        columns = con.sql(f"describe select * from {source}").fetchall()
        as_utc = [
            f"{sql_identifier(name)}::varchar || 'Z' as {sql_identifier(name)}"
            for name, column_type, *_ in columns if column_type in ZONELESS_TIMESTAMPS
        ]
        rows = f"(select * replace ({', '.join(as_utc)}) from {source})" if as_utc else source
        con.execute(
            f"""
            insert into landed_lines
            select {sql_string(relative)}, row_number() over (), record, record, null, null
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
    columns = ", ".join(f"{sql_string(name)}: 'VARCHAR'" for name in header)
    return (
        f"read_csv({sql_string(absolute)}, columns = {{{columns}}}, header = true, delim = ',', quote = '\"', "
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
        select {sql_string(relative)}, lines.line_number,
               case when records.record is null or lines.raw is null
                    then error('CSV records and lines are not one to one') else lines.raw end,
               records.record, null, null
        from (select row_number() over () as ordinal, to_json(src)::varchar as record
              from {_csv_reader(absolute, header)} as src) as records
        full join (
            select row_number() over () as ordinal, line_number, raw
            from (select row_number() over () as line_number, raw from {line_reader([absolute])})
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


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
