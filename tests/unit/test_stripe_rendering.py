"""`generate --format stripe`: the generator's company as Stripe Event objects (sample_data/stripe_rendering.py).

The round trip through the importer is tests/integration/test_stripe_round_trip.py; these tests hold the
rendering to Stripe's own conventions, event by event, against the native rendering of the same seed.
"""

import gzip
import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from orchestration.cli import main
from sample_data.generator import PRICE_BOOK, generate
from sample_data.stripe_rendering import STRIPE_DIR, lookup_key, minor_units

ACCOUNTS, MONTHS, SEED = 150, 18, 5


def read_lines(folder: Path) -> list[dict]:
    out = []
    for path in sorted(folder.iterdir()):
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            out.extend(json.loads(line) for line in handle)
    return out


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    root = tmp_path_factory.mktemp("stripe_rendering")
    generate(root / "native", ACCOUNTS, MONTHS, SEED, progress=False)
    summary = generate(root / "stripe", ACCOUNTS, MONTHS, SEED, format="stripe", progress=False)
    native = {stream: read_lines(root / "native" / stream) for stream in ("subscription_events", "billing_events")}
    return root, summary, read_lines(root / "stripe" / STRIPE_DIR), native


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def by_subscription(events):
    found = defaultdict(list)
    for event in events:
        obj = event["data"]["object"]
        if obj["object"] == "subscription":
            found[obj["id"]].append(event)
    return found


def test_every_line_is_a_stripe_event_in_time_order(company):
    _, summary, events, _ = company
    for event in events:
        assert set(event) == {"id", "object", "api_version", "created", "data", "livemode", "pending_webhooks",
                              "request", "type"}
        assert event["object"] == "event" and event["id"].startswith("evt_") and isinstance(event["created"], int)
        assert isinstance(event["data"]["object"], dict)
    assert len({e["id"] for e in events}) == len(events)
    assert [e["created"] for e in events] == sorted(e["created"] for e in events)
    counted = defaultdict(int)
    for event in events:
        counted[event["type"]] += 1
    assert dict(counted) == summary["stripe_events"]
    assert {"customer.created", "customer.subscription.created", "customer.subscription.updated",
            "customer.subscription.deleted", "customer.discount.created", "invoice.finalized", "invoice.paid",
            "invoice_payment.paid", "invoice.payment_failed", "charge.refunded", "coupon.created"} <= set(counted)


def test_same_seed_same_files_and_the_native_usage_and_rates(company, tmp_path):
    root, _, _, _ = company
    generate(tmp_path / "again", ACCOUNTS, MONTHS, SEED, format="stripe", progress=False)
    for folder in (STRIPE_DIR, "usage_events", "reference"):
        names = sorted(p.name for p in (root / "stripe" / folder).iterdir())
        assert names == sorted(p.name for p in (tmp_path / "again" / folder).iterdir())
        for name in names:
            assert (root / "stripe" / folder / name).read_bytes() == (tmp_path / "again" / folder / name).read_bytes()
    # usage and FX rates are the native ones: Stripe holds neither
    for name in sorted(p.name for p in (root / "native" / "usage_events").iterdir()):
        assert (root / "stripe" / "usage_events" / name).read_bytes() == \
            (root / "native" / "usage_events" / name).read_bytes()
    assert (root / "stripe/reference/fx_rates.csv").read_bytes() == (root / "native/reference/fx_rates.csv").read_bytes()
    assert not (root / "stripe" / "subscription_events").exists()


def test_prices_in_minor_units_with_stripe_intervals(company):
    _, _, events, native = company
    prices = {}
    for subscriptions in by_subscription(events).values():
        for event in subscriptions:
            price = event["data"]["object"]["items"]["data"][0]["price"]
            prices[price["lookup_key"]] = price
    # growth in EUR: 32.00 a seat a month; a quarter is month x 3 at 96.00 = 9600 cents
    quarterly = prices[lookup_key("growth", "EUR", 3)]
    assert quarterly["recurring"]["interval"] == "month" and quarterly["recurring"]["interval_count"] == 3
    assert quarterly["unit_amount"] == 9600 == PRICE_BOOK[1][1] * 3 and quarterly["unit_amount_decimal"] == "9600"
    yearly = [p for key, p in prices.items() if key.endswith("_yearly")]
    assert yearly and all(p["recurring"] == {"interval": "year", "interval_count": 1, "meter": None,
                                             "usage_type": "licensed"} for p in yearly)
    # each native start is the Stripe subscription at that instant: the same seats, plan and price
    histories = by_subscription(events)
    starts = [e for e in native["subscription_events"] if e["event_type"] == "subscription_started"]
    assert starts
    for start in starts:
        at = [e for e in histories[start["subscription_id"]] if e["created"] == epoch(start["occurred_at"])]
        item = at[-1]["data"]["object"]["items"]["data"][0]
        assert item["quantity"] == start["quantity"]
        assert item["price"]["unit_amount"] == round(float(start["unit_price"]) * 100)
        assert item["price"]["lookup_key"].split("_")[0] == start["plan_id"]
    assert minor_units(4900, "JPY") == 49 and minor_units(4900, "KWD") == 49000 and minor_units(4900, "eur") == 4900


def test_invoices_carry_the_native_amounts_and_their_subscription(company):
    _, _, events, native = company
    issued = {e["invoice_id"].replace("inv_", "in_"): e for e in native["billing_events"]
              if e["event_type"] == "invoice_issued"}
    finalized = [e["data"]["object"] for e in events if e["type"] == "invoice.finalized"]
    assert len(finalized) == len(issued)
    for invoice in finalized:
        expected = issued[invoice["id"]]
        assert invoice["total"] == round(float(expected["amount"]) * 100)
        assert invoice["parent"]["subscription_details"]["subscription"] == expected["subscription_id"]
        line = invoice["lines"]["data"][0]
        assert line["parent"]["subscription_item_details"]["subscription"] == expected["subscription_id"]
        # the line's period ends at the exclusive instant after the native period's last day
        assert line["period"]["end"] - line["period"]["start"] >= 28 * 86400


def test_scheduled_cancellation_is_cancel_at_period_end_then_deleted_when_due(company):
    _, _, events, native = company
    scheduled = [e for e in native["subscription_events"]
                 if e["event_type"] == "subscription_canceled" and "effective_at" in e]
    assert scheduled
    histories = by_subscription(events)
    ended_at_period_end = 0
    for cancel in scheduled:
        history = histories[cancel["subscription_id"]]
        flagged = [e for e in history if e["data"]["object"]["cancel_at_period_end"]]
        first = flagged[0]
        assert first["data"]["previous_attributes"]["cancel_at_period_end"] is False
        cancel_at = first["data"]["object"]["cancel_at"]
        deleted = [e for e in history if e["type"] == "customer.subscription.deleted"]
        if deleted:  # due within the simulated months: Stripe ends it then
            assert deleted[0]["created"] == cancel_at == deleted[0]["data"]["object"]["ended_at"]
            ended_at_period_end += 1
    assert ended_at_period_end


def test_scheduled_changes_are_sent_when_they_take_effect(company):
    _, _, events, native = company
    histories = by_subscription(events)
    last = events[-1]["created"]
    later = [e for e in native["subscription_events"] if e["event_type"] == "subscription_changed"
             and "effective_at" in e and "quantity" in e and epoch(e["effective_at"]) <= last]
    assert later
    for change in later:
        history = histories[change["subscription_id"]]
        sent = [e for e in history if e["created"] == epoch(change["effective_at"])]
        assert sent[0]["type"] == "customer.subscription.updated"
        assert sent[0]["data"]["object"]["items"]["data"][0]["quantity"] == change["quantity"]
        assert sent[0]["data"]["previous_attributes"]["items"]["data"][0]["quantity"] != change["quantity"]
        # nothing was sent when the customer asked for it
        assert not [e for e in history if e["created"] == epoch(change["occurred_at"])]


def test_pauses_set_and_clear_pause_collection(company):
    _, _, events, native = company
    paused = {e["subscription_id"] for e in native["subscription_events"] if e["event_type"] == "subscription_paused"}
    resumed = {e["subscription_id"] for e in native["subscription_events"] if e["event_type"] == "subscription_resumed"}
    assert paused and resumed
    histories = by_subscription(events)
    for sub_id in paused:
        sets = [e for e in histories[sub_id] if "pause_collection" in e["data"].get("previous_attributes", {})
                and e["data"]["object"]["pause_collection"] is not None]
        assert sets[0]["data"]["object"]["pause_collection"] == {"behavior": "void", "resumes_at": None}
        assert sets[0]["data"]["previous_attributes"]["pause_collection"] is None
        assert sets[0]["data"]["object"]["status"] == "active"  # Stripe keeps the status
    for sub_id in resumed:
        clears = [e for e in histories[sub_id] if e["data"].get("previous_attributes", {}).get("pause_collection")]
        assert clears and clears[0]["data"]["object"]["pause_collection"] is None


def test_discount_ids_are_sent_before_they_are_used(company):
    _, _, events, _ = company
    known, coupons = set(), set()
    used = 0
    for event in events:
        obj = event["data"]["object"]
        if event["type"] == "coupon.created":
            coupons.add(obj["id"])
        elif event["type"] == "customer.discount.created":
            assert obj["coupon"]["id"] in coupons and obj["coupon"]["percent_off"] > 0
            known.add(obj["id"])
        elif obj["object"] == "subscription":
            for discount in obj["discounts"]:
                assert discount in known
                used += 1
    assert used


def test_a_failed_payment_makes_the_subscription_past_due_until_paid(company):
    _, _, events, _ = company
    statuses = defaultdict(list)
    for event in events:
        obj = event["data"]["object"]
        if obj["object"] == "subscription" and "status" in event["data"].get("previous_attributes", {}):
            statuses[obj["id"]].append((event["data"]["previous_attributes"]["status"], obj["status"]))
    assert any(("active", "past_due") in changes for changes in statuses.values())
    assert any(("past_due", "active") in changes for changes in statuses.values())


def test_command_line_writes_the_stripe_rendering(tmp_path, capsys):
    out = tmp_path / "stripe"
    assert main(["generate", "--accounts", "5", "--months", "2", "--seed", "3", "--out", str(out), "--no-progress",
                 "--format", "stripe"]) == 0
    assert "stripe_events" in capsys.readouterr().out
    assert (out / STRIPE_DIR).is_dir() and (out / "reference" / "plans.csv").is_file()
    assert json.loads((out / ".subwh-generator.json").read_text())["arguments"]["format"] == "stripe"
    # a native run into the same folder replaces it cleanly
    assert main(["generate", "--accounts", "5", "--months", "2", "--seed", "3", "--out", str(out),
                 "--no-progress"]) == 0
    assert not (out / STRIPE_DIR).exists() and (out / "subscription_events").is_dir()
