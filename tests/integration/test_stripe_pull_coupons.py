"""The API pull and API version 2025-09-30.clover, whose Discount names its coupon by id only (`source.coupon`),
even in events: the first pull lists the coupons; a later pull lists them when an event names a coupon no
import has seen; a coupon Stripe no longer lists is reported by the import, not dropped silently.
A local server stands in for Stripe (tests/support/stripe_server.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.stripe_server import FakeStripe
from tests.unit.test_stripe_api import DAY, KEY, T0, customer, event, subscription
from transforms.stripe import api
from transforms.stripe.api import pull_stripe


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    monkeypatch.setattr(api, "PAGE_SIZE", 2)


def coupon(coupon_id, created, **terms):
    return {"id": coupon_id, "object": "coupon", "created": created, "duration": "forever", "percent_off": None,
            "amount_off": None, "currency": None, **terms}


def clover_discount(discount_id, cus_id, sub_id, coupon_id, start):
    return {"id": discount_id, "object": "discount", "customer": cus_id, "subscription": sub_id, "start": start,
            "end": None, "source": {"type": "coupon", "coupon": coupon_id}}


def subs(landing: Path) -> dict[str, dict]:
    return {r["event_id"]: r for f in sorted((landing / "subscription_events").glob("*.jsonl"))
            for r in map(json.loads, f.read_text().splitlines())}


def pull(landing, server):
    return pull_stripe(landing, api_key=KEY, api_base=server.url, sleep=lambda _s: None)


def test_first_pull_lists_coupons_and_a_later_pull_fetches_a_coupon_it_never_saw(tmp_path):
    with FakeStripe(api_key=KEY) as server:
        server.customers = [customer("cus_1", T0 - 5 * DAY, "One AG")]
        server.coupons = [coupon("HALF", T0 - 300 * DAY, percent_off=50.0)]
        sub = subscription("sub_1", "cus_1", T0 - 5 * DAY,
                           discounts=[clover_discount("di_1", "cus_1", "sub_1", "HALF", T0 - 5 * DAY)])
        server.subscriptions = [sub]
        server.events = [event("evt_01", "customer.created", T0 - 5 * DAY, server.customers[0]),
                         event("evt_02", "customer.subscription.created", T0 - 5 * DAY, sub)]
        pull(tmp_path, server)
        # 10.00 with HALF (50%, created long before the events Stripe keeps: known from the coupon list)
        assert subs(tmp_path)["evt_02"]["discount_pct"] == "50"
        assert len(server.requests_to("coupons")) == 1

        # a coupon made since, and a subscription update naming it: the pull lists coupons to resolve it
        server.coupons.append(coupon("TENOFF", T0 + DAY, amount_off=300, currency="usd"))
        changed = {**sub, "discounts": [clover_discount("di_2", "cus_1", "sub_1", "TENOFF", T0 + 2 * DAY)]}
        server.events.append(event("evt_03", "customer.subscription.updated", T0 + 2 * DAY, changed))
        report = pull(tmp_path, server)
        # 10.00 with 3.00 off, no percentage any more
        row = subs(tmp_path)["evt_03"]
        assert (row["event_type"], row["discount_pct"], row["discount_amount"]) == (
            "subscription_changed", "0", "3.00")
        assert len(server.requests_to("coupons")) == 2
        assert report.import_report.not_imported == {}

        # a coupon an earlier import knows is not listed again
        again = {**changed, "quantity": 2, "items": {**changed["items"], "data": [
            {**changed["items"]["data"][0], "quantity": 2}]}}
        server.events.append(event("evt_04", "customer.subscription.updated", T0 + 3 * DAY, again))
        pull(tmp_path, server)
        assert subs(tmp_path)["evt_04"]["quantity"] == 2
        assert len(server.requests_to("coupons")) == 2


def test_a_coupon_stripe_no_longer_lists_is_reported_by_the_import(tmp_path):
    with FakeStripe(api_key=KEY) as server:
        server.customers = [customer("cus_1", T0 - 5 * DAY, "One AG")]
        sub = subscription("sub_1", "cus_1", T0 - 5 * DAY,
                           discounts=[clover_discount("di_1", "cus_1", "sub_1", "GONE", T0 - 5 * DAY)])
        server.subscriptions = [sub]
        server.events = [event("evt_02", "customer.subscription.created", T0 - 5 * DAY, sub)]
        report = pull(tmp_path, server)
        assert "discount_pct" not in subs(tmp_path)["evt_02"]
        assert report.import_report.not_imported == {"discount whose coupon was never seen": 1}
        assert any("GONE" in w and "evt_02" in w for w in report.import_report.warnings)


def test_a_deleted_coupon_still_applied_is_known_from_the_expanded_subscription(tmp_path):
    """Stripe no longer lists a deleted coupon, but its discounts still apply: on the first pull the
    subscription listed with its discounts expanded describes it, and the event naming it by id resolves."""
    with FakeStripe(api_key=KEY) as server:
        server.customers = [customer("cus_1", T0 - 5 * DAY, "One AG")]
        old = coupon("OLD30", T0 - 400 * DAY, percent_off=30.0)
        expanded = subscription("sub_1", "cus_1", T0 - 5 * DAY, discounts=[
            {**clover_discount("di_1", "cus_1", "sub_1", "OLD30", T0 - 5 * DAY), "source": {"type": "coupon",
                                                                                             "coupon": old}}])
        server.subscriptions = [expanded]
        # the event, as Stripe sends it in clover: the coupon by id only
        by_id = subscription("sub_1", "cus_1", T0 - 5 * DAY,
                             discounts=[clover_discount("di_1", "cus_1", "sub_1", "OLD30", T0 - 5 * DAY)])
        server.events = [event("evt_02", "customer.subscription.created", T0 - 5 * DAY, by_id)]
        report = pull(tmp_path, server)
        assert subs(tmp_path)["evt_02"]["discount_pct"] == "30"
        assert report.import_report.not_imported == {}


def test_a_key_that_may_not_read_coupons_pulls_the_rest_and_says_so(tmp_path):
    """A restricted key made before coupons were needed (no Coupons read access): the pull goes on, says
    which list it could not read, and the import lists the discount it could not resolve."""
    said = []
    with FakeStripe(api_key=KEY) as server:
        server.customers = [customer("cus_1", T0 - 5 * DAY, "One AG")]
        sub = subscription("sub_1", "cus_1", T0 - 5 * DAY,
                           discounts=[clover_discount("di_1", "cus_1", "sub_1", "HALF", T0 - 5 * DAY)])
        server.subscriptions = [sub]
        server.coupons = [coupon("HALF", T0 - 300 * DAY, percent_off=50.0)]
        server.events = [event("evt_02", "customer.subscription.created", T0 - 5 * DAY, sub)]
        server.fail("coupons", 403)
        report = pull_stripe(tmp_path, api_key=KEY, api_base=server.url, sleep=lambda _s: None, progress=said.append)
    assert report.forbidden == ["coupons"]
    assert any("may not read /v1/coupons (403): going on without it" in line for line in said)
    assert "discount_pct" not in subs(tmp_path)["evt_02"] and report.cursor == "evt_02"
    assert report.import_report.not_imported == {"discount whose coupon was never seen": 1}
