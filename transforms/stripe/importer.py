"""Import a Stripe event log (files of Stripe Events) into landing files (docs/input-format.md): `import_stripe_log`.

Two passes, streamed: the first reads every line (strict JSON, RFC 8259), rejects what is not a Stripe
Event to `DIR/rejected/`, counts and skips event types it does not map, and stores the events it maps in a
scratch SQLite file; the second reads them back in the order they happened (`created`, then the order of
TYPE_RANK, then input order; Events API pages list the newest first, so a page is read backwards) and
maps them (`mapping.Mapper`). Memory holds one entry per subscription, customer and invoice, never the
events.

Landing files are written under hidden temporary names and renamed into the stream folders when the
import is complete, each with a new name (`stripe-<UTC time>-<token>.jsonl`): a crash leaves no
half-written file, and no import overwrites an earlier file. The importer's memory (`DIR/.stripe/`: the
Stripe event ids imported, each subscription's last snapshot) is committed after the files are renamed,
so a crash between the two makes the next import write the same rows again, which the warehouse takes as
identical re-deliveries (no-ops).
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import json
import os
import sqlite3
import tempfile
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import orjson

from transforms.stripe.mapping import MAPPED_TYPES, TYPE_RANK, Mapper, NotAnEvent, Plan, check_event
from transforms.stripe.state import State

STREAMS = ("subscription_events", "billing_events", "usage_events")
LINE_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
DOCUMENT_SUFFIXES = (".json", ".json.gz")
FX_COLUMNS = ["month", "currency", "usd_per_unit"]
UNRESOLVED_LISTED = 10  # discounts with an unknown coupon listed one by one in the summary
PLAN_COLUMNS = ["plan_id", "plan_name", "tier_rank", "seat_limit", "api_call_limit", "list_price_monthly"]
RAW_LIMIT = 10_000  # characters of a rejected line kept in DIR/rejected/
PROGRESS_EVERY = 100_000
TRIM_EVERY = 10_000  # events mapped between checks of the state cache's size


class StripeImportError(ValueError):
    """Input that cannot be imported at all (a missing path, a landing folder that cannot be written)."""


@dataclass
class StripeImportReport:
    input_path: str
    landing_dir: str
    files_read: list[str] = field(default_factory=list)
    files_ignored: list[str] = field(default_factory=list)  # not .jsonl/.jsonl.gz/.json files
    events_read: Counter = field(default_factory=Counter)  # Stripe event type -> events read (valid Events)
    types_skipped: Counter = field(default_factory=Counter)  # types not mapped -> count
    duplicates: int = 0  # events already imported, or twice in this input
    stale: int = 0  # subscription snapshots older than one already imported
    rows_written: Counter = field(default_factory=Counter)  # stream -> §1 rows written
    rows_by_type: Counter = field(default_factory=Counter)  # §1 event_type -> rows written
    files_written: list[str] = field(default_factory=list)  # relative to the landing folder
    customers_seen: int = 0
    subscriptions_seen: int = 0
    rejected: Counter = field(default_factory=Counter)  # reason -> lines
    rejected_file: str | None = None
    rejected_before: int = 0  # of those, lines an earlier import already listed (not listed again)
    not_imported: Counter = field(default_factory=Counter)  # mapped type, but nothing to write: reason -> count
    plans_added: list[str] = field(default_factory=list)
    currencies: list[str] = field(default_factory=list)  # currencies of what was mapped (upper case)
    fx_written: bool = False  # reference/fx_rates.csv was absent and written with its header only
    warnings: list[str] = field(default_factory=list)

    @property
    def lines_rejected(self) -> int:
        return sum(self.rejected.values())

    def summary_lines(self) -> list[str]:
        def counts(counter: Counter) -> str:
            return ", ".join(f"{k} {v:,}" for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))) or "none"

        lines = [
            f"read {len(self.files_read)} file(s) from {self.input_path}: {sum(self.events_read.values()):,} Stripe events",
            f"  events read by type: {counts(self.events_read)}",
            f"  already imported or repeated: {self.duplicates:,}; older than a snapshot already imported: {self.stale:,}",
            f"  customers seen: {self.customers_seen:,}; subscriptions seen: {self.subscriptions_seen:,}",
            f"wrote {sum(self.rows_written.values()):,} events to {self.landing_dir}: {counts(self.rows_written)}",
            f"  by event type: {counts(self.rows_by_type)}",
        ]
        lines += [f"  {name}" for name in self.files_written]
        if self.fx_written:
            lines.append("reference/fx_rates.csv was missing: written with its header only (Stripe has no FX rates)")
        if self.plans_added:
            lines.append(f"plans added to reference/plans.csv: {', '.join(self.plans_added)}")
        if self.types_skipped:
            lines.append(f"types skipped (not imported): {counts(self.types_skipped)}")
        if self.not_imported:
            lines.append(f"read but not imported: {counts(self.not_imported)}")
        if self.lines_rejected:
            where = []
            if self.rejected_file:
                where.append(f"listed with file, line and reason in {self.rejected_file}")
            if self.rejected_before:
                where.append(f"{self.rejected_before:,} already listed by an earlier import in {self.landing_dir}/rejected/")
            lines.append(f"lines rejected: {self.lines_rejected:,} ({counts(self.rejected)}), {'; '.join(where)}")
        else:
            lines.append("lines rejected: 0")
        if self.files_ignored:
            lines.append(f"files ignored (not .jsonl, .jsonl.gz or .json): {', '.join(self.files_ignored)}")
        lines += [f"note: {w}" for w in self.warnings]
        return lines


def strict_loads(data: bytes | str):
    """Parse strict JSON (RFC 8259): orjson refuses NaN, Infinity, trailing commas, comments and text that is
    not UTF-8. Raises ValueError (orjson.JSONDecodeError is one)."""
    return orjson.loads(data)


def import_stripe_log(input_path: Path, landing_dir: Path, *,
                      progress: Callable[[str, int], None] | None = None) -> StripeImportReport:
    """Import the Stripe Events in `input_path` (a file or a folder of `*.jsonl`, `*.jsonl.gz`, `*.json`
    list pages) into the landing folder `landing_dir` (docs/stripe.md). `progress(phase, count)` is called every
    100,000 lines read and events mapped. Idempotent: importing the same input again writes nothing."""
    input_path, landing_dir = Path(input_path), Path(landing_dir)
    if not input_path.exists():
        raise StripeImportError(f"{input_path} does not exist: give a Stripe event file or a folder of them")
    report = StripeImportReport(str(input_path), str(landing_dir))
    files, report.files_ignored = _input_files(input_path)
    try:
        for stream in STREAMS:
            (landing_dir / stream).mkdir(parents=True, exist_ok=True)
        stripe_dir = landing_dir / ".stripe"
        stripe_dir.mkdir(exist_ok=True)
        state = State.open(stripe_dir)
    except OSError as error:
        raise StripeImportError(f"cannot write in the landing folder {landing_dir}: {error.strerror or error}") from None
    except sqlite3.DatabaseError as error:
        raise StripeImportError(
            f"{stripe_dir / 'state.sqlite'} cannot be read ({error}): move it aside to start afresh (the next import "
            "then writes every event again, which the warehouse takes as re-deliveries)") from None
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    con = state.con
    assert con is not None
    with tempfile.TemporaryDirectory(dir=stripe_dir, prefix=".work-") as work_dir:
        con.execute("attach database ? as work", (str(Path(work_dir) / "events.sqlite"),))
        con.execute("pragma work.journal_mode=off")
        con.execute("pragma work.synchronous=off")
        con.execute("create table work.ev (id text, created integer, rank integer, seq integer, body blob, src text)")
        con.execute("create unique index work.ev_id on ev (id)")  # an event twice in the input: the first stays
        try:
            con.execute("begin immediate")  # one import at a time per landing folder
        except sqlite3.OperationalError as error:
            raise StripeImportError(f"{stripe_dir / 'state.sqlite'}: {error} (another import is running?)") from None
        outputs = _Outputs(landing_dir, stamp, con)
        try:
            _read(files, input_path, con, report, outputs, progress)
            mapper = Mapper(state)
            _map(con, mapper, report, outputs, progress)
            report.customers_seen = len(mapper.stats.customers)
            report.subscriptions_seen = len(mapper.stats.subscriptions)
            report.not_imported.update(mapper.stats.not_imported)
            report.stale = mapper.stats.stale
            con.execute("insert or ignore into main.events select id from work.ev")
            report.plans_added = _add_plans(landing_dir, mapper.plans, report)  # idempotent: known plans stay
            report.files_written = outputs.land()
            state.flush()
            con.execute("commit")
        except BaseException:
            outputs.discard()
            if con.in_transaction:
                con.execute("rollback")
            raise
        finally:
            con.execute("detach database work")
            state.close()
    report.rejected_file = outputs.rejected_name
    for (sub_id, what), event_id in list(mapper.stats.unresolved_discounts.items())[:UNRESOLVED_LISTED]:
        kind = "coupon.*" if what.startswith("coupon") else "customer.discount.*"
        report.warnings.append(
            f"subscription {sub_id} (event {event_id}) has a discount from {what}, which no {kind} event in the "
            "input describes: that discount is not in MRR; add those events to the input (or pull with the API "
            "key, which lists the coupons) and import again into a new landing folder")
    if len(mapper.stats.unresolved_discounts) > UNRESOLVED_LISTED:
        report.warnings.append(f"... and {len(mapper.stats.unresolved_discounts) - UNRESOLVED_LISTED:,} more "
                               "discounts left out for the same reason")
    report.currencies = sorted(mapper.stats.currencies)
    _fx_rates(landing_dir, report)
    return report


def _fx_rates(landing_dir: Path, report: StripeImportReport) -> None:
    """`subwh run` needs reference/fx_rates.csv, which Stripe cannot give: write it with just its header when it
    is absent (an existing one is the user's and never touched), and say which currencies seen need rates."""
    path = landing_dir / "reference" / "fx_rates.csv"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8", newline="") as handle:
            handle.write(",".join(FX_COLUMNS) + "\n")
        report.fx_written = True
    except FileExistsError:
        pass
    missing = [c for c in report.currencies if c != "USD" and c not in _latest_rates(path)]
    if missing:
        report.warnings.append(
            f"{path} has no rate for {', '.join(missing)}: add a row {','.join(FX_COLUMNS)} for each (e.g. "
            f"2025-01,{missing[0]},<USD per 1 {missing[0]}>) from the first month of the data, before `subwh run`; "
            "without one their rows are quarantined as unknown_currency")


# ------------------------------------------------------------------------------------------------ input


def _input_files(input_path: Path) -> tuple[list[Path], list[str]]:
    if input_path.is_file():
        return [input_path], []
    files, ignored = [], []
    for path in sorted(p for p in input_path.rglob("*") if p.is_file()):
        name = path.name.lower()
        if name.startswith("."):
            continue
        if name.endswith(LINE_SUFFIXES + DOCUMENT_SUFFIXES):
            files.append(path)
        else:
            ignored.append(path.relative_to(input_path).as_posix())
    return files, ignored


def _open(path: Path):
    raw = path.open("rb")
    return gzip.GzipFile(fileobj=raw, mode="rb") if path.name.lower().endswith(".gz") else raw


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with _open(path) as handle:
        yield from enumerate(handle, start=1)


def _read(files, input_path, con, report, outputs, progress) -> None:
    seq = 0
    batch: list[tuple] = []
    read = 0

    def keep(event: dict, event_id: str, event_type: str, created: int, order: int, raw: bytes | None,
             where: tuple[str, str]) -> None:
        report.events_read[event_type] += 1
        if event_type not in MAPPED_TYPES:
            report.types_skipped[event_type] += 1
            return
        # The line as read (parsing it again costs less than any re-encoding); an item of a page, encoded.
        batch.append((event_id, created, TYPE_RANK.get(event_type, 5), order, raw or orjson.dumps(event),
                      f"{where[0]}\t{where[1]}"))
        if len(batch) >= 20_000:
            con.executemany("insert or ignore into work.ev values (?, ?, ?, ?, ?, ?)", batch)
            batch.clear()

    def take(value, where: tuple[str, str], raw: bytes | None, order: int) -> int:
        """One parsed JSON value: an Event, or a list page of them. Returns how many orders it used."""
        if isinstance(value, dict) and value.get("object") == "list" and isinstance(value.get("data"), list):
            items = value["data"]
            # The Events API lists the newest first: the last item happened first.
            for index, item in enumerate(items):
                take_one(item, (where[0], f"{where[1]} item {index + 1}"), None, order + len(items) - 1 - index)
            return max(len(items), 1)
        if isinstance(value, list):
            for index, item in enumerate(value):
                take_one(item, (where[0], f"{where[1]} item {index + 1}"), None, order + index)
            return max(len(value), 1)
        take_one(value, where, raw, order)
        return 1

    def take_one(value, where, raw, order) -> None:
        try:
            event_id, event_type, created = check_event(value)
        except NotAnEvent as error:
            text = raw.decode("utf-8", "replace").rstrip("\r\n") if isinstance(raw, bytes) else _dump(value)
            outputs.reject(where, f"not a Stripe Event: {error}", text, report)
            return
        keep(value, event_id, event_type, created, order, raw if isinstance(raw, bytes) else None, where)

    for path in files:
        name = path.as_posix() if path == input_path else path.relative_to(input_path).as_posix()
        report.files_read.append(name)
        lower = path.name.lower()
        number = 0
        try:
            if lower.endswith(DOCUMENT_SUFFIXES):
                with _open(path) as handle:
                    blob = handle.read()
                try:
                    value = strict_loads(blob)
                except ValueError as error:
                    outputs.reject((name, "1"), _parse_reason(error), blob[:RAW_LIMIT].decode("utf-8", "replace"),
                                   report)
                    continue
                seq += take(value, (name, "1"), None, seq)
                continue
            for number, line in _lines(path):
                read += 1
                if progress and read % PROGRESS_EVERY == 0:
                    progress("read", read)
                if not line.strip():
                    continue
                try:
                    value = strict_loads(line)
                except ValueError as error:
                    outputs.reject((name, str(number)), _parse_reason(error),
                                   line.decode("utf-8", "replace").rstrip("\r\n"), report)
                    continue
                seq += take(value, (name, str(number)), line, seq)
        except (OSError, EOFError, zlib.error) as error:
            # A broken gzip stream or an unreadable file: what was read stays, the rest of the file is reported.
            outputs.reject((name, str(number + 1)), f"file unreadable from here on: {_first_line(error)}", "", report)
    if batch:
        con.executemany("insert or ignore into work.ev values (?, ?, ?, ?, ?, ?)", batch)


def _map(con, mapper: Mapper, report, outputs, progress) -> None:
    total = sum(report.events_read.values()) - sum(report.types_skipped.values())
    # Each id once (its first occurrence), not imported before, in the order the events happened.
    cursor = con.execute(
        """select body, src from work.ev e where not exists (select 1 from main.events m where m.id = e.id)
           order by created, rank, seq""")
    mapped = 0
    for body, src in cursor:
        event = orjson.loads(body)
        mapped += 1
        if mapped % TRIM_EVERY == 0:
            mapper.state.trim()  # memory stays bounded: entries beyond the cache's size go to SQLite
            if progress and mapped % PROGRESS_EVERY == 0:
                progress("map", mapped)
        try:
            rows = mapper.map(event)
        except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError, OSError) as error:
            # An Event whose object has a field of an impossible type (a price of "abc"): listed, not imported.
            outputs.reject(tuple(src.split("\t", 1)), f"a Stripe {event['type']} the importer cannot read: "
                           f"{type(error).__name__}: {_first_line(error)}", body.decode("utf-8", "replace"), report)
            continue
        for stream, row in rows:
            outputs.write(stream, row)
            report.rows_written[stream] += 1
            report.rows_by_type[row["event_type"]] += 1
    report.duplicates = total - mapped


def _dump(value) -> str:
    try:
        return json.dumps(value)[:RAW_LIMIT]
    except (TypeError, ValueError):
        return repr(value)[:RAW_LIMIT]


def _parse_reason(error: Exception) -> str:
    text = _first_line(error)
    return "not UTF-8 text" if "UTF-8" in text else f"not JSON: {text}"


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# ----------------------------------------------------------------------------------------------- output


class _Outputs:
    """Landing files under hidden temporary names until `land` renames them into place."""

    def __init__(self, landing_dir: Path, stamp: str, con: sqlite3.Connection):
        self.landing_dir = landing_dir
        self.stamp = stamp
        self.con = con  # the state: lines already listed in DIR/rejected/ are not listed again
        self.handles: dict[str, tuple[Path, io.BufferedWriter]] = {}
        self.rejected_name: str | None = None

    def _handle(self, folder: str) -> io.BufferedWriter:
        if folder not in self.handles:
            directory = self.landing_dir / folder
            directory.mkdir(parents=True, exist_ok=True)
            temp = directory / f".stripe-{self.stamp}.jsonl.tmp"
            self.handles[folder] = (temp, temp.open("wb", buffering=1 << 20))
        return self.handles[folder][1]

    def write(self, stream: str, row: dict) -> None:
        self._handle(stream).write(orjson.dumps(row) + b"\n")

    def reject(self, where: tuple[str, str], reason: str, raw: str, report: StripeImportReport) -> None:
        report.rejected[reason.split(":")[0]] += 1
        digest = hashlib.sha1(raw.encode("utf-8", "replace")).hexdigest()
        if self.con.execute("insert or ignore into rejected values (?)", (f"{where[0]}:{where[1]}:{digest}",)).rowcount == 0:
            report.rejected_before += 1
            return
        record = {"file": where[0], "line": where[1], "reason": reason, "raw": raw[:RAW_LIMIT]}
        self._handle("rejected").write(orjson.dumps(record) + b"\n")

    def land(self) -> list[str]:
        landed = []
        for folder, (temp, handle) in self.handles.items():
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            final = temp.with_name(f"stripe-{self.stamp}.jsonl")
            os.replace(temp, final)
            name = final.relative_to(self.landing_dir).as_posix()
            if folder == "rejected":
                self.rejected_name = str(final)
            else:
                landed.append(name)
        self.handles.clear()
        return sorted(landed)

    def discard(self) -> None:
        for temp, handle in self.handles.values():
            handle.close()
            temp.unlink(missing_ok=True)
        self.handles.clear()


# ------------------------------------------------------------------------------------------------ plans


def _add_plans(landing_dir: Path, plans: dict[str, Plan], report: StripeImportReport) -> list[str]:
    """Append the plans not yet in reference/plans.csv (existing rows are kept as they are). A new plan's
    tier_rank follows the highest one in the file, in order of monthly list price; no seat or API limit."""
    path = landing_dir / "reference" / "plans.csv"
    existing_text = path.read_text(encoding="utf-8") if path.exists() else ""
    known: set[str] = set()
    top_rank = 0
    if existing_text:
        for row in csv.DictReader(io.StringIO(existing_text)):
            known.add((row.get("plan_id") or "").strip())
            with contextlib.suppress(ValueError):
                top_rank = max(top_rank, int((row.get("tier_rank") or "0").strip()))
    fresh = [p for p in plans.values() if p.plan_id not in known]
    if not fresh:
        return []
    rates = _latest_rates(landing_dir / "reference" / "fx_rates.csv")
    priced = []
    for plan in fresh:
        per_month = plan.unit_price / plan.months
        if plan.currency == "USD":
            usd = per_month
        elif plan.currency in rates:
            usd = per_month * rates[plan.currency]
            report.warnings.append(f"plan {plan.plan_id} is priced in {plan.currency}: its list_price_monthly "
                                   f"is converted to USD at the latest rate in fx_rates.csv")
        else:
            usd = Decimal(0)
            report.warnings.append(f"plan {plan.plan_id} is priced in {plan.currency}, which has no rate in "
                                   "fx_rates.csv: its list_price_monthly is written as 0; correct it in plans.csv")
        priced.append((usd.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP), plan))
    priced.sort(key=lambda p: (p[0], p[1].plan_id))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if not existing_text:
        writer.writerow(PLAN_COLUMNS)
    elif not existing_text.endswith("\n"):
        buffer.write("\n")
    for rank, (usd, plan) in enumerate(priced, start=top_rank + 1):
        writer.writerow([plan.plan_id, plan.plan_name, rank, "", "", format(usd.normalize(), "f")])
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".plans.csv.{uuid.uuid4().hex[:8]}.tmp")
    temp.write_text(existing_text + buffer.getvalue(), encoding="utf-8")
    os.replace(temp, path)
    return [plan.plan_id for _, plan in priced]


def _latest_rates(path: Path) -> dict[str, Decimal]:
    if not path.exists():
        return {}
    latest: dict[str, tuple[str, Decimal]] = {}
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                currency = (row.get("currency") or "").strip().upper()
                month = (row.get("month") or "").strip()[:7]
                try:
                    rate = Decimal((row.get("usd_per_unit") or "").strip())
                except InvalidOperation:
                    continue
                if currency and (currency not in latest or month > latest[currency][0]):
                    latest[currency] = (month, rate)
    except (OSError, csv.Error, UnicodeDecodeError):
        return {}
    return {c: r for c, (_, r) in latest.items()}
