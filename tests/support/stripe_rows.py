"""What the Stripe importer landed, read back for tests, and the §1 rows the tests expect."""

from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stripe"


def landed(landing: Path) -> dict[str, dict]:
    """Every landing row in the landing folder's streams, by event_id (an id twice would fail the test)."""
    out: dict[str, dict] = {}
    for path in sorted(landing.glob("*_events/*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            assert row["event_id"] not in out, f"{row['event_id']} landed twice"
            out[row["event_id"]] = row
    return out


def sub_row(event_id, event_type, at, account, sub, **fields):
    return {"event_id": event_id, "event_type": event_type, "occurred_at": at, "account_id": account,
            "subscription_id": sub, **fields}
