"""Benchmark `subwh import stripe`: a million synthetic Stripe events (a .jsonl.gz export) imported once.

    .venv/bin/python benchmarks/benchmark.py --stripe-import 1000000 [--no-record]

A simple synthetic writer (not the generator's Stripe rendering): customers each with a subscription
(one item, or two for every tenth customer, with a fixed coupon on every fifth), a 14-day trial for every
fifth, monthly invoices (finalized, paid, payment_succeeded), a charge.succeeded per invoice (a type the
importer skips), a seat change every fourth month, a failed payment for every twentieth invoice, a refund
for every fiftieth, and cancellations at period end (some withdrawn) and deletions near the end. Events
are written oldest first, like an event export. The file is cached in benchmarks/.cache/.

The import runs in a child process (`import_stripe_log`, what `subwh import stripe` calls) into a fresh
landing folder; the parent reports wall time, events/s and the child's peak RSS.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DAY = 86400
START = 1704067200  # 2024-01-01
MONTHS = 12


def _price(price_id: str, amount: int) -> dict:
    return {"id": price_id, "object": "price", "active": True, "billing_scheme": "per_unit", "created": START - 90 * DAY,
            "currency": "usd", "livemode": False, "lookup_key": price_id.removeprefix("price_"), "metadata": {},
            "nickname": None, "product": "prod_" + price_id[6:], "recurring": {"interval": "month", "interval_count": 1,
            "usage_type": "licensed"}, "type": "recurring", "unit_amount": amount, "unit_amount_decimal": str(amount)}


PRICES = [_price("price_starter", 1000), _price("price_growth", 2500), _price("price_scale", 6000)]
ADDON = _price("price_addon", 500)


def _subscription(n: int, created: int, status: str, quantity: int, period_start: int, **extra) -> dict:
    items = [{"id": f"si_{n}a", "object": "subscription_item", "created": created, "current_period_start": period_start,
              "current_period_end": period_start + 30 * DAY, "metadata": {}, "price": PRICES[n % 3],
              "quantity": quantity, "subscription": f"sub_{n}", "tax_rates": []}]
    if n % 10 == 0:
        items.append({**items[0], "id": f"si_{n}b", "price": ADDON, "quantity": 1})
    discounts = []
    if n % 5 == 0:
        discounts = [{"id": f"di_{n}", "object": "discount", "end": None, "start": created, "subscription": f"sub_{n}",
                      "source": {"type": "coupon", "coupon": {"id": "FIVE", "object": "coupon", "amount_off": 500,
                                 "currency": "usd", "duration": "forever", "percent_off": None}}}]
    body = {"id": f"sub_{n}", "object": "subscription", "billing_cycle_anchor": created, "cancel_at": None,
            "cancel_at_period_end": False, "canceled_at": None, "collection_method": "charge_automatically",
            "created": created, "currency": "usd", "customer": f"cus_{n}", "discounts": discounts, "ended_at": None,
            "items": {"object": "list", "data": items, "has_more": False, "total_count": len(items)},
            "livemode": False, "metadata": {}, "pause_collection": None, "start_date": created, "status": status,
            "trial_end": None, "trial_start": None}
    body.update(extra)
    return body


def _invoice(n: int, month: int, at: int, total: int, paid: bool) -> dict:
    return {"id": f"in_{n}_{month}", "object": "invoice", "amount_due": total, "amount_paid": total if paid else 0,
            "amount_remaining": 0 if paid else total, "billing_reason": "subscription_cycle", "created": at,
            "currency": "usd", "customer": f"cus_{n}", "lines": {"object": "list", "data": [
                {"id": f"il_{n}_{month}", "object": "line_item", "amount": total, "currency": "usd",
                 "parent": {"type": "subscription_item_details", "subscription_item_details": {
                     "subscription": f"sub_{n}", "subscription_item": f"si_{n}a", "proration": False}},
                 "period": {"start": at, "end": at + 30 * DAY}, "quantity": 1}], "has_more": False, "total_count": 1},
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": f"sub_{n}"}},
            "payments": {"object": "list", "data": [{"object": "invoice_payment", "payment": {
                "type": "payment_intent", "payment_intent": f"pi_{n}_{month}"}}]} if paid else None,
            "period_end": at, "period_start": at, "status": "paid" if paid else "open",
            "status_transitions": {"finalized_at": at, "paid_at": at + 60 if paid else None},
            "subtotal": total, "total": total}


def write_events(path: Path, target: int) -> int:
    """Write about `target` events, oldest first; returns the number written."""
    customers = max(1, target // 50)
    written = 0
    tmp = path.with_name(path.name + ".part")

    def emit(handle, event_id: str, event_type: str, at: int, obj: dict, previous: dict | None = None) -> None:
        nonlocal written
        data = {"object": obj} if previous is None else {"object": obj, "previous_attributes": previous}
        handle.write(json.dumps({"id": event_id, "object": "event", "api_version": "2025-09-30.clover", "created": at,
                                 "data": data, "livemode": False, "pending_webhooks": 0,
                                 "request": {"id": None, "idempotency_key": None}, "type": event_type}) + "\n")
        written += 1

    with gzip.open(tmp, "wt", compresslevel=1) as handle:
        for month in range(MONTHS):
            for n in range(customers):
                if written >= target:
                    break
                at = START + month * 30 * DAY + n * 7 % (20 * DAY)
                quantity = 1 + n % 7 + month // 4
                if month == 0:
                    emit(handle, f"evt_c{n}", "customer.created", at, {
                        "id": f"cus_{n}", "object": "customer", "address": {"country": ["US", "DE", "GB", "FR"][n % 4]},
                        "created": at, "email": f"billing{n}@example.test", "metadata": {"segment": "SMB"},
                        "name": f"Customer {n}"})
                    trial = n % 5 == 1
                    extra = {"trial_start": at, "trial_end": at + 14 * DAY} if trial else {}
                    emit(handle, f"evt_s{n}", "customer.subscription.created", at + 1,
                         _subscription(n, at, "trialing" if trial else "active", quantity, at, **extra))
                    if trial:
                        emit(handle, f"evt_t{n}", "customer.subscription.updated", at + 14 * DAY,
                             _subscription(n, at, "active", quantity, at + 14 * DAY, **extra), {"status": "trialing"})
                elif month % 4 == 0:
                    emit(handle, f"evt_u{n}_{month}", "customer.subscription.updated", at,
                         _subscription(n, START, "active", quantity, at), {"items": {}})
                total = PRICES[n % 3]["unit_amount"] * quantity
                failed = (n + month) % 20 == 0
                invoice = _invoice(n, month, at + 2, total, not failed)
                emit(handle, f"evt_if{n}_{month}", "invoice.finalized", at + 2, invoice)
                if failed:
                    emit(handle, f"evt_ix{n}_{month}", "invoice.payment_failed", at + 3, invoice)
                    continue
                emit(handle, f"evt_ip{n}_{month}", "invoice.paid", at + 62, invoice)
                emit(handle, f"evt_is{n}_{month}", "invoice.payment_succeeded", at + 62, invoice)
                emit(handle, f"evt_ch{n}_{month}", "charge.succeeded", at + 62, {
                    "id": f"ch_{n}_{month}", "object": "charge", "amount": total, "currency": "usd",
                    "customer": f"cus_{n}", "payment_intent": f"pi_{n}_{month}", "status": "succeeded"})
                if (n + month) % 50 == 0:
                    emit(handle, f"evt_r{n}_{month}", "charge.refunded", at + 5 * DAY, {
                        "id": f"ch_{n}_{month}", "object": "charge", "amount": total, "amount_refunded": total // 2,
                        "currency": "usd", "customer": f"cus_{n}", "payment_intent": f"pi_{n}_{month}"},
                        {"amount_refunded": 0})
                if month == MONTHS - 3 and n % 10 == 3:
                    emit(handle, f"evt_x{n}", "customer.subscription.updated", at + 3 * DAY, _subscription(
                        n, START, "active", quantity, at, cancel_at_period_end=True, canceled_at=at + 3 * DAY),
                        {"cancel_at_period_end": False})
                if month == MONTHS - 2 and n % 20 == 3:
                    emit(handle, f"evt_w{n}", "customer.subscription.updated", at + DAY,
                         _subscription(n, START, "active", quantity, at), {"cancel_at_period_end": True})
                if month == MONTHS - 1 and n % 20 == 13:
                    emit(handle, f"evt_d{n}", "customer.subscription.deleted", at + DAY, _subscription(
                        n, START, "canceled", quantity, at, ended_at=at + DAY, canceled_at=at + DAY))
    os.replace(tmp, path)
    return written


def child(input_path: str, landing: str, result: str) -> None:
    sys.path.insert(0, str(REPO))
    from transforms.stripe import import_stripe_log

    started = time.perf_counter()
    report = import_stripe_log(Path(input_path), Path(landing))
    seconds = time.perf_counter() - started
    Path(result).write_text(json.dumps({
        "seconds": seconds, "events_read": sum(report.events_read.values()), "rows": dict(report.rows_written),
        "skipped": dict(report.types_skipped), "duplicates": report.duplicates, "rejected": report.lines_rejected,
        "customers": report.customers_seen, "subscriptions": report.subscriptions_seen}))


def run(events: int, cache: Path) -> dict:
    """Generate (cached) and import `events` synthetic Stripe events; the figures of one run."""
    import shutil

    cache.mkdir(parents=True, exist_ok=True)
    source = cache / f"stripe-events-{events}.jsonl.gz"
    generated = None
    if not source.exists():
        started = time.perf_counter()
        written = write_events(source, events)
        generated = (written, time.perf_counter() - started)
        print(f"wrote {written:,} Stripe events to {source} in {generated[1]:.1f} s", flush=True)
    landing = cache / "stripe-import-run"
    shutil.rmtree(landing, ignore_errors=True)
    result = cache / "stripe-import-result.json"
    result.unlink(missing_ok=True)
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "_child", str(source), str(landing),
                             str(result)], cwd=REPO)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0 or not result.exists():
        raise SystemExit("the Stripe import child failed")
    outcome = json.loads(result.read_text())
    landed_mb = sum(p.stat().st_size for p in landing.rglob("*.jsonl")) / 1e6
    shutil.rmtree(landing, ignore_errors=True)
    return {**outcome, "events": events, "wall": wall, "peak_rss_mb": usage.ru_maxrss // 1024,
            "cpu": usage.ru_utime + usage.ru_stime,
            "input_mb": source.stat().st_size / 1e6, "landed_mb": landed_mb, "load_before": load_before,
            "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def record(figures: dict, commit: str, machine: str) -> str:
    rows = figures["rows"]
    return "\n".join([
        f"## Stripe import: {figures['events_read']:,} events ({datetime_now()})",
        "",
        f"Machine: {machine}; commit {commit}; load average {figures['load_before']} before, "
        f"{figures['load_after']} after. Command: `.venv/bin/python benchmarks/benchmark.py --stripe-import "
        f"{figures['events']}`.",
        "",
        "| events read | import (s, in the child) | wall (s, with interpreter start) | CPU (s, user + sys) | events/s "
        "| peak RSS (MB) | input .jsonl.gz (MB) | §1 rows written | landed (MB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {figures['events_read']:,} | {figures['seconds']:.1f} | {figures['wall']:.1f} | {figures['cpu']:.1f} | "
        f"{figures['events_read'] / figures['seconds']:,.0f} | {figures['peak_rss_mb']:,} | {figures['input_mb']:.0f} | "
        f"{sum(rows.values()):,} | {figures['landed_mb']:.0f} |",
        "",
        f"Rows by stream: {', '.join(f'{k} {v:,}' for k, v in sorted(rows.items()))}; skipped types: "
        f"{', '.join(f'{k} {v:,}' for k, v in figures['skipped'].items())}; events already imported: "
        f"{figures['duplicates']:,}; customers {figures['customers']:,}, "
        f"subscriptions {figures['subscriptions']:,}.",
        "",
    ])


def datetime_now() -> str:
    from datetime import UTC, datetime

    return f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "_child":
        child(*sys.argv[2:])
