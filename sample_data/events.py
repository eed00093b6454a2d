"""One month's events of one stream as numpy columns, before rendering (rendering.py) turns them into JSON lines."""

from __future__ import annotations

import numpy as np
import polars as pl


class EventBuffer:
    """Columns of one month's events for one stream, as numpy arrays; -1 means 'field absent'."""

    def __init__(self, fields: dict[str, type]):
        self.fields = fields
        self.parts: list[dict[str, np.ndarray]] = []

    def add(self, event_type: int, accounts: np.ndarray, seconds: np.ndarray, **columns) -> None:
        n = len(accounts)
        if n == 0:
            return
        part = {
            "event_type": np.full(n, event_type, dtype=np.int8),
            "account": np.asarray(accounts, dtype=np.int64),
            "second": np.asarray(seconds, dtype=np.int64),
        }
        for name, values in columns.items():
            part[name] = np.broadcast_to(np.asarray(values, dtype=self.fields[name]), (n,))
        self.parts.append(part)

    def frame(self) -> pl.DataFrame:
        names = ("event_type", "account", "second", *self.fields)
        dtypes = {"event_type": np.int8, "account": np.int64, "second": np.int64, **self.fields}
        columns = {}
        for name in names:
            arrays = [
                p[name] if name in p else np.full(len(p["account"]), -1, dtypes[name]) for p in self.parts
            ]
            columns[name] = np.concatenate(arrays) if arrays else np.empty(0, dtypes[name])
        frame = pl.DataFrame(columns)
        return frame.with_columns(
            pl.when(pl.col(name) != -1).then(pl.col(name)).alias(name) for name in self.fields
        )


def subscription_buffer() -> EventBuffer:
    return EventBuffer(
        dict(
            effective=np.int64,
            seq=np.int16,
            tier=np.int8,
            interval=np.int8,
            quantity=np.int32,
            unit_price=np.int64,
            currency=np.int8,
            discount=np.int8,
            segment=np.int8,
            country=np.int8,
            owner=np.int16,
            name_stem=np.int16,
            name_noun=np.int16,
        )
    )


def billing_buffer() -> EventBuffer:
    return EventBuffer(
        dict(
            seq=np.int16,
            invoice=np.int64,
            amount=np.int64,
            currency=np.int8,
            period_start=np.int64,
            period_end=np.int64,
        )
    )

