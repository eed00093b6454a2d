"""Instants that cannot be true are bad input (docs/input-format.md, "Bad input"): the bounds, their checks, healing.

An event's `occurred_at` must lie between a floor (default 1990-01-01) and the load's clock plus a
tolerance (default one day); a subscription event's `effective_at` and an invoice's `period_start` and
`period_end` must lie within a few years of the event's `occurred_at`. A row outside is quarantined as
`implausible_instant` at load, and rows an earlier version loaded are moved out of `raw` by
`heal_raw` on the next run, so one mistyped or misconfigured clock can neither stretch the calendar
nor stop a run. docs/bad-input.md explains the defaults; orchestration/settings.py reads the SUBWH_*
variables that change them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

import duckdb

from transforms.ingestion.event_schema import stream_fields

log = logging.getLogger(__name__)

REASON = "implausible_instant"
# Bumped when what the checks test changes (not their settings): every warehouse is re-checked once.
RULES_VERSION = 1
# Lines are held to strict JSON (RFC 8259) since this version of the line rules; a warehouse whose raw
# rows were loaded before it may hold lenient lines (trailing commas, NaN) that only a reload finds.
STRICT_JSON_RULES = 2
HEAL_COMMAND = "subwh run --full-rebuild"


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class InstantBounds:
    """The plausible range of every instant a row carries. `now` is the load's clock (UTC, naive); None
    reads the real clock when the checks are built, i.e. at the start of each load."""

    occurred_at_floor: date = date(1990, 1, 1)
    future_tolerance: timedelta = timedelta(days=1)
    effective_at_years_after: int = 5  # a change scheduled this far ahead at most
    effective_at_years_before: int = 1  # a change backdated this far at most
    invoice_period_years: int = 5  # an invoice's period_start / period_end this far from its occurred_at at most
    now: datetime | None = field(default=None)

    def clock(self) -> datetime:
        return self.now if self.now is not None else utc_now()

    def ceiling(self) -> datetime:
        return self.clock() + self.future_tolerance

    def fingerprint(self) -> str:
        """What the checks test, without the clock: a change re-checks the rows already loaded."""
        settings = {k: str(v) for k, v in asdict(self).items() if k != "now"}
        return hashlib.sha256(json.dumps([RULES_VERSION, settings], sort_keys=True).encode()).hexdigest()[:16]

    def describe(self) -> str:
        return (f"occurred_at from {self.occurred_at_floor} to the load's clock + {self.future_tolerance}; "
                f"effective_at from {self.effective_at_years_before} year(s) before to "
                f"{self.effective_at_years_after} year(s) after occurred_at; invoice periods within "
                f"{self.invoice_period_years} year(s) of occurred_at")


def checks(field_names: set[str], bounds: InstantBounds, ceiling: datetime,
           column=lambda name: name, shown=None) -> list[tuple[str, str, str]]:
    """(condition, reason, detail) SQL triples over the typed columns `column(name)` of a row: the
    instant checks that apply to a stream with these fields. The bounds are constants in the SQL; the
    details show the values as `shown(name)` gives them (default: the typed column)."""
    shown = shown or column
    floor = _timestamp(datetime.combine(bounds.occurred_at_floor, datetime.min.time()))
    top = _timestamp(ceiling)
    occurred = column("occurred_at")
    out = [
        (f"{occurred} < {floor}", REASON,
         f"'occurred_at=' || {shown('occurred_at')} || ' is before {bounds.occurred_at_floor} (SUBWH_OCCURRED_AT_FLOOR)'"),
        (f"{occurred} > {top}", REASON,
         f"'occurred_at=' || {shown('occurred_at')} || ' is later than the load''s clock + {_hours(bounds.future_tolerance)} h "
         f"({ceiling:%Y-%m-%d %H:%M:%S}, SUBWH_FUTURE_TOLERANCE_HOURS)'"),
    ]
    if "effective_at" in field_names:
        effective = column("effective_at")
        after, before = bounds.effective_at_years_after, bounds.effective_at_years_before
        out += [
            (f"{effective} > {occurred} + interval {after} year", REASON,
             f"'effective_at=' || {shown('effective_at')} || ' is more than {after} year(s) after occurred_at "
             "(SUBWH_EFFECTIVE_AT_YEARS_AFTER)'"),
            (f"{effective} < {occurred} - interval {before} year", REASON,
             f"'effective_at=' || {shown('effective_at')} || ' is more than {before} year(s) before occurred_at "
             "(SUBWH_EFFECTIVE_AT_YEARS_BEFORE)'"),
        ]
    years = bounds.invoice_period_years
    for name in ("period_start", "period_end"):
        if name in field_names:
            value = column(name)
            out.append((
                f"{value} not between ({occurred} - interval {years} year)::date "
                f"and ({occurred} + interval {years} year)::date",
                REASON,
                f"'{name}=' || {shown(name)} || ' is more than {years} year(s) from occurred_at (SUBWH_INVOICE_PERIOD_YEARS)'",
            ))
    return out


def _timestamp(value: datetime) -> str:
    return f"timestamp '{value:%Y-%m-%d %H:%M:%S.%f}'"


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g}"


# -------------------------------------------------------------------------------------------- healing


@dataclass
class HealReport:
    stream: str
    moved: int = 0  # rows moved from raw.<stream> to raw.quarantine
    strict_json_message: str | None = None  # set when raw.<stream> holds lines loaded before strict JSON


def ensure_rules_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """create table if not exists raw.validation_rules (
            stream varchar, line_rules integer, instant_fingerprint varchar, clock timestamp, checked_at timestamp
        )"""
    )
    con.execute("comment on table raw.validation_rules is 'Under which validation rules the rows of each raw "
                "event table were checked last (transforms/ingestion/instant_bounds.py): a change re-checks them.'")


def heal_stream(con: duckdb.DuckDBPyConnection, stream: str, bounds: InstantBounds) -> HealReport:
    """Hold the rows already in raw.<stream> to today's instant bounds: the rows that fail them (loaded by
    an earlier version, or before a bound was tightened) move to raw.quarantine with the reason, in one
    transaction. Removing rows from a raw table makes every incremental model downstream rebuild in full
    (sql/macros/materializations/keyed_incremental.sql), so history restates on the same run.

    The rows are re-checked only when that can find something: when the rules or their settings changed
    since the stream's last check, or the clock went back (SUBWH_NOW); the clock moving forward only
    widens the bounds. Strict JSON cannot be re-checked from typed rows: when the table holds rows loaded
    before it, the report carries the one command that reloads them."""
    ensure_rules_table(con)
    report = HealReport(stream)
    last = con.execute("select line_rules, instant_fingerprint, clock from raw.validation_rules where stream = ?",
                       [stream]).fetchall()
    clock = bounds.clock()
    fingerprint = bounds.fingerprint()
    has_rows = con.sql(f"select exists (select 1 from raw.{stream})").fetchall()[0][0]
    # A table first seen empty is loaded under today's line rules from the start.
    line_rules = last[0][0] if last else (1 if has_rows else STRICT_JSON_RULES)
    if not has_rows:
        line_rules = STRICT_JSON_RULES
    if line_rules < STRICT_JSON_RULES:
        report.strict_json_message = (
            f"raw.{stream} holds rows loaded before lines were held to strict JSON (RFC 8259): lines with "
            f"trailing commas or NaN may be among them; `{HEAL_COMMAND}` reloads every file under today's rules"
        )
    if last and last[0][1] == fingerprint and last[0][2] is not None and clock >= last[0][2] \
            and last[0][0] == line_rules:
        return report
    con.execute("begin transaction")
    try:
        now = utc_now()
        report.moved = _move_implausible(con, stream, bounds, bounds.ceiling(), now)
        con.execute("delete from raw.validation_rules where stream = ?", [stream])
        con.execute("insert into raw.validation_rules values (?, ?, ?, ?, ?)",
                    [stream, line_rules, fingerprint, clock, now])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    if report.moved:
        log.warning("%s: moved %d row(s) loaded earlier to raw.quarantine (%s): %s", stream, report.moved, REASON,
                    bounds.describe())
    return report


def _move_implausible(con, stream: str, bounds: InstantBounds, ceiling: datetime, now: datetime) -> int:
    names = {f.name for f in stream_fields(stream)}
    found = checks(names, bounds, ceiling, column=lambda name: f"r.{name}")
    condition = " or ".join(f"coalesce({c}, false)" for c, _, _ in found)
    detail = "case " + " ".join(f"when {c} then {d}" for c, _, d in found) + " end"
    columns = ", ".join(f"{f.name} := r.{f.name}" for f in stream_fields(stream))
    count = con.sql(f"select count(*) from raw.{stream} r where {condition}").fetchall()[0][0]
    if not count:
        return 0
    # The line's text is not kept for accepted rows: its JSON rendering (every field, typed) stands for it.
    con.execute(
        f"""
        insert into raw.quarantine
        select r.source_file, r.line_number,
               to_json(struct_pack({columns}))::varchar,
               '{REASON}', {detail} || ' (loaded by an earlier version; moved out of raw.{stream})', ?, ?::timestamp
        from raw.{stream} r where {condition}
        """,
        [stream, now],
    )
    con.execute(f"delete from raw.{stream} r where {condition}")
    return count
