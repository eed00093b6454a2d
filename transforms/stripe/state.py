"""What the Stripe importer remembers between imports, in `DIR/.stripe/state.sqlite`.

The landing files are facts that never change; turning Stripe's snapshots (a subscription object as it is
after each change) into landing-file events needs the previous snapshot of each subscription, the invoices a
refund refers to, and the Stripe event ids already imported. The warehouse never reads this folder.

Lookups go through dictionaries in memory (one entry per subscription, customer, invoice: not per event);
`flush` writes what changed, inside the caller's transaction.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

TABLES = {
    # Stripe event ids already imported (a re-delivered event, or the same event in two files, is one event).
    "events": "id text primary key",
    "subscriptions": "id text primary key, body text",  # mapping state of a Stripe subscription (JSON)
    "customers": "id text primary key, body text",  # the account fields last written
    "invoices": "id text primary key, body text",  # account, §1 subscription, currency; issued/paid written
    "payment_refs": "id text primary key, invoice text",  # charge / payment intent -> invoice
    "charges": "id text primary key, refunded integer",  # amount refunded so far (minor unit)
    "discounts": "id text primary key, body text",  # discount objects from customer.discount.* events
    "refund_spans": "id text primary key, body text",  # charge -> refunded spans written ([[lo, hi], ...], minor)
    "coupons": "id text primary key, body text",  # coupon objects from coupon.* events (clover names them by id)
    "rejected": "id text primary key",  # file, line and a digest of each line already listed in DIR/rejected/
}
CACHE_ENTRIES = 250_000  # subscriptions, customers, invoices, ... kept in memory during an import
_KV = ("subscriptions", "customers", "invoices", "payment_refs", "charges", "discounts", "coupons", "refund_spans")


class State:
    """Key-value tables with a write-back cache. `con` None: memory only (tests of the mapping)."""

    def __init__(self, con: sqlite3.Connection | None = None):
        self.con = con
        self._cache: dict[str, dict[str, object]] = {t: {} for t in _KV}
        self._dirty: dict[str, set[str]] = {t: set() for t in _KV}
        self._empty: set[str] = set(_KV) if con is None else set()
        if con is not None:
            for table, columns in TABLES.items():
                con.execute(f"create table if not exists {table} ({columns})")
            # Tables empty at the start (a first import) are never looked up: everything is in the cache.
            self._empty = {t for t in _KV if con.execute(f"select not exists (select 1 from {t})").fetchone()[0]}

    @classmethod
    def open(cls, folder: Path) -> State:
        folder.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(folder / "state.sqlite", timeout=60, isolation_level=None)
        con.execute("pragma journal_mode=wal")
        con.execute("pragma synchronous=normal")
        return cls(con)

    def get(self, table: str, key: str):
        cache = self._cache[table]
        if key in cache:
            return cache[key]
        value = None
        if table not in self._empty:
            column = {"payment_refs": "invoice", "charges": "refunded"}.get(table, "body")
            row = self.con.execute(f"select {column} from {table} where id = ?", (key,)).fetchone()
            if row is not None:
                value = json.loads(row[0]) if column == "body" else row[0]
        cache[key] = value
        return value

    def put(self, table: str, key: str, value) -> None:
        self._cache[table][key] = value
        self._dirty[table].add(key)

    def trim(self, limit: int = CACHE_ENTRIES) -> None:
        """Past `limit` entries in memory, write the changes and forget the cache (lookups go to SQLite)."""
        if self.con is None or sum(len(c) for c in self._cache.values()) <= limit:
            return
        self.flush()
        for cache in self._cache.values():
            cache.clear()
        self._empty = set()

    def flush(self) -> None:
        """Write the changed entries (in the caller's open transaction)."""
        if self.con is None:
            return
        for table in _KV:
            cache, dirty = self._cache[table], self._dirty[table]
            if not dirty:
                continue
            if table in ("payment_refs", "charges"):
                rows = [(k, cache[k]) for k in dirty]
            else:
                rows = [(k, json.dumps(cache[k], separators=(",", ":"))) for k in dirty]
            self.con.executemany(f"insert or replace into {table} values (?, ?)", rows)
            dirty.clear()

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
