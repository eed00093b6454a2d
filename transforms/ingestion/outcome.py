"""What a load ended with: its report (LoadReport), the error that stopped it (LandingError), and, when not a
single valid subscription event was loaded, one sentence a new user can act on (NoValidEvents).

A warehouse without a single valid subscription event has nothing to compute: no calendar, no MRR, no
sales lists. Rather than let every model build empty tables and the sales lists fail on an empty calendar,
the load of `subscription_events` stops the run with one line: what was read, what was quarantined and
why (the most common reasons, and the files whose columns are wrong), and the query that shows the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from transforms.ingestion.discovery import JSON_SUFFIXES, TABULAR_SUFFIXES

STREAM = "subscription_events"


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


class NoValidEvents(LandingError):
    """The warehouse holds no valid subscription event after loading."""


def quarantine_query(stream: str = STREAM) -> str:
    return (f"select reason, source_file, count(*) as rows, any_value(detail) as example from raw.quarantine "
            f"where stream = '{stream}' group by all order by rows desc")


def require_subscription_events(con: duckdb.DuckDBPyConnection, landing_dir: str | Path, warehouse: str | Path) -> None:
    """Raise NoValidEvents (one line) when raw.subscription_events is empty."""
    if con.sql(f"select count(*) from raw.{STREAM}").fetchall()[0][0]:
        return
    files, rows = con.execute(
        "select count(*), coalesce(sum(rows_read), 0) from raw.loaded_files where stream = ?", [STREAM]
    ).fetchall()[0]
    folder = Path(landing_dir) / STREAM
    if not files:
        raise NoValidEvents(
            f"no valid subscription events: no event files in {folder} (expected "
            f"{', '.join('*' + s for s in JSON_SUFFIXES + TABULAR_SUFFIXES)}); every metric starts from them")
    reasons = con.execute(
        "select reason, count(*) from raw.quarantine where stream = ? group by all order by 2 desc, 1", [STREAM]
    ).fetchall()
    quarantined = sum(n for _, n in reasons)
    by_reason = ", ".join(f"{reason} {n:,}" for reason, n in reasons[:3]) + (", ..." if len(reasons) > 3 else "")
    headers = [r[0] for r in con.execute(
        "select any_value(detail) from raw.quarantine where stream = ? and reason = 'invalid_header' "
        "group by source_file order by source_file", [STREAM]).fetchall()]
    header_note = ""
    if headers:
        header_note = f"; {headers[0]}" + (f" (and {len(headers) - 1} more file(s) like it)" if len(headers) > 1 else "")
    raise NoValidEvents(
        f"no valid subscription events: read {rows:,} row(s) from {files:,} file(s) in {folder}, quarantined "
        f"{quarantined:,} ({by_reason}){header_note}. Fix the files in place and run again (changed files are "
        f"reloaded). To see every reason: {quarantine_query()} -- in {warehouse}, read-only once the run has ended")
