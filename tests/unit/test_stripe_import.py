"""The Stripe importer (docs/stripe.md): fixtures in both API shapes map to the §1 rows worked out by hand, and
the importer is idempotent, streams bad lines to DIR/rejected/, and lands files atomically.

The fixtures in tests/fixtures/stripe/ are written for these tests in Stripe's documented shapes:
`v2020-08-27.jsonl` (subscription current_period_*, one `discount`, `invoice.subscription`, `charge.invoice`),
`current-api.jsonl` (periods on items, a `discounts` array with `source.coupon`, invoice
`parent.subscription_details`, invoice payments) and `events-page.json` (an Events API list page, newest first).
"""

from __future__ import annotations

import gzip
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.stripe_rows import FIXTURES, landed, sub_row
from tests.unit.test_stripe_clover import CLOVER_ROWS
from transforms.stripe import StripeImportError, import_stripe_log
from transforms.stripe.currency import to_major
from transforms.stripe.mapping import Mapper, spread
from transforms.stripe.state import State


def bill_row(event_id, event_type, at, account, invoice, sub, amount, currency, **fields):
    return {"event_id": event_id, "event_type": event_type, "occurred_at": at, "account_id": account,
            "invoice_id": invoice, "subscription_id": sub, "currency": currency, "amount": amount, **fields}


# Worked out by hand from v2020-08-27.jsonl.
V2020_ROWS = [
    {"event_id": "evt_1001", "event_type": "account_created", "occurred_at": "2025-01-02T09:00:00Z",
     "account_id": "cus_A", "account_name": "Acme Ltd", "segment": "SMB", "country": "US", "sales_owner": "ana"},
    # no name: the email; no segment metadata: 'unknown'; no sales_owner: left out
    {"event_id": "evt_1002", "event_type": "account_created", "occurred_at": "2025-01-03T10:00:00Z",
     "account_id": "cus_B", "account_name": "billing@berlin.test", "segment": "unknown", "country": "DE"},
    # trialing -> trial_started; plan_id is the price's lookup_key
    sub_row("evt_1003", "trial_started", "2025-01-05T12:00:00Z", "cus_A", "sub_A", plan_id="starter"),
    # trialing -> active: started, 1000 cents = 10.00 USD per seat, 5 seats
    sub_row("evt_1004", "subscription_started", "2025-01-19T12:00:00Z", "cus_A", "sub_A", plan_id="starter",
            billing_interval="month", quantity=5, unit_price="10.00", currency="USD"),
    # 20% for 3 months: a change now, and the discount's end (2025-05-01 08:00) a change at that instant
    sub_row("evt_1008:change", "subscription_changed", "2025-02-01T08:00:00Z", "cus_A", "sub_A", discount_pct="20"),
    sub_row("evt_1008:discount_end", "subscription_changed", "2025-02-01T08:00:00Z", "cus_A", "sub_A",
            effective_at="2025-05-01T08:00:00Z", discount_pct="0"),
    # 8 seats and cancel_at_period_end (period ends 2025-03-19 12:00) in one update
    sub_row("evt_1009:change", "subscription_changed", "2025-03-10T09:00:00Z", "cus_A", "sub_A", quantity=8),
    sub_row("evt_1009:schedule_cancel", "subscription_canceled", "2025-03-10T09:00:00Z", "cus_A", "sub_A",
            effective_at="2025-03-19T12:00:00Z"),
    # cancel_at_period_end set back to false
    sub_row("evt_1010", "subscription_cancel_withdrawn", "2025-03-15T09:00:00Z", "cus_A", "sub_A"),
    # JPY is zero-decimal: 60000 is 60000 yen; month x 6 is a half-year plan; no lookup_key: the price id
    sub_row("evt_1012", "subscription_started", "2025-01-10T00:00:00Z", "cus_B", "sub_B", plan_id="price_1Half",
            billing_interval="month", interval_count=6, quantity=1, unit_price="60000", currency="JPY"),
    # (evt_1013, active -> past_due: no row) customer.subscription.deleted: canceled at ended_at
    sub_row("evt_1015", "subscription_canceled", "2025-07-20T00:00:00Z", "cus_B", "sub_B"),
    # the invoice's own period_start/end is the trial (the period before); the line's period is billed.
    # Period end 2025-02-19 12:00 is exclusive: the last day is 2025-02-19.
    bill_row("in_A1:invoice_issued", "invoice_issued", "2025-01-19T13:00:00Z", "cus_A", "in_A1", "sub_A", "50.00",
             "USD", period_start="2025-01-19", period_end="2025-02-19"),
    # invoice.payment_succeeded and invoice.paid for the same invoice: one payment, at paid_at
    bill_row("in_A1:payment_succeeded", "payment_succeeded", "2025-01-19T14:00:00Z", "cus_A", "in_A1", "sub_A",
             "50.00", "USD"),
    # charge.invoice (2020 shape); 1000 refunded of 5000
    bill_row("ch_A1:refunded:1000", "refund_issued", "2025-02-02T10:00:00Z", "cus_A", "in_A1", "sub_A", "10.00", "USD"),
    bill_row("evt_1014", "payment_failed", "2025-07-10T01:00:00Z", "cus_B", "in_B2", "sub_B", "60000", "JPY"),
]

# Worked out by hand from current-api.jsonl.
CURRENT_ROWS = [
    {"event_id": "evt_2001", "event_type": "account_created", "occurred_at": "2025-01-02T09:00:00Z",
     "account_id": "cus_C", "account_name": "Cobalt GmbH", "segment": "Mid-Market", "country": "DE", "sales_owner": "bo"},
    {"event_id": "evt_2002", "event_type": "account_created", "occurred_at": "2025-01-02T09:30:00Z",
     "account_id": "cus_D", "account_name": "Dunes Trading", "segment": "Enterprise", "country": "KW"},
    # Two items: one §1 subscription each. The 10.00 USD coupon spreads over charges 3 x 20.00 = 60.00 and
    # 1 x 10.00 = 10.00: 1000 x 6000/7000 = 857.14 cents, 1000 x 1000/7000 = 142.86 cents; floors 857 + 142,
    # the cent left goes to the larger remainder (.86): 857 + 143 = 1000.
    sub_row("evt_2004:si_C1", "subscription_started", "2025-01-06T00:00:00Z", "cus_C", "si_C1", plan_id="growth",
            billing_interval="month", quantity=3, unit_price="20.00", currency="USD", discount_amount="8.57"),
    sub_row("evt_2004:si_C2", "subscription_started", "2025-01-06T00:00:00Z", "cus_C", "si_C2",
            plan_id="price_support", billing_interval="month", quantity=1, unit_price="10.00", currency="USD",
            discount_amount="1.43"),
    # KWD is three-decimal: 120500 = 120.500 KWD; the 10% discount is referred to by id (di_D, from the
    # customer.discount.created event before it)
    sub_row("evt_2005", "subscription_started", "2025-01-06T00:00:00Z", "cus_D", "sub_D", plan_id="scale-kwd-yearly",
            billing_interval="year", quantity=2, unit_price="120.500", currency="KWD", discount_pct="10"),
    # pause_collection set, then cleared
    sub_row("evt_2010", "subscription_paused", "2025-02-10T00:00:00Z", "cus_D", "sub_D"),
    sub_row("evt_2011", "subscription_resumed", "2025-03-10T00:00:00Z", "cus_D", "sub_D"),
    # cancel_at set: each item's subscription is canceled at that instant
    sub_row("evt_2012:si_C1", "subscription_canceled", "2025-04-01T00:00:00Z", "cus_C", "si_C1",
            effective_at="2025-06-30T00:00:00Z"),
    sub_row("evt_2012:si_C2", "subscription_canceled", "2025-04-01T00:00:00Z", "cus_C", "si_C2",
            effective_at="2025-06-30T00:00:00Z"),
    # 2 x 120.500 x 0.9 = 216.900 KWD; a year from 2025-01-06 (end exclusive: last day 2026-01-05)
    bill_row("in_D1:invoice_issued", "invoice_issued", "2025-01-06T00:30:00Z", "cus_D", "in_D1", "sub_D", "216.900",
             "KWD", period_start="2025-01-06", period_end="2026-01-05"),
    # subscription under parent.subscription_details; a multi-item invoice goes to its first line's item
    bill_row("in_C1:invoice_issued", "invoice_issued", "2025-01-06T01:00:00Z", "cus_C", "in_C1", "si_C1", "60.00",
             "USD", period_start="2025-01-06", period_end="2025-02-05"),
    bill_row("in_C1:payment_succeeded", "payment_succeeded", "2025-01-06T01:05:00Z", "cus_C", "in_C1", "si_C1",
             "60.00", "USD"),
    # the charge has no `invoice` (current API): found through invoice_payment.paid's payment intent pi_C1
    bill_row("ch_C1:refunded:2500", "refund_issued", "2025-01-20T10:00:00Z", "cus_C", "in_C1", "si_C1", "25.00", "USD"),
]

# Worked out by hand from events-page.json: two updates in the same second, listed newest first (the newer
# one moves to the Growth price, the older one to 2 seats): read oldest first, the seats change and then
# the plan (read newest first, evt_3004 would change both and evt_3003 change the plan back).
PAGE_ROWS = [
    {"event_id": "evt_3001", "event_type": "account_created", "occurred_at": "2025-02-01T00:00:00Z",
     "account_id": "cus_E", "account_name": "Elm & Co", "segment": "SMB", "country": "GB"},
    sub_row("evt_3002", "subscription_started", "2025-02-01T00:00:00Z", "cus_E", "sub_E", plan_id="starter-gbp",
            billing_interval="month", quantity=1, unit_price="9.00", currency="GBP"),
    sub_row("evt_3003", "subscription_changed", "2025-02-03T00:00:00Z", "cus_E", "sub_E", quantity=2),
    sub_row("evt_3004", "subscription_changed", "2025-02-03T00:00:00Z", "cus_E", "sub_E", plan_id="growth-gbp",
            unit_price="19.00"),
]


def by_id(rows: list[dict]) -> dict[str, dict]:
    return {r["event_id"]: r for r in rows}


@pytest.mark.parametrize(("fixture", "expected"), [
    ("v2020-08-27.jsonl", V2020_ROWS), ("current-api.jsonl", CURRENT_ROWS), ("events-page.json", PAGE_ROWS),
])
def test_fixture_maps_to_the_rows_worked_out_by_hand(tmp_path, fixture, expected):
    report = import_stripe_log(FIXTURES / fixture, tmp_path / "landing")
    assert landed(tmp_path / "landing") == by_id(expected)
    assert report.lines_rejected == 0


def test_report_counts_what_it_read_and_wrote(tmp_path):
    report = import_stripe_log(FIXTURES / "v2020-08-27.jsonl", tmp_path / "landing")
    assert report.events_read["customer.subscription.updated"] == 5
    assert report.types_skipped == {"payment_intent.succeeded": 1}  # unknown types: counted, skipped
    assert report.rows_written == {"subscription_events": 11, "billing_events": 4}
    assert (report.customers_seen, report.subscriptions_seen) == (2, 2)
    assert report.duplicates == 0


def test_plans_are_appended_and_existing_rows_kept(tmp_path):
    landing = tmp_path / "landing"
    (landing / "reference").mkdir(parents=True)
    existing = "plan_id,plan_name,tier_rank,seat_limit,api_call_limit,list_price_monthly\nstarter,Starter,1,10,10000,9\n"
    (landing / "reference" / "plans.csv").write_text(existing)
    (landing / "reference" / "fx_rates.csv").write_text("month,currency,usd_per_unit\n2025-01,JPY,0.0065\n")
    report = import_stripe_log(FIXTURES / "v2020-08-27.jsonl", landing)
    text = (landing / "reference" / "plans.csv").read_text()
    assert text.startswith(existing)  # starter kept as it was (9, not Stripe's 10)
    # price_1Half: 60000 JPY per 6 months = 10000 JPY a month x 0.0065 = 65 USD; tier after the highest (1)
    assert text[len(existing):] == "price_1Half,Half-year (JPY),2,,,65\n"
    assert report.plans_added == ["price_1Half"]


def test_the_same_input_twice_writes_nothing_new(tmp_path):
    landing = tmp_path / "landing"
    import_stripe_log(FIXTURES, landing)
    before = sorted(p.relative_to(landing) for p in landing.rglob("*") if p.is_file() and ".stripe" not in p.parts)
    plans = (landing / "reference" / "plans.csv").read_text()
    again = import_stripe_log(FIXTURES, landing)
    after = sorted(p.relative_to(landing) for p in landing.rglob("*") if p.is_file() and ".stripe" not in p.parts)
    assert after == before
    assert sum(again.rows_written.values()) == 0 and again.files_written == []
    assert again.duplicates == 43  # every mapped event read (44 less the skipped type) was imported before
    assert (landing / "reference" / "plans.csv").read_text() == plans


def test_an_event_in_two_files_or_two_imports_is_one_event(tmp_path):
    lines = (FIXTURES / "v2020-08-27.jsonl").read_text().splitlines()
    first, second = tmp_path / "in" / "a.jsonl", tmp_path / "in" / "b.jsonl"
    first.parent.mkdir()
    first.write_text("\n".join(lines[:10]) + "\n")
    second.write_text("\n".join(lines[6:]) + "\n")  # lines 7-10 in both files
    import_stripe_log(first.parent, tmp_path / "one")
    assert landed(tmp_path / "one") == by_id(V2020_ROWS)
    # the same two files in two imports: the overlap is imported once
    import_stripe_log(first, tmp_path / "two")
    report = import_stripe_log(second, tmp_path / "two")
    assert report.duplicates == 4
    assert landed(tmp_path / "two") == by_id(V2020_ROWS)


def test_gzip_lines_give_the_same_rows(tmp_path):
    packed = tmp_path / "events.jsonl.gz"
    packed.write_bytes(gzip.compress((FIXTURES / "current-api.jsonl").read_bytes()))
    import_stripe_log(packed, tmp_path / "landing")
    assert landed(tmp_path / "landing") == by_id(CURRENT_ROWS)


def test_a_truncated_gzip_keeps_what_was_read_and_the_next_files(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    packed = gzip.compress((FIXTURES / "v2020-08-27.jsonl").read_bytes())
    (folder / "a-broken.jsonl.gz").write_bytes(packed[: len(packed) // 2])
    (folder / "b-page.json.gz").write_bytes(gzip.compress((FIXTURES / "events-page.json").read_bytes()))
    report = import_stripe_log(folder, tmp_path / "landing")
    (rejected,) = [json.loads(x) for x in Path(report.rejected_file).read_text().splitlines()]
    assert rejected["file"] == "a-broken.jsonl.gz" and rejected["reason"].startswith("file unreadable from here on")
    rows = landed(tmp_path / "landing")
    assert {k: v for k, v in rows.items() if k.startswith("evt_3")} == by_id(PAGE_ROWS)  # the next file: all of it
    assert "evt_1001" in rows  # the broken file's first lines


def test_bad_lines_go_to_rejected_with_file_line_and_reason(tmp_path):
    good = (FIXTURES / "v2020-08-27.jsonl").read_text().splitlines()
    nan = good[0].replace('"balance": 0', '"balance": NaN')
    infinity = good[0].replace('"balance": 0', '"balance": -Infinity')
    trailing = good[1][:-1] + ",}"
    lines = [good[0], "not json at all", nan, infinity, trailing, '{"id": "sub_1", "object": "subscription"}',
             "[1, 2]", "", *good[1:]]
    source = tmp_path / "in" / "log.jsonl"
    source.parent.mkdir()
    source.write_bytes("\n".join(lines).encode() + b"\n" + b'{"id": "evt_\xff"}\n')
    landing = tmp_path / "landing"
    report = import_stripe_log(source.parent, landing)
    rejected = [json.loads(x) for x in Path(report.rejected_file).read_text().splitlines()]
    assert [(r["file"], r["line"], r["reason"].split(":")[0]) for r in rejected] == [
        ("log.jsonl", "2", "not JSON"), ("log.jsonl", "3", "not JSON"), ("log.jsonl", "4", "not JSON"),
        ("log.jsonl", "5", "not JSON"), ("log.jsonl", "6", "not a Stripe Event"),
        ("log.jsonl", "7 item 1", "not a Stripe Event"), ("log.jsonl", "7 item 2", "not a Stripe Event"),
        ("log.jsonl", str(len(lines) + 1), "not UTF-8 text")]
    assert "column 269" in rejected[1]["reason"]  # where NaN stands in the line
    assert rejected[4]["reason"] == "not a Stripe Event: object is 'subscription', not 'event'"
    assert rejected[1]["raw"] == nan and rejected[2]["raw"] == infinity
    assert Path(report.rejected_file).parent == landing / "rejected"
    assert report.rejected == {"not JSON": 4, "not a Stripe Event": 3, "not UTF-8 text": 1}
    # imported again: counted, not listed again (nothing new is written)
    again = import_stripe_log(source.parent, landing)
    assert (again.lines_rejected, again.rejected_before, again.rejected_file) == (8, 8, None)
    assert len(list((landing / "rejected").iterdir())) == 1
    # everything else is imported (the NaN line was cus_A's creation, which also stands at line 1)
    assert landed(landing) == by_id(V2020_ROWS)


def test_an_event_with_an_impossible_field_is_rejected_and_the_rest_imported(tmp_path):
    lines = (FIXTURES / "v2020-08-27.jsonl").read_text().splitlines()
    broken = json.loads(lines[11])  # evt_1012, sub_B's creation, with a price that is not a number
    broken["data"]["object"]["items"]["data"][0]["price"]["unit_amount_decimal"] = "sixty thousand"
    far = json.loads(lines[14])  # a copy of evt_1015 (a deletion) for another subscription, ending in year 3e7
    far["id"] = "evt_far"
    far["data"]["object"].update(id="sub_far", ended_at=10**15)
    huge = {**json.loads(lines[0]), "id": "evt_huge", "created": 2**70}  # not a timestamp at all
    source = tmp_path / "log.jsonl"
    source.write_text("\n".join([*lines[:11], json.dumps(broken), *lines[12:], json.dumps(far), json.dumps(huge)])
                      + "\n")
    report = import_stripe_log(source, tmp_path / "landing")
    rejected = sorted(([json.loads(x) for x in Path(report.rejected_file).read_text().splitlines()]),
                      key=lambda r: int(r["line"]))
    assert [(r["file"], r["line"], r["reason"].split(":")[0]) for r in rejected] == [
        (str(source), "12", "a Stripe customer.subscription.created the importer cannot read"),
        (str(source), str(len(lines) + 1), "a Stripe customer.subscription.deleted the importer cannot read"),
        (str(source), str(len(lines) + 2), "not a Stripe Event")]
    rows = landed(tmp_path / "landing")
    assert "evt_1012" not in rows and rows["evt_1004"] == by_id(V2020_ROWS)["evt_1004"]


def test_a_crash_before_the_end_lands_nothing(tmp_path, monkeypatch):
    import transforms.stripe.importer as importer

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(importer, "_add_plans", broken)
    landing = tmp_path / "landing"
    with pytest.raises(RuntimeError):
        import_stripe_log(FIXTURES / "v2020-08-27.jsonl", landing)
    assert not list(landing.rglob("*.jsonl")) and not list(landing.rglob("*.tmp"))
    monkeypatch.undo()
    import_stripe_log(FIXTURES / "v2020-08-27.jsonl", landing)  # nothing was remembered: all of it lands now
    assert landed(landing) == by_id(V2020_ROWS)


def test_a_crash_after_landing_writes_the_same_rows_again(tmp_path, monkeypatch):
    """Files are renamed into place before the importer's memory is committed: after a crash in between,
    the next import lands the same rows (same ids, same payloads), which the warehouse takes as no-ops."""
    def broken(self):
        raise RuntimeError("killed")

    landing = tmp_path / "landing"
    monkeypatch.setattr(State, "flush", broken)
    with pytest.raises(RuntimeError):
        import_stripe_log(FIXTURES / "v2020-08-27.jsonl", landing)
    first = landed(landing)
    monkeypatch.undo()
    report = import_stripe_log(FIXTURES / "v2020-08-27.jsonl", landing)
    second = {}
    for name in report.files_written:
        second.update(by_id([json.loads(x) for x in (landing / name).read_text().splitlines()]))
    assert first == second == by_id(V2020_ROWS)


def test_state_written_out_mid_import_gives_the_same_rows(tmp_path, monkeypatch):
    """The state cache is bounded: forgetting it every 7 events (lookups from SQLite) changes nothing."""
    import transforms.stripe.importer as importer

    monkeypatch.setattr(importer, "TRIM_EVERY", 7)
    monkeypatch.setattr(State, "trim", lambda self, limit=0, original=State.trim: original(self, 0))
    import_stripe_log(FIXTURES, tmp_path / "landing")
    assert landed(tmp_path / "landing") == by_id(V2020_ROWS + CURRENT_ROWS + PAGE_ROWS + CLOVER_ROWS)


def test_missing_input_is_one_clear_error(tmp_path):
    with pytest.raises(StripeImportError, match="does not exist"):
        import_stripe_log(tmp_path / "nope.jsonl", tmp_path / "landing")
    (tmp_path / "landing" / ".stripe").mkdir(parents=True)
    (tmp_path / "landing" / ".stripe" / "state.sqlite").write_text("not a database")
    with pytest.raises(StripeImportError, match="state.sqlite cannot be read .*move it aside"):
        import_stripe_log(FIXTURES / "events-page.json", tmp_path / "landing")


# --------------------------------------------------------------------------------------------- rules


def test_minor_units():
    assert to_major(4900, "usd") == Decimal("49.00") and str(to_major(4900, "usd")) == "49.00"
    assert to_major(5000, "JPY") == Decimal(5000) and to_major(5000, "krw") == Decimal(5000)
    assert str(to_major(1500, "kwd")) == "1.500" and str(to_major(1500, "tnd")) == "1.500"
    assert str(to_major(12345, "isk")) == "123.45"  # ISK: two-decimal representation in Stripe's API
    assert str(to_major("1234.5", "usd")) == "12.345"  # unit_amount_decimal keeps fractions of a cent


def test_fixed_coupon_spread_adds_up_to_the_coupon():
    assert spread(1000, [Decimal(6000), Decimal(1000)]) == [857, 143]  # remainders .14 and .86
    assert spread(100, [Decimal(1)] * 3) == [34, 33, 33]  # ties: the earlier item
    assert spread(7, [Decimal(0), Decimal(0)]) == [7, 0]
    assert sum(spread(999, [Decimal(333), Decimal(333), Decimal(334)])) == 999


def _sub(status="active", items=(("si_1", "price_a", 1000, 1),), at=None, **extra):
    body = {"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": status, "start_date": 1735689600,
            "created": 1735689600, "cancel_at_period_end": False, "cancel_at": None, "pause_collection": None,
            "items": {"data": [{"id": i, "quantity": q, "price": {"id": p, "lookup_key": None, "currency": "usd",
                                "unit_amount": a, "recurring": {"interval": "month", "interval_count": 1}}}
                               for i, p, a, q in items]}}
    body.update(extra)
    return body


def _event(n, created, sub, event_type="customer.subscription.updated"):
    return {"id": f"evt_{n}", "type": event_type, "created": created, "data": {"object": sub}}


def _types(rows):
    return [(r["event_id"], r["event_type"], r["subscription_id"]) for _, r in rows]


def test_items_keep_their_ids_as_items_come_and_go():
    mapper = Mapper(State())
    day = 86400
    t0 = 1735689600
    assert _types(mapper.map(_event(1, t0, _sub(), "customer.subscription.created"))) == [
        ("evt_1", "subscription_started", "sub_1")]
    # the only item replaced by another (a plan change in Stripe's dashboard): still the subscription's id
    rows = mapper.map(_event(2, t0 + day, _sub(items=(("si_2", "price_b", 2000, 1),))))
    assert _types(rows) == [("evt_2", "subscription_changed", "sub_1")]
    assert rows[0][1]["plan_id"] == "price_b" and rows[0][1]["unit_price"] == "20.00"
    # a second item: its own §1 subscription; the first keeps the subscription's id
    rows = mapper.map(_event(3, t0 + 2 * day, _sub(items=(("si_2", "price_b", 2000, 1), ("si_3", "price_c", 500, 2)))))
    assert _types(rows) == [("evt_3:si_3", "subscription_started", "si_3")]
    # the second item removed: its subscription ends
    rows = mapper.map(_event(4, t0 + 3 * day, _sub(items=(("si_2", "price_b", 2000, 1),))))
    assert _types(rows) == [("evt_4:si_3", "subscription_canceled", "si_3")]


def test_a_discount_removed_before_its_end_restates_the_scheduled_instant():
    mapper = Mapper(State())
    t0, end = 1735689600, 1735689600 + 90 * 86400
    mapper.map(_event(1, t0, _sub(), "customer.subscription.created"))
    coupon = {"id": "di_1", "coupon": {"percent_off": 50, "duration": "repeating"}, "end": end}
    rows = mapper.map(_event(2, t0 + 10, _sub(discount=coupon)))
    assert [(r["event_id"], r.get("effective_at"), r.get("discount_pct")) for _, r in rows] == [
        ("evt_2:change", None, "50"), ("evt_2:discount_end", "2025-04-01T00:00:00Z", "0")]
    # removed early: a change now, and the scheduled instant restated with the terms now in force (no discount)
    rows = mapper.map(_event(3, t0 + 20, _sub(discount=None)))
    assert [(r["event_id"], r.get("effective_at"), r.get("discount_pct")) for _, r in rows] == [
        ("evt_3:change", None, "0"), ("evt_3:discount_end", "2025-04-01T00:00:00Z", "0")]


def test_a_subscription_first_seen_from_a_list_endpoint_starts_at_its_own_dates():
    """A backfill synthesizes events from today's objects: a canceled subscription that had a trial."""
    mapper = Mapper(State())
    trial_start, trial_end, ended = 1704067200, 1705276800, 1719792000  # 2024-01-01, 2024-01-15, 2024-07-01
    sub = _sub(status="canceled", trial_start=trial_start, trial_end=trial_end, start_date=trial_start,
               ended_at=ended, canceled_at=ended - 86400)
    rows = mapper.map(_event("backfill_sub_1", 1735689600, sub, "customer.subscription.created"))
    assert [(r["event_type"], r["occurred_at"], r.get("effective_at")) for _, r in rows] == [
        ("trial_started", "2024-01-01T00:00:00Z", None),
        ("subscription_started", "2024-01-15T00:00:00Z", None),
        ("subscription_canceled", "2024-06-30T00:00:00Z", "2024-07-01T00:00:00Z"),
    ]


def test_a_deletion_at_the_scheduled_instant_is_no_second_cancellation():
    mapper = Mapper(State())
    t0, period_end = 1735689600, 1735689600 + 31 * 86400
    mapper.map(_event(1, t0, _sub(current_period_end=period_end), "customer.subscription.created"))
    rows = mapper.map(_event(2, t0 + 86400, _sub(current_period_end=period_end, cancel_at_period_end=True)))
    assert [(r["event_type"], r.get("effective_at")) for _, r in rows] == [
        ("subscription_canceled", "2025-02-01T00:00:00Z")]
    ended = _sub(status="canceled", current_period_end=period_end, ended_at=period_end, canceled_at=t0 + 86400)
    assert mapper.map(_event(3, period_end, ended, "customer.subscription.deleted")) == []
    # canceled now instead, before the scheduled instant: a cancellation at ended_at
    mapper = Mapper(State())
    mapper.map(_event(1, t0, _sub(current_period_end=period_end), "customer.subscription.created"))
    mapper.map(_event(2, t0 + 86400, _sub(current_period_end=period_end, cancel_at_period_end=True)))
    now = _sub(status="canceled", current_period_end=period_end, ended_at=t0 + 2 * 86400, canceled_at=t0 + 2 * 86400)
    rows = mapper.map(_event(3, t0 + 2 * 86400, now, "customer.subscription.deleted"))
    assert [(r["event_type"], r["occurred_at"], r.get("effective_at")) for _, r in rows] == [
        ("subscription_canceled", "2025-01-03T00:00:00Z", None)]


def test_a_customer_update_writes_only_when_an_account_field_changes():
    mapper = Mapper(State())
    customer = {"id": "cus_1", "object": "customer", "name": "One", "email": "a@one.test", "balance": 0,
                "address": {"country": "FR"}, "metadata": {"segment": "SMB"}}
    assert len(mapper.map(_event(1, 1735689600, customer, "customer.created"))) == 1
    assert mapper.map(_event(2, 1735689700, {**customer, "balance": -500}, "customer.updated")) == []
    rows = mapper.map(_event(3, 1735689800, {**customer, "metadata": {"segment": "Enterprise"}}, "customer.updated"))
    assert [r["segment"] for _, r in rows] == ["Enterprise"]


def test_status_paused_after_a_trial_starts_nothing_until_active():
    """Stripe's status `paused`: a trial that ended without a payment method (docs/stripe.md)."""
    mapper = Mapper(State())
    t0, trial_end = 1735689600, 1735689600 + 14 * 86400
    trial = {"trial_start": t0, "trial_end": trial_end}
    assert _types(mapper.map(_event(1, t0, _sub(status="trialing", **trial), "customer.subscription.created"))) == [
        ("evt_1", "trial_started", "sub_1")]
    assert mapper.map(_event(2, trial_end, _sub(status="paused", **trial))) == []
    assert _types(mapper.map(_event(3, trial_end + 86400, _sub(**trial)))) == [("evt_3", "subscription_started", "sub_1")]
    # status paused after paying: paused, then resumed
    assert _types(mapper.map(_event(4, trial_end + 2 * 86400, _sub(status="paused", **trial)))) == [
        ("evt_4", "subscription_paused", "sub_1")]
    assert _types(mapper.map(_event(5, trial_end + 3 * 86400, _sub(**trial)))) == [
        ("evt_5", "subscription_resumed", "sub_1")]


def test_weekly_prices_become_a_monthly_price():
    mapper = Mapper(State())
    sub = _sub()
    sub["items"]["data"][0]["price"]["recurring"] = {"interval": "week", "interval_count": 2}
    (_, row), = mapper.map(_event(1, 1735689600, sub, "customer.subscription.created"))
    # 10.00 every 2 weeks = 10.00 x 52/12 / 2 = 21.666666... -> 21.666667 a month
    assert (row["billing_interval"], row.get("interval_count", 1), row["unit_price"]) == ("month", 1, "21.666667")


def test_an_older_snapshot_after_a_newer_one_is_skipped():
    mapper = Mapper(State())
    t0 = 1735689600
    mapper.map(_event(1, t0, _sub(), "customer.subscription.created"))
    mapper.map(_event(2, t0 + 100, _sub(items=(("si_1", "price_a", 1000, 4),))))
    assert mapper.map(_event(3, t0 + 50, _sub(items=(("si_1", "price_a", 1000, 2),)))) == []
    assert mapper.stats.stale == 1


def test_the_cli_prints_what_it_did(tmp_path, capsys):
    from orchestration.cli import main

    landing = tmp_path / "landing"
    assert main(["import", "stripe", "--input", str(FIXTURES), "--landing", str(landing), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "44 Stripe events" in out and "wrote 40 events" in out
    assert "types skipped (not imported): payment_intent.succeeded 1" in out
    assert "customers seen: 8; subscriptions seen: 8" in out
    assert main(["import", "stripe", "--input", str(tmp_path / "missing"), "--landing", str(landing)]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"subwh import stripe: {tmp_path / 'missing'} does not exist: give a Stripe "
                                        "event file or a folder of them"]


def test_fixture_folder_is_read_in_full(tmp_path):
    # a folder: both .jsonl files and the .json list page; a README beside them is ignored and named
    folder = tmp_path / "in"
    shutil.copytree(FIXTURES, folder)
    (folder / "README.txt").write_text("not events")
    report = import_stripe_log(folder, tmp_path / "landing")
    assert report.files_ignored == ["README.txt"]
    assert landed(tmp_path / "landing") == by_id(V2020_ROWS + CURRENT_ROWS + PAGE_ROWS + CLOVER_ROWS)
