"""Loading one event stream: its new files, in chunks, each chunk one transaction.

Every new file of a stream is read in one pass by DuckDB (readers), validated against the contract in
`event_schema` (validation), de-duplicated by `event_id` (deduplication), and appended to `raw.<stream>`;
rejected rows go to `raw.quarantine` with their file, line, text and reason (publishing). A stream's load
is one transaction per chunk: a crash leaves the warehouse as it was. Files already loaded
(`raw.loaded_files`) are skipped, so a re-run over the same landing folder changes nothing; files edited
since they were loaded are reloaded (landed_state).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import duckdb

from transforms.ingestion import (
    deduplication,
    discovery,
    headers,
    landed_state,
    line_limits,
    publishing,
    readers,
    validation,
)
from transforms.ingestion.discovery import CHUNK_BYTES, GLOB_CHARACTERS, JSON_SUFFIXES, TABULAR_SUFFIXES
from transforms.ingestion.event_schema import STREAMS
from transforms.ingestion.instant_bounds import InstantBounds
from transforms.ingestion.outcome import LandingError, LoadReport

log = logging.getLogger(__name__)


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
    changes = landed_state.prepare_reload(con, landing_dir, stream, discovery.landed_files(landing_dir, stream))
    report.files_changed = changes.files
    files, report.files_skipped = discovery.new_files(con, landing_dir, stream)
    report.files_ignored = discovery.ignored_files(landing_dir, stream)
    if report.files_ignored:
        log.warning("%s: %d file(s) are not event files and are not read (expected %s): %s", stream,
                    len(report.files_ignored), ", ".join(JSON_SUFFIXES + TABULAR_SUFFIXES),
                    ", ".join(report.files_ignored[:5]) + (" ..." if len(report.files_ignored) > 5 else ""))
    if not files:
        return report
    say = progress or (lambda _msg: None)
    chunks = discovery.chunk_files(landing_dir, files, chunk_bytes)
    say(f"{stream}: reading {len(files)} new file(s) in {len(chunks)} chunk(s)")
    for number, chunk in enumerate(chunks, start=1):
        # a folder for links only when a name needs one (a killed load leaves no empty folders behind)
        needs_links = any(GLOB_CHARACTERS.intersection(os.path.abspath(landing_dir / f)) for f in chunk)
        with tempfile.TemporaryDirectory(prefix="subwh-links-") if needs_links else nullcontext() as links:
            paths = discovery.literal_paths(landing_dir, chunk, Path(links) if links else None)
            signatures = landed_state.start_signatures(landing_dir, chunk)  # hashed while the files load
            try:
                # Reading and validating happen before the transaction (into temp tables): an unreadable
                # file is set aside, not a rollback.
                readable = _read_and_validate(con, stream, paths, chunk, report, bounds or InstantBounds(),
                                              max_line_bytes)
                report.invalid_headers.update(headers.mark_invalid_headers(con, stream, readable, paths))
                if readable:
                    con.execute("begin transaction")
                    try:
                        deduplication.find_redeliveries(con, stream)
                        publishing.publish(con, stream, report, readable, paths)
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


def _drop_work_tables(con) -> None:
    for table in ("landed_lines", "validated_events", "suspect_events", "conflicting_lines"):
        con.execute(f"drop table if exists {table}")


def _read_and_validate(con, stream: str, absolute: dict[str, str], files: list[str], report: LoadReport,
                       bounds: InstantBounds, max_line_bytes: int) -> list[str]:
    """Read the chunk's files and validate every line into temp table validated_events; returns the files
    read. A bad line is quarantined (one that is not UTF-8 too); a file that cannot be read at all (corrupt
    gzip, broken parquet) is set aside in `report.unreadable_files`, so the load never half-reads a file.
    `absolute` gives the path to read for each file (`discovery.literal_paths`)."""
    json_files = [f for f in files if f.lower().endswith(JSON_SUFFIXES)]
    tabular_files = [f for f in files if f.lower().endswith(TABULAR_SUFFIXES)]
    report.unreadable_files.update(readers.stage_tabular_files(con, tabular_files, absolute, max_line_bytes))
    try:
        validation.validate_lines(con, stream, json_files, absolute, bounds, max_line_bytes)
    except duckdb.Error:
        # Some file DuckDB's line reader refuses: those are read in Python; only a file Python cannot read
        # either (a corrupt gzip) is set aside.
        good, unreadable = readers.stage_refused_json_files(con, json_files, absolute, max_line_bytes)
        report.unreadable_files.update(unreadable)
        # a failure that is not a file's fails the load
        validation.validate_lines(con, stream, good, absolute, bounds, max_line_bytes)
    for f in files:
        if f in report.unreadable_files:
            log.error("cannot read %s: %s (nothing loaded from it; it will be retried next run)", f,
                      report.unreadable_files[f])
    return [f for f in files if f not in report.unreadable_files]
