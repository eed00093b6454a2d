"""API version 2025-09-30.clover: a Discount names its coupon by id (`source.coupon`), even in events, so the
importer resolves it from coupon.* events; a coupon it never saw is counted and reported, not dropped silently.
Also: reference/fx_rates.csv written with its header when absent, and the currencies that need rates named.

tests/fixtures/stripe/clover.jsonl is written for these tests in the clover shape (docs/stripe.md).
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.support.stripe_rows import FIXTURES, landed, sub_row
from transforms.stripe import import_stripe_log
from transforms.stripe.mapping import Mapper
from transforms.stripe.state import State

# Worked out by hand from clover.jsonl.
CLOVER_ROWS = [
    {"event_id": "evt_4002", "event_type": "account_created", "occurred_at": "2025-10-01T00:00:00Z",
     "account_id": "cus_F", "account_name": "Fjord AS", "segment": "SMB", "country": "NO"},
    # coupon FIVEOFF (500 cents off, from coupon.created evt_4001) named by id in source.coupon:
    # 30.00 USD with 5.00 off (MRR 25.00, not 30.00)
    sub_row("evt_4003", "subscription_started", "2025-10-01T01:00:00Z", "cus_F", "sub_F", plan_id="pro",
            billing_interval="month", quantity=1, unit_price="30.00", currency="USD", discount_amount="5.00"),
    {"event_id": "evt_4005", "event_type": "account_created", "occurred_at": "2025-10-02T00:00:00Z",
     "account_id": "cus_G", "account_name": "Gare SARL", "segment": "Mid-Market", "country": "FR"},
    # discount di_G (by id, from customer.discount.created) of coupon QUARTER (by id, from coupon.created):
    # 25% now, and its end (2026-01-02) a change back to 0% at that instant
    sub_row("evt_4007:start", "subscription_started", "2025-10-02T00:00:00Z", "cus_G", "sub_G", plan_id="team-eur",
            billing_interval="month", quantity=1, unit_price="49.00", currency="EUR", discount_pct="25"),
    sub_row("evt_4007:discount_end", "subscription_changed", "2025-10-02T00:00:00Z", "cus_G", "sub_G",
            effective_at="2026-01-02T00:00:00Z", discount_pct="0"),
    # FIVEOFF deleted (evt_4008) before this update: Stripe keeps the discounts made from it, so only the
    # quantity changes (a dropped coupon would also write discount_amount 0)
    sub_row("evt_4009", "subscription_changed", "2025-10-15T00:00:00Z", "cus_F", "sub_F", quantity=2),
    {"event_id": "evt_4010", "event_type": "account_created", "occurred_at": "2025-10-20T00:00:00Z",
     "account_id": "cus_H", "account_name": "Halden Oy", "segment": "SMB", "country": "FI"},
    # coupon GHOST was never described by an event: started without the discount, and reported
    sub_row("evt_4011", "subscription_started", "2025-10-20T00:00:00Z", "cus_H", "sub_H", plan_id="pro",
            billing_interval="month", quantity=1, unit_price="30.00", currency="USD"),
]


def test_clover_fixture_maps_to_the_rows_worked_out_by_hand(tmp_path):
    report = import_stripe_log(FIXTURES / "clover.jsonl", tmp_path / "landing")
    assert landed(tmp_path / "landing") == {r["event_id"]: r for r in CLOVER_ROWS}
    assert report.lines_rejected == 0


def test_a_discount_whose_coupon_is_unknown_is_counted_and_reported_with_its_event(tmp_path):
    report = import_stripe_log(FIXTURES / "clover.jsonl", tmp_path / "landing")
    assert report.not_imported == {"discount whose coupon was never seen": 1}
    text = "\n".join(report.summary_lines())
    assert "read but not imported: discount whose coupon was never seen 1" in text
    notes = [line for line in report.summary_lines() if "GHOST" in line]
    assert len(notes) == 1 and "sub_H" in notes[0] and "evt_4011" in notes[0]


def test_a_coupon_known_only_from_an_earlier_import_resolves(tmp_path):
    lines = (FIXTURES / "clover.jsonl").read_text().splitlines()
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(lines[0] + "\n")  # coupon.created FIVEOFF
    second.write_text("\n".join(lines[1:3]) + "\n")  # the customer and the subscription that names it
    import_stripe_log(first, tmp_path / "landing")
    report = import_stripe_log(second, tmp_path / "landing")
    assert landed(tmp_path / "landing")["evt_4003"]["discount_amount"] == "5.00"
    assert not report.not_imported


def test_a_clover_discount_in_a_legacy_discount_field_resolves_too():
    mapper = Mapper(State())
    mapper.map({"id": "evt_1", "type": "coupon.created", "created": 1759276800,
                "data": {"object": {"id": "HALF", "object": "coupon", "percent_off": 50, "duration": "forever"}}})
    sub = {"id": "sub_1", "customer": "cus_1", "status": "active", "start_date": 1759276800,
           "discount": {"id": "di_1", "source": {"type": "coupon", "coupon": "HALF"}, "end": None},
           "items": {"data": [{"id": "si_1", "quantity": 1, "price": {
               "id": "p", "currency": "usd", "unit_amount": 1000, "recurring": {"interval": "month"}}}]}}
    rows = mapper.map({"id": "evt_2", "type": "customer.subscription.created", "created": 1759276800,
                       "data": {"object": sub}})
    assert rows[0][1]["discount_pct"] == "50"


def test_fx_rates_is_written_with_its_header_when_absent_and_the_currencies_named(tmp_path):
    landing = tmp_path / "landing"
    report = import_stripe_log(FIXTURES / "clover.jsonl", landing)
    fx = landing / "reference" / "fx_rates.csv"
    assert fx.read_text() == "month,currency,usd_per_unit\n"
    assert report.currencies == ["EUR", "USD"]
    lines = report.summary_lines()
    assert any("fx_rates.csv was missing: written with its header only" in line for line in lines)
    need = [line for line in lines if "has no rate for" in line]
    assert len(need) == 1 and str(fx) in need[0] and "has no rate for EUR:" in need[0]


def test_an_existing_fx_rates_file_is_never_touched(tmp_path):
    landing = tmp_path / "landing"
    fx = landing / "reference" / "fx_rates.csv"
    fx.parent.mkdir(parents=True)
    fx.write_text("month,currency,usd_per_unit\n2025-10,EUR,1.1700")  # no final newline: kept byte for byte
    report = import_stripe_log(FIXTURES / "clover.jsonl", landing)
    assert fx.read_text() == "month,currency,usd_per_unit\n2025-10,EUR,1.1700"
    assert not report.fx_written
    assert not any("has no rate for" in line or "fx_rates.csv was missing" in line for line in report.summary_lines())


def _refund_event(n, created, refunded, previous=None):
    data = {"object": {"id": "ch_1", "object": "charge", "invoice": "in_1", "currency": "usd",
                       "amount": 5000, "amount_refunded": refunded}}
    if previous is not None:
        data["previous_attributes"] = {"amount_refunded": previous}
    return {"id": f"evt_{n}", "type": "charge.refunded", "created": created, "data": data}


@pytest.mark.parametrize("with_previous", [True, False])
def test_refunds_of_one_charge_arriving_out_of_order_add_up_to_the_amount_refunded(tmp_path, with_previous):
    """Two partial refunds of a 50.00 charge: 10.00 (total 1000 cents), then 20.00 more (total 3000). The second
    event is imported first (an import of last week), the first in a later import: 10.00 + 20.00 = 30.00 in
    all, never 20.00 (the first would look like a decrease of amount_refunded and be dropped)."""
    invoice = {"id": "evt_0", "type": "invoice.finalized", "created": 1759276800, "data": {"object": {
        "id": "in_1", "object": "invoice", "customer": "cus_1", "subscription": "sub_1", "currency": "usd",
        "total": 5000, "charge": "ch_1", "lines": {"data": []}}}}
    first = _refund_event(1, 1759363200, 1000, 0 if with_previous else None)
    second = _refund_event(2, 1759449600, 3000, 1000 if with_previous else None)
    landing = tmp_path / "landing"
    for n, events in enumerate(([invoice, second], [first])):
        path = tmp_path / f"import{n}.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in events))
        import_stripe_log(path, landing)
    refunds = sorted((r["occurred_at"], r["amount"]) for r in landed(landing).values()
                     if r["event_type"] == "refund_issued")
    total = sum(Decimal(a) for _, a in refunds)
    assert total == Decimal("30.00")
    if with_previous:  # each refund at its own instant: 10.00 on Oct 2, 20.00 on Oct 3
        assert refunds == [("2025-10-02T00:00:00Z", "10.00"), ("2025-10-03T00:00:00Z", "20.00")]
    # the same two imports again write nothing
    for n in (0, 1):
        assert sum(import_stripe_log(tmp_path / f"import{n}.jsonl", landing).rows_written.values()) == 0


def test_a_discount_known_by_id_only_is_reported_once_with_its_event():
    mapper = Mapper(State())
    sub = {"id": "sub_1", "customer": "cus_1", "status": "active", "start_date": 1759276800, "discounts": ["di_9"],
           "items": {"data": [{"id": "si_1", "quantity": 1, "price": {
               "id": "p", "currency": "usd", "unit_amount": 1000, "recurring": {"interval": "month"}}}]}}
    mapper.map({"id": "evt_1", "type": "customer.subscription.created", "created": 1759276800, "data": {"object": sub}})
    mapper.map({"id": "evt_2", "type": "customer.subscription.updated", "created": 1759276900,
                "data": {"object": {**sub, "quantity": 2}}})
    assert mapper.stats.not_imported == {"discount never seen (no customer.discount.* event)": 1}
    assert mapper.stats.unresolved_discounts == {("sub_1", "discount di_9"): "evt_1"}


def test_a_usd_clover_log_imports_and_builds_without_any_reference_file_written_by_hand(tmp_path):
    """Import into an empty folder, then build: plans.csv is appended and fx_rates.csv written with its header,
    so the run needs nothing more for a USD-only company. MRR at October's end, worked out by hand:
    cus_F 2 seats x 30.00 - 5.00 (FIVEOFF, resolved from coupon.created by id) = 55.00;
    cus_H 30.00 (its coupon GHOST was never described: no discount, and reported)."""
    from tests.support.story import build, rows

    usd = [line for line in (FIXTURES / "clover.jsonl").read_text().splitlines()
           if not any(k in line for k in ('"cus_G"', '"QUARTER"'))]
    log = tmp_path / "usd.jsonl"
    log.write_text("\n".join(usd) + "\n")
    landing = tmp_path / "landing"
    import_stripe_log(log, landing)
    con = build(landing)
    assert rows(con, "select reason from raw.quarantine") == []
    got = {r["account_id"]: r["mrr"] for r in rows(
        con, "select account_id, mrr from marts.account_mrr_monthly where month = date '2025-10-01'")}
    assert got == {"cus_F": Decimal("55.00"), "cus_H": Decimal("30.00")}


def _subscription_event(n, created, sub_id, event_type="customer.subscription.updated", **fields):
    obj = {"id": sub_id, "object": "subscription", "customer": "cus_1", "status": "active", "currency": "usd",
           "start_date": 1735689600, "created": 1735689600, "cancel_at_period_end": False, "cancel_at": None,
           "canceled_at": None, "pause_collection": None, "discounts": [],
           "items": {"data": [{"id": f"si_{sub_id}", "quantity": 1, "current_period_end": 1738368000, "price": {
               "id": "price_a", "lookup_key": "starter", "currency": "usd", "unit_amount": 1000,
               "recurring": {"interval": "month", "interval_count": 1}}}]}, **fields}
    return {"id": f"evt_{n}", "object": "event", "type": event_type, "created": created, "data": {"object": obj}}


def test_cancel_at_moved_and_cleared_build_the_mrr_worked_out_by_hand(tmp_path):
    """sub_1 (10.00 a month from 2025-01-01): cancel_at set for 2025-02-15 on Jan 10, moved to 2025-04-15 on
    Jan 20: the withdrawal voids the first cancellation, so MRR is 10.00 at the end of January, February and
    March, and 0 from April (canceled Apr 15). sub_2 (10.00): cancel_at set for 2025-02-15 on Jan 10, cleared
    on Jan 20: 10.00 every month, 2 seats (20.00) from June 15. Account cus_1 MRR: Jan-Mar 20.00, Apr-May 10.00,
    June 20.00."""
    from tests.support.story import Landing, build, rows

    day, jan1 = 86400, 1735689600
    feb15, apr15 = 1739577600, 1744675200
    events = [
        {"id": "evt_0", "object": "event", "type": "customer.created", "created": jan1, "data": {"object": {
            "id": "cus_1", "object": "customer", "name": "One", "address": {"country": "US"}, "metadata": {}}}},
        _subscription_event(1, jan1, "sub_1", "customer.subscription.created"),
        _subscription_event(2, jan1, "sub_2", "customer.subscription.created"),
        _subscription_event(3, jan1 + 9 * day, "sub_1", cancel_at=feb15, canceled_at=jan1 + 9 * day),
        _subscription_event(4, jan1 + 9 * day, "sub_2", cancel_at=feb15, canceled_at=jan1 + 9 * day),
        _subscription_event(5, jan1 + 19 * day, "sub_1", cancel_at=apr15, canceled_at=jan1 + 19 * day),
        _subscription_event(6, jan1 + 19 * day, "sub_2"),
        # 2025-06-15: sub_2 to 2 seats (20.00), so the data reaches June
        _subscription_event(7, 1749988800, "sub_2", items={"data": [{
            **_subscription_event(0, 0, "sub_2")["data"]["object"]["items"]["data"][0], "quantity": 2}]}),
    ]
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in events))
    landing = Landing(tmp_path / "landing")
    import_stripe_log(log, landing.root)
    con = build(landing)
    got = {r["month"].month: r["mrr"] for r in rows(
        con, "select month, mrr from marts.account_mrr_monthly where account_id = 'cus_1' order by month")}
    assert got == {1: Decimal("20.00"), 2: Decimal("20.00"), 3: Decimal("20.00"), 4: Decimal("10.00"),
                   5: Decimal("10.00"), 6: Decimal("20.00")}


def test_a_cancellation_withdrawn_in_the_second_it_was_scheduled_is_voided():
    """Two updates in one second (an API script: cancel_at set, then cleared). The warehouse voids the
    cancellations that occurred *before* a withdrawal, so the withdrawal is dated a second later; a
    cancellation moved within that second is scheduled again at that second too (not voided)."""
    mapper = Mapper(State())
    t = 1735689600
    mapper.map(_subscription_event(1, t, "sub_1", "customer.subscription.created"))
    mapper.map(_subscription_event(2, t + 60, "sub_1", cancel_at=t + 90 * 86400))
    rows = mapper.map(_subscription_event(3, t + 60, "sub_1"))
    assert [(r["event_type"], r["occurred_at"]) for _, r in rows] == [
        ("subscription_cancel_withdrawn", "2025-01-01T00:01:01Z")]
    mapper.map(_subscription_event(4, t + 120, "sub_1", cancel_at=t + 90 * 86400))
    rows = mapper.map(_subscription_event(5, t + 120, "sub_1", cancel_at=t + 100 * 86400))
    assert [(r["event_type"], r["occurred_at"], r.get("effective_at")) for _, r in rows] == [
        ("subscription_cancel_withdrawn", "2025-01-01T00:02:01Z", None),
        ("subscription_canceled", "2025-01-01T00:02:01Z", "2025-04-11T00:00:00Z")]
    # a withdrawal in a later second keeps its own instant
    rows = mapper.map(_subscription_event(6, t + 600, "sub_1"))
    assert [(r["event_type"], r["occurred_at"]) for _, r in rows] == [
        ("subscription_cancel_withdrawn", "2025-01-01T00:10:00Z")]


def test_generate_format_stripe_clover_names_coupons_by_id(tmp_path):
    from orchestration.cli import main

    out = tmp_path / "clover"
    assert main(["generate", "--accounts", "60", "--months", "6", "--seed", "3", "--out", str(out),
                 "--format", "stripe-clover", "--no-progress"]) == 0
    events = [json.loads(line) for f in sorted((out / "stripe_events").glob("*.jsonl"))
              for line in f.read_text().splitlines()]
    assert {e["api_version"] for e in events} == {"2025-09-30.clover"}
    discounts = [e["data"]["object"] for e in events if e["type"] == "customer.discount.created"]
    assert discounts and all("coupon" not in d and isinstance(d["source"]["coupon"], str) for d in discounts)
    assert {d["source"]["coupon"] for d in discounts} <= {
        e["data"]["object"]["id"] for e in events if e["type"] == "coupon.created"}
