"""Landed files edited after they were loaded: noticed, named and reloaded (docs/operations.md, "A file
changed after it was loaded").

Files are not edited after landing in the normal flow, but people fix mistakes in place (wrong headers,
a wrong amount). `raw.loaded_files` records each loaded file's size, modification time (ns) and SHA-256.
Every load compares the landed files of a stream with that record: a file whose size or mtime differ is
hashed, and when the hash differs too its content changed. (A `touch` or a copy that keeps the content
only has its record updated.)

A changed file is reloaded, exactly as a full rebuild would load it:
- its rows in `raw.<stream>`, its rows in `raw.quarantine` and its `raw.loaded_files` row are deleted in
  one transaction, so the file is new again and the load that follows reads it like any new file (should
  the run die in between, the next run loads it as new);
- when the stream had re-deliveries (an event_id in two files: the later copy was skipped or quarantined,
  so which copy stands depends on the order of loading), every file of the stream is reloaded instead, in
  the landing order a full rebuild uses;
- history is restated by the incremental models on their own: rows of a raw table loaded before their
  last build that disappeared make them rebuild in full (sql/macros/materializations/keyed_incremental.sql).

Rows of files loaded before these columns existed have no record: it is taken from the file as it is at
the first load after upgrading (a file edited before that is not noticed; `subwh run --full-rebuild`
reloads everything).
"""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

SIGNATURE_COLUMNS = (("file_size", "bigint"), ("file_mtime_ns", "bigint"), ("file_sha256", "varchar"))


@dataclass(frozen=True)
class Signature:
    source_file: str
    size: int
    mtime_ns: int
    sha256: str


@dataclass
class ChangedFiles:
    files: list[str]  # whose content changed since they were loaded
    reloaded: list[str]  # made new again: the changed files, or the whole stream (see `whole_stream`)
    whole_stream: bool = False


def ensure_signature_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Add the signature columns to raw.loaded_files (warehouses built before they existed)."""
    for name, sql_type in SIGNATURE_COLUMNS:
        con.execute(f"alter table raw.loaded_files add column if not exists {name} {sql_type}")
    con.execute("comment on column raw.loaded_files.file_size is 'Size of the file in bytes when it was loaded.'")
    con.execute("comment on column raw.loaded_files.file_mtime_ns is "
                "'Modification time of the file when it was loaded (ns since 1970, UTC).'")
    con.execute("comment on column raw.loaded_files.file_sha256 is "
                "'SHA-256 of the file as loaded: a file whose content changes is reloaded.'")


def sha256(path: str | Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def signature(landing_dir: Path, source_file: str) -> Signature:
    path = Path(landing_dir) / source_file
    stat = path.stat()
    return Signature(source_file, stat.st_size, stat.st_mtime_ns, sha256(path))


def signatures(landing_dir: Path, files: list[str]) -> list[Signature]:
    return [signature(landing_dir, f) for f in files]


def start_signatures(landing_dir: Path, files: list[str]) -> Future:
    """signatures() in a background thread, while DuckDB reads the same files (hashlib releases the GIL):
    hashing a day's files costs little next to loading them, and a backfill's (about 0.5 s per GB of
    text on 2 cores) overlaps the load instead of adding to it. The sizes and modification times are
    taken now, before the files are read, so a change made while they are read is seen by the next run."""
    landing_dir = Path(landing_dir)
    stats = {f: (landing_dir / f).stat() for f in files}
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="subwh-hash")
    future = executor.submit(lambda: [Signature(f, stats[f].st_size, stats[f].st_mtime_ns, sha256(landing_dir / f))
                                      for f in files])
    executor.shutdown(wait=False)
    return future


def record_signatures(con: duckdb.DuckDBPyConnection, found: list[Signature]) -> None:
    """Store the signatures of files just recorded in raw.loaded_files (inside the load's transaction)."""
    if not found:
        return
    con.execute(
        """
        update raw.loaded_files l set file_size = s.size, file_mtime_ns = s.mtime_ns, file_sha256 = s.sha256
        from (select unnest(?::varchar[]) as source_file, unnest(?::bigint[]) as size,
                     unnest(?::bigint[]) as mtime_ns, unnest(?::varchar[]) as sha256) s
        where l.source_file = s.source_file and l.file_sha256 is null
        """,
        [[s.source_file for s in found], [s.size for s in found], [s.mtime_ns for s in found],
         [s.sha256 for s in found]],
    )


def changed_files(con: duckdb.DuckDBPyConnection, landing_dir: Path, stream: str, landed: list[str]) -> list[str]:
    """Loaded files of the stream, still landed, whose content is not what was loaded. Files without a
    record (loaded before it existed) get one now; a file whose size and mtime match is not read."""
    landing_dir = Path(landing_dir)
    recorded = con.execute(
        "select source_file, file_size, file_mtime_ns, file_sha256 from raw.loaded_files where stream = ?",
        [stream],
    ).fetchall()
    present = set(landed)
    changed, refresh = [], []
    for name, size, mtime_ns, digest in recorded:
        if name not in present:
            continue
        try:
            stat = (landing_dir / name).stat()
        except FileNotFoundError:
            continue
        if digest is not None and stat.st_size == size and stat.st_mtime_ns == mtime_ns:
            continue
        now = signature(landing_dir, name)
        if digest is None or now.sha256 == digest:
            refresh.append(now)  # no record yet, or the same content with a new mtime
        else:
            changed.append(name)
    if refresh:
        con.execute(
            """
            update raw.loaded_files l set file_size = s.size, file_mtime_ns = s.mtime_ns, file_sha256 = s.sha256
            from (select unnest(?::varchar[]) as source_file, unnest(?::bigint[]) as size,
                         unnest(?::bigint[]) as mtime_ns, unnest(?::varchar[]) as sha256) s
            where l.source_file = s.source_file
            """,
            [[s.source_file for s in refresh], [s.size for s in refresh], [s.mtime_ns for s in refresh],
             [s.sha256 for s in refresh]],
        )
    return sorted(changed)


def has_redeliveries(con: duckdb.DuckDBPyConnection, stream: str) -> bool:
    """Whether an event_id of the stream came in more than one file (a skipped identical copy, or a copy
    quarantined as a conflicting duplicate): then which copy stands depends on the order files load in."""
    return con.execute(
        """
        select (select count(*) from raw.loaded_files where stream = ? and rows_duplicate > 0)
             + (select count(*) from raw.quarantine where stream = ? and reason = 'conflicting_duplicate')
        """,
        [stream, stream],
    ).fetchall()[0][0] > 0


def forget_files(con: duckdb.DuckDBPyConnection, stream: str, files: list[str] | None) -> None:
    """Delete what the files (all of the stream's when None) left in raw, in one transaction: their next
    load reads them as new files."""
    where = "" if files is None else " and source_file in (select unnest(?::varchar[]))"
    params: list = [] if files is None else [files]
    con.execute("begin transaction")
    try:
        con.execute(f"delete from raw.{stream} where true{where}", params)
        con.execute(f"delete from raw.quarantine where stream = ?{where}", [stream, *params])
        con.execute(f"delete from raw.loaded_files where stream = ?{where}", [stream, *params])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def prepare_reload(con: duckdb.DuckDBPyConnection, landing_dir: Path, stream: str, landed: list[str]) -> ChangedFiles:
    """Find the stream's loaded files whose content changed and make them new again; the whole stream when
    it had re-deliveries."""
    ensure_signature_columns(con)
    wanted = changed = changed_files(con, landing_dir, stream, landed)
    if not wanted:
        return ChangedFiles([], [])
    if has_redeliveries(con, stream):
        loaded = [r[0] for r in con.execute("select source_file from raw.loaded_files where stream = ? order by 1",
                                            [stream]).fetchall()]
        forget_files(con, stream, None)
        log.info("%s: %d loaded file(s) changed (%s); the stream had re-delivered events, so all its "
                    "files are reloaded", stream, len(wanted), ", ".join(wanted[:5]))
        return ChangedFiles(changed, loaded, whole_stream=True)
    forget_files(con, stream, wanted)
    log.info("%s: %d loaded file(s) changed since they were loaded and are reloaded: %s", stream,
                len(wanted), ", ".join(wanted[:5]) + (" ..." if len(wanted) > 5 else ""))
    return ChangedFiles(changed, wanted)
