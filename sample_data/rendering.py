"""Rendering: one month's event columns (events.py) to JSON lines in docs/input-format.md's shape, written as
one file per stream per UTC day. Polars string expressions do the rendering; a background thread writes."""

from __future__ import annotations

import gzip as gzip_format
import io
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl
from numpy.random import Generator

from sample_data.company import (
    ACCOUNT_CREATED,
    BILLING_EVENT_TYPES,
    COUNTRIES,
    CURRENCIES,
    DAY,
    EVENT_ID_PREFIX,
    INTERVAL_NAMES,
    NAME_NOUNS,
    NAME_STEMS,
    OFFSET_SECONDS,
    OFFSET_SHARE,
    OFFSET_SUFFIX,
    PLAN_IDS,
    SALES_OWNERS,
    SEGMENTS,
    STREAMS,
    SUBSCRIPTION_EVENT_TYPES,
    USAGE_METRICS,
)


def _string_field(name: str, value: pl.Expr) -> pl.Expr:
    return pl.lit(f'"{name}":"') + value + pl.lit('"')


def _raw_field(name: str, value: pl.Expr) -> pl.Expr:
    return pl.lit(f'"{name}":') + value


def _padded(number: pl.Expr, width: int) -> pl.Expr:
    """Zero-padded decimal text of a non-negative number (pad_start is faster than zfill)."""
    return number.cast(pl.String).str.pad_start(width, "0")


def _money_text(cents: pl.Expr) -> pl.Expr:
    return (cents // 100).cast(pl.String) + pl.lit(".") + _padded(cents % 100, 2)


def _money_field(name: str, cents: pl.Expr, as_number: pl.Expr) -> pl.Expr:
    # docs/input-format.md accepts a JSON number or a numeric string: deliver both.
    text = _money_text(cents)
    return pl.lit(f'"{name}":') + pl.when(as_number).then(text).otherwise(pl.lit('"') + text + pl.lit('"'))


def _lookup(codes: pl.Expr, values) -> pl.Expr:
    """values[code], null where the code is null."""
    return pl.lit(pl.Series(list(values))).gather(codes)


def _timestamp(seconds: pl.Expr, offset: pl.Expr) -> pl.Expr:
    local = seconds + _lookup(offset, OFFSET_SECONDS)
    return pl.from_epoch(local, time_unit="s").dt.to_string("%Y-%m-%dT%H:%M:%S") + _lookup(
        offset, OFFSET_SUFFIX
    )


def _subscription_id(account: pl.Expr, seq: pl.Expr) -> pl.Expr:
    return pl.lit("sub_") + _padded(account + 1, 7) + pl.lit("_") + _padded(seq, 2)


class Writer:
    """Renders event frames to JSON lines and writes one file per stream per UTC day.

    Files are compressed and written on a background thread while the next batch is rendered; at
    most one batch waits, so memory stays bounded.
    """

    def __init__(self, out: Path, gzip: bool, rngs: dict[str, Generator], accounts: int):
        self.out = out
        self.gzip = gzip
        self.rngs = rngs  # one per stream, so usage granularity leaves the other streams' bytes alone
        self.events = {stream: 0 for stream in STREAMS}
        self.files = 0
        self.account_ids = pl.lit("acc_") + _padded(pl.int_range(1, accounts + 1, dtype=pl.Int64), 7)
        self.account_ids = pl.select(self.account_ids.alias("id"))["id"]
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="landing-writer")
        self._pending: Future | None = None

    def close(self) -> None:
        self._wait()
        self._io.shutdown()

    def _wait(self) -> None:
        if self._pending is not None:
            self._pending.result()  # re-raises a failed write
            self._pending = None

    def write_events(self, stream: str, frame: pl.DataFrame) -> None:
        k = frame.height
        if k == 0:
            return
        if stream != "usage_events":  # usage arrives in file order already
            frame = frame.sort(["second", "event_type", "account"]).with_columns(day=pl.col("second") // DAY)
        # Rendering choices (offset style, money as number or string) come from their own stream.
        rng = self.rngs[stream]
        offset = rng.choice(len(OFFSET_SUFFIX), size=k, p=OFFSET_SHARE).astype(np.int8)
        as_number = rng.random(k) < 0.3
        first_id = self.events[stream]
        frame = frame.with_columns(
            event_number=pl.Series(np.arange(first_id + 1, first_id + k + 1, dtype=np.int64)),
            offset=pl.Series(offset),
            as_number=pl.Series(as_number),
        )
        # Absent (null) fields are left out, separator included; usage has none, and skipping the
        # null handling there is measurably faster.
        usage = stream == "usage_events"
        fields = self._usage_fields(frame) if usage else self._fields(stream)
        body = pl.concat_str(fields, separator=",", ignore_nulls=not usage)
        lines = frame.select("day", line=pl.concat_str([pl.lit("{"), body, pl.lit("}")]))
        self.events[stream] += k
        self._write_days(stream, lines)

    def _common(self, stream: str, event_type: pl.Expr, occurred_at: pl.Expr) -> list[pl.Expr]:
        return [
            _string_field("event_id", pl.lit(EVENT_ID_PREFIX[stream]) + _padded(pl.col("event_number"), 10)),
            _string_field("event_type", event_type),
            _string_field("occurred_at", occurred_at),
        ]

    def _usage_fields(self, frame: pl.DataFrame) -> list[pl.Expr]:
        # Usage is most of the volume and every event sits at 00:00 UTC of its day: format the few
        # (day, offset) pairs once and pick them by index.
        c = pl.col
        first_day, last_day = frame["day"].min(), frame["day"].max()
        table = [
            str(np.datetime64((day * DAY + OFFSET_SECONDS[o]), "s")) + OFFSET_SUFFIX[o]
            for day in range(first_day, last_day + 1)
            for o in range(len(OFFSET_SUFFIX))
        ]
        occurred_at = pl.lit(pl.Series(table, dtype=pl.String)).gather(
            (c("day") - first_day) * len(OFFSET_SUFFIX) + c("offset").cast(pl.Int64)
        )
        quantity = c("quantity")
        text = (
            pl.when(quantity % 100 == 0)
            .then((quantity // 100).cast(pl.String))
            .otherwise(_money_text(quantity))
        )
        return [
            *self._common("usage_events", pl.lit("usage"), occurred_at),
            _string_field("account_id", pl.lit(self.account_ids).gather(c("account"))),
            _string_field("metric", _lookup(c("metric"), USAGE_METRICS)),
            _raw_field("quantity", text),
        ]

    def _fields(self, stream: str) -> list[pl.Expr]:
        c = pl.col
        names = SUBSCRIPTION_EVENT_TYPES if stream == "subscription_events" else BILLING_EVENT_TYPES
        common = self._common(stream, _lookup(c("event_type"), names), _timestamp(c("second"), c("offset")))
        account = _string_field("account_id", pl.lit(self.account_ids).gather(c("account")))
        subscription = _string_field("subscription_id", _subscription_id(c("account"), c("seq")))
        currency = _string_field("currency", _lookup(c("currency"), CURRENCIES))
        if stream == "billing_events":

            def date(col: str) -> pl.Expr:
                return c(col).cast(pl.Int32).cast(pl.Date).dt.to_string("%Y-%m-%d")

            return [
                *common,
                account,
                _string_field("invoice_id", pl.lit("inv_") + _padded(c("invoice") + 1, 10)),
                subscription,
                _money_field("amount", c("amount"), c("as_number")),
                currency,
                _string_field("period_start", date("period_start")),
                _string_field("period_end", date("period_end")),
            ]
        noun = _lookup(c("name_noun"), NAME_NOUNS)
        legal_form = _lookup(c("country"), [country[3] for country in COUNTRIES])
        name = pl.concat_str(
            [_lookup(c("name_stem"), NAME_STEMS), noun, legal_form], separator=" ", ignore_nulls=True
        )
        effective = pl.from_epoch(c("effective"), time_unit="s").dt.to_string("%Y-%m-%dT%H:%M:%SZ")
        interval = c("interval").replace_strict(INTERVAL_NAMES, default=None, return_dtype=pl.String)
        return [
            *common,
            _string_field("effective_at", effective),
            account,
            _string_field("account_name", pl.when(c("event_type") == ACCOUNT_CREATED).then(name)),
            _string_field("segment", _lookup(c("segment"), SEGMENTS)),
            _string_field("country", _lookup(c("country"), [country[0] for country in COUNTRIES])),
            _string_field("sales_owner", _lookup(c("owner"), SALES_OWNERS)),
            subscription,
            _string_field("plan_id", _lookup(c("tier"), PLAN_IDS)),
            _string_field("billing_interval", interval),
            _raw_field("quantity", c("quantity").cast(pl.String)),
            _money_field("unit_price", c("unit_price"), c("as_number")),
            currency,
            _raw_field("discount_pct", c("discount").cast(pl.String)),
        ]

    def _write_days(self, stream: str, lines: pl.DataFrame) -> None:
        # One native CSV write of the whole batch (lines are sorted by day, so each day is a
        # contiguous byte range), then one file per day cut out of the buffer.
        buffer = io.BytesIO()
        lines.select("line").write_csv(buffer, include_header=False, quote_style="never")
        data = buffer.getvalue()
        line_end = np.cumsum(lines["line"].str.len_bytes().to_numpy().astype(np.int64) + 1)
        days = lines["day"].to_numpy()
        last_rows = np.append(np.flatnonzero(days[1:] != days[:-1]), len(days) - 1)
        if line_end[-1] != len(data):
            raise RuntimeError("rendered lines and written bytes disagree")
        suffix = ".jsonl.gz" if self.gzip else ".jsonl"
        files, start = [], 0
        for last_row in last_rows:
            end = int(line_end[last_row])
            path = self.out / stream / (str(np.datetime64(int(days[last_row]), "D")) + suffix)
            files.append((path, start, end))
            start = end
        self.files += len(files)
        self._wait()
        self._pending = self._io.submit(_write_files, data, files, self.gzip)


def _write_files(data: bytes, files: list[tuple[Path, int, int]], gzip: bool) -> None:
    view = memoryview(data)
    for path, start, end in files:
        if path.exists():  # each UTC day is rendered once per stream; guard the invariant
            raise RuntimeError(f"{path} written twice")
        chunk = view[start:end]
        # mtime=0 keeps gzip files byte-identical from run to run.
        path.write_bytes(gzip_format.compress(chunk, compresslevel=6, mtime=0) if gzip else chunk)
