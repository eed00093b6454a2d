"""Files whose columns cannot be an event log (docs/ingestion-and-mrr.md, "A file with the wrong columns").

A CSV whose header, or a Parquet file whose columns, lack one of the four fields every event has
(`event_id`, `event_type`, `occurred_at`, `account_id`), and a JSON-lines file in which no object has any
of them, cannot hold a single valid event: every row would be quarantined as "missing event_id", which
hides the one mistake, the file's columns. Such a file is named at once with the columns expected and
found, and its rows go to `raw.quarantine` with reason `invalid_header` and that sentence as detail: its
text is kept, nothing is lost, and fixing the file in place reloads it (landed_state).

The test runs on the load's temp table `validated_events` after validation, so it costs nothing for a file
that has at least one valid row (most files): only files whose every row was rejected are looked at.
"""

from __future__ import annotations

import csv
import gzip

import duckdb

from transforms.ingestion.event_schema import COMMON_FIELDS, stream_fields

REQUIRED_COLUMNS = tuple(f.name for f in COMMON_FIELDS)
REASON = "invalid_header"
# How many of the found columns or keys a message names before "...".
SHOWN = 12


def mark_invalid_headers(con: duckdb.DuckDBPyConnection, stream: str, files: list[str],
                         absolute: dict[str, str]) -> dict[str, str]:
    """Re-label the rows of the chunk's files whose columns cannot be events (docs/input-format.md) as `invalid_header` in
    validated_events; returns {file: message} for each such file."""
    if not files:
        return {}
    rejected = [r[0] for r in con.execute(
        """
        select source_file from validated_events
        where source_file in (select unnest(?::varchar[]))
        group by source_file
        having count(*) filter (where reason is null) = 0
        order by 1
        """,
        [files],
    ).fetchall()]
    found: dict[str, str] = {}
    for name in rejected:
        message = _problem(con, stream, name, absolute[name])
        if message:
            found[name] = message
            con.execute(f"update validated_events set reason = '{REASON}', detail = ? where source_file = ?",
                        [message, name])
    return found


def _problem(con, stream: str, name: str, path: str) -> str | None:
    lower = name.lower()
    if lower.endswith((".csv", ".csv.gz")):
        columns = _csv_header(path)
        if columns is None:
            return None
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        return _message(stream, name, "its header has columns", columns, missing) if missing else None
    # JSON lines and Parquet rows: `raw` is each row as a JSON object (kept, since every row was rejected)
    keys = ", ".join(f"bool_or(try(json_exists(raw, '$.{c}')) is true)" for c in REQUIRED_COLUMNS)
    row = con.execute(
        f"""
        select {keys}, count(*) filter (where try(json_type(raw)) = 'OBJECT'),
               (select try(json_keys(raw)) from validated_events
                where source_file = ? and try(json_type(raw)) = 'OBJECT' order by line_number limit 1)
        from validated_events where source_file = ?
        """,
        [name, name],
    ).fetchall()[0]
    present, objects, first_keys = row[: len(REQUIRED_COLUMNS)], row[-2], row[-1]
    if not objects:
        return None  # not JSON objects at all: invalid_json says so line by line
    missing = [c for c, has in zip(REQUIRED_COLUMNS, present, strict=True) if not has]
    # Parquet has columns, as a CSV header: one missing is the file's mistake. JSON objects each carry
    # their own keys: the file is taken for something else only when none has any of the four.
    if not missing or (not lower.endswith(".parquet") and len(missing) < len(REQUIRED_COLUMNS)):
        return None
    what = "its columns are" if lower.endswith(".parquet") else "no object has any of them; the first has keys"
    return _message(stream, name, what, list(first_keys or []), missing)


def _message(stream: str, name: str, what: str, found: list[str], missing: list[str]) -> str:
    shown = ", ".join(found[:SHOWN]) + (", ..." if len(found) > SHOWN else "")
    expected = ", ".join(f.name for f in stream_fields(stream))
    return (f"{name}: not a {stream} file: {what} {shown or '(none)'}; missing {', '.join(missing)}. "
            f"Expected columns: {expected} (the first four in every event)")


def _csv_header(path: str) -> list[str] | None:
    opener = gzip.open if path.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            first = handle.readline()
    except OSError:
        return None
    if not first.strip():
        return None
    try:
        return next(csv.reader([first.decode("utf-8-sig", errors="replace").rstrip("\r\n")]))
    except (csv.Error, StopIteration):
        return None
