"""Build small landing folders that read like the story they tell.

    landing = Landing(tmp_path)
    landing.add(account("A", on="2025-01-02"),
                starts("A", plan="starter", seats=5, price=10, on="2025-01-05"),
                changes("A", seats=8, on="2025-02-10"))
    con = build(landing)

Each helper returns one event dict; `Landing.add` writes them to one file per stream per UTC day.
"""

from __future__ import annotations

import atexit
import itertools
import json
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

from tests.support.dbt import METRICS, MRR, run_models
from transforms.ingestion import STREAMS, ensure_raw_tables, load_reference, load_stream
from transforms.sql_models import connect

_ids = itertools.count(1)

DEFAULT_PLANS = [
    # plan_id, plan_name, tier_rank, seat_limit, api_call_limit, list_price_monthly (USD per seat)
    ("starter", "Starter", 1, 10, 10000, "10"),
    ("growth", "Growth", 2, 50, 100000, "20"),
    ("scale", "Scale", 3, 200, 1000000, "30"),
    ("enterprise", "Enterprise", 4, 1000, "", "50"),
]
DEFAULT_FX = [("2025-01", "EUR", "1.10"), ("2025-01", "GBP", "1.25")]


def _ts(on: str) -> str:
    return on if "T" in on else f"{on}T12:00:00Z"


def _event(stream: str, event_type: str, account_id: str, on: str, **fields) -> dict:
    event = {"event_id": f"{stream[:3]}-{next(_ids)}", "event_type": event_type, "occurred_at": _ts(on),
             "account_id": account_id}
    event.update({k: v for k, v in fields.items() if v is not None})
    event["_stream"] = stream
    return event


def account(account_id, on, name=None, segment="SMB", country="US", sales_owner="ana"):
    return _event("subscription_events", "account_created", account_id, on,
                  account_name=name or f"Account {account_id}", segment=segment, country=country,
                  sales_owner=sales_owner)


def trial(account_id, on, sub=None, plan="starter"):
    return _event("subscription_events", "trial_started", account_id, on, subscription_id=sub or f"{account_id}-1",
                  plan_id=plan)


def starts(account_id, on, sub=None, plan="starter", seats=1, price="10.00", interval="month", currency="USD",
           discount=None, effective=None, discount_amount=None, interval_count=None):
    return _event("subscription_events", "subscription_started", account_id, on,
                  subscription_id=sub or f"{account_id}-1", plan_id=plan, billing_interval=interval,
                  quantity=seats, unit_price=str(price), currency=currency, discount_pct=discount,
                  discount_amount=None if discount_amount is None else str(discount_amount),
                  interval_count=interval_count, effective_at=_ts(effective) if effective else None)


def changes(account_id, on, sub=None, effective=None, **terms):
    renamed = {"plan": "plan_id", "seats": "quantity", "price": "unit_price", "interval": "billing_interval",
               "discount": "discount_pct"}  # discount_amount and interval_count keep their names
    fields = {renamed.get(k, k): (str(v) if k in ("price", "discount_amount") else v) for k, v in terms.items()}
    return _event("subscription_events", "subscription_changed", account_id, on,
                  subscription_id=sub or f"{account_id}-1", effective_at=_ts(effective) if effective else None,
                  **fields)


def cancels(account_id, on, sub=None, effective=None):
    return _event("subscription_events", "subscription_canceled", account_id, on,
                  subscription_id=sub or f"{account_id}-1", effective_at=_ts(effective) if effective else None)


def withdraws(account_id, on, sub=None):
    """The scheduled cancellation is withdrawn (Stripe's cancel_at_period_end set back to false)."""
    return _event("subscription_events", "subscription_cancel_withdrawn", account_id, on,
                  subscription_id=sub or f"{account_id}-1")


def pauses(account_id, on, sub=None):
    return _event("subscription_events", "subscription_paused", account_id, on, subscription_id=sub or f"{account_id}-1")


def resumes(account_id, on, sub=None):
    return _event("subscription_events", "subscription_resumed", account_id, on, subscription_id=sub or f"{account_id}-1")


def invoice(account_id, on, amount, sub=None, invoice_id=None, currency="USD", period=("2025-01-01", "2025-01-31")):
    return _event("billing_events", "invoice_issued", account_id, on, invoice_id=invoice_id or f"inv-{next(_ids)}",
                  subscription_id=sub or f"{account_id}-1", amount=str(amount), currency=currency,
                  period_start=period[0], period_end=period[1])


def payment(account_id, on, amount, kind="payment_succeeded", sub=None, invoice_id="inv", currency="USD"):
    return _event("billing_events", kind, account_id, on, invoice_id=invoice_id,
                  subscription_id=sub or f"{account_id}-1", amount=str(amount), currency=currency)


def usage(account_id, on, metric, quantity):
    return _event("usage_events", "usage", account_id, on, metric=metric, quantity=quantity)


class Landing:
    """A landing folder under construction (the layout of docs/input-format.md)."""

    def __init__(self, root: Path, plans=DEFAULT_PLANS, fx=DEFAULT_FX):
        self.root = Path(root)
        for stream in STREAMS:
            (self.root / stream).mkdir(parents=True, exist_ok=True)
        (self.root / "reference").mkdir(parents=True, exist_ok=True)
        self.write_plans(plans)
        self.write_fx(fx)
        self._batch = itertools.count(1)

    def write_plans(self, plans):
        lines = ["plan_id,plan_name,tier_rank,seat_limit,api_call_limit,list_price_monthly"]
        lines += [",".join(str(v) for v in p) for p in plans]
        (self.root / "reference" / "plans.csv").write_text("\n".join(lines) + "\n")

    def write_fx(self, fx):
        lines = ["month,currency,usd_per_unit"] + [",".join(r) for r in fx]
        (self.root / "reference" / "fx_rates.csv").write_text("\n".join(lines) + "\n")

    def add(self, *events: dict, suffix: str = "") -> list[Path]:
        """Write events, one file per stream and UTC day; `suffix` makes a distinct (late) file."""
        files: dict[Path, list[str]] = defaultdict(list)
        batch = next(self._batch)
        for event in events:
            event = dict(event)
            stream = event.pop("_stream")
            day = event["occurred_at"][:10]
            files[self.root / stream / f"{day}{suffix or f'-b{batch}'}.jsonl"].append(json.dumps(event))
        for path, lines in files.items():
            path.write_text("\n".join(lines) + "\n")
        return list(files)

    def add_lines(self, stream: str, name: str, lines: list[str]) -> Path:
        path = self.root / stream / name
        path.write_text("\n".join(lines) + "\n")
        return path


def build(landing: Landing | Path, warehouse: Path | str | None = None, con=None):
    """Ingest the landing folder and build the MRR models (dbt, in this process: tests/support/dbt.py),
    without Dagster. Returns the connection. Without `warehouse` or `con`, a scratch warehouse file."""
    root = landing.root if isinstance(landing, Landing) else Path(landing)
    con = con or connect(warehouse or scratch_warehouse())
    ensure_raw_tables(con)
    load_new_files(con, root)
    run_models(con, MRR)
    return con


_scratch: list[str] = []


def scratch_warehouse() -> Path:
    """A new warehouse file in a temporary folder, removed when the test process ends."""
    if not _scratch:
        atexit.register(lambda: [shutil.rmtree(folder, ignore_errors=True) for folder in _scratch])
    folder = tempfile.mkdtemp(prefix="subwh-test-")
    _scratch.append(folder)
    return Path(folder) / "warehouse.duckdb"


def load_new_files(con, root: Path) -> None:
    """Load what is new in the landing folder (both reference files, then each stream's new files), as a
    run's ingestion does."""
    load_reference(con, root)
    for stream in STREAMS:
        load_stream(con, root, stream)


def rows(con, sql: str) -> list[dict]:
    """Query results as dicts (tests compare against numbers worked out by hand)."""
    relation = con.sql(sql)
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def build_metrics(con, gross_margin: str = "1.0"):
    """Build the SaaS metrics models (docs/metrics.md) on a connection `build` returned. Returns the connection."""
    run_models(con, METRICS, gross_margin=gross_margin)
    return con


def fresh(tmp_path):
    """An empty warehouse with the default reference data, and a landing folder to add events to."""
    landing = Landing(tmp_path / "landing")
    con = connect(tmp_path / "warehouse.duckdb")
    ensure_raw_tables(con)
    load_reference(con, landing.root)
    return landing, con
