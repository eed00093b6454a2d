"""Pulling from the Stripe API (transforms/stripe/api.py) against a local server (tests/support/stripe_server.py).

The SDK is pointed at the local server through `api_base`; no test reaches the internet. The importer is
replaced by one that records what it was given, so these tests check the pull itself: which requests,
which events in which order, the cursor, the backfill, retries and failures.
"""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pytest
import stripe

from tests.support.stripe_server import FakeStripe
from transforms.stripe import api
from transforms.stripe.api import StripePullError, pull_stripe, read_cursor

DAY = 86_400
T0 = 1_760_000_000  # 2025-10-09 08:53:20 UTC; every time below is relative to it
KEY = "sk_test_51SecretKeyThatMustNeverBeShown0123"


def event(event_id, kind, created, obj, previous=None):
    data = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {"id": event_id, "object": "event", "api_version": "2020-08-27", "created": created, "type": kind,
            "livemode": False, "data": data}


def customer(cus_id, created, name):
    return {"id": cus_id, "object": "customer", "created": created, "name": name, "email": f"{cus_id}@example.com",
            "address": {"country": "DE"}, "metadata": {}}


def items(sub_id, quantity):
    return {"object": "list", "data": [{"id": f"si_{sub_id}", "object": "subscription_item", "quantity": quantity,
                                         "price": PRICE}]}


PRICE = {"id": "price_basic", "object": "price", "currency": "usd", "unit_amount": 1000, "lookup_key": None,
         "recurring": {"interval": "month", "interval_count": 1}}


def subscription(sub_id, cus_id, created, *, quantity=1, status="active", **fields):
    # 2020-08-27 shape: plan, quantity and the current period on the subscription; one item
    return {"id": sub_id, "object": "subscription", "customer": cus_id, "created": created, "start_date": created,
            "status": status, "quantity": quantity, "cancel_at_period_end": False, "cancel_at": None,
            "canceled_at": None, "ended_at": None, "trial_start": None, "trial_end": None, "discount": None,
            "pause_collection": None, "current_period_start": T0 - 10 * DAY, "current_period_end": T0 + 20 * DAY,
            "items": items(sub_id, quantity), **fields}


def invoice(in_id, sub_id, status, finalized_at, paid_at=None):
    return {"id": in_id, "object": "invoice", "customer": "cus_old", "subscription": sub_id, "status": status,
            "currency": "usd", "total": 2000, "amount_due": 2000, "amount_paid": 2000 if status == "paid" else 0,
            "created": (finalized_at or T0) - 3600,
            "lines": {"object": "list", "has_more": False, "data": [
                {"id": f"il_{in_id}", "object": "line_item", "amount": 2000, "subscription": sub_id,
                 "period": {"start": (finalized_at or T0) - 3600, "end": (finalized_at or T0) - 3600 + 30 * DAY}}]},
            "status_transitions": {"finalized_at": finalized_at, "paid_at": paid_at}}


def company(server: FakeStripe) -> None:
    """A small Stripe account: history older than its events (the window opens at T0 - 20 days) and events."""
    server.prices = [{**PRICE, "created": T0 - 400 * DAY}]
    server.customers = [customer("cus_old", T0 - 200 * DAY, "Old GmbH"), customer("cus_new", T0 - 5 * DAY, "New AG")]
    server.subscriptions = [
        # trial of 14 days, then active at quantity 2; raised to 5 inside the window (evt_05)
        subscription("sub_trial", "cus_old", T0 - 90 * DAY, quantity=5, trial_start=T0 - 90 * DAY,
                     trial_end=T0 - 76 * DAY),
        # cancellation asked for at T0-70d, ended at the period end T0-60d
        subscription("sub_gone", "cus_old", T0 - 120 * DAY, status="canceled", cancel_at_period_end=True,
                     canceled_at=T0 - 70 * DAY, ended_at=T0 - 60 * DAY, current_period_start=T0 - 90 * DAY,
                     current_period_end=T0 - 60 * DAY),
        # a 20% coupon added 50 days after it started
        subscription("sub_coupon", "cus_old", T0 - 100 * DAY,
                     discount={"id": "di_1", "object": "discount", "start": T0 - 50 * DAY, "end": None,
                               "coupon": {"id": "TWENTY", "percent_off": 20.0, "amount_off": None}}),
        # created inside the window: its events tell its story
        subscription("sub_new", "cus_new", T0 - 5 * DAY),
        # created a second before its creation event evt_00, the window's oldest: that event tells its story
        subscription("sub_edge", "cus_old", T0 - 20 * DAY - 1),
    ]
    server.invoices = [
        invoice("in_old", "sub_trial", "paid", T0 - 76 * DAY, T0 - 75 * DAY),
        # paid 2 s before its event evt_01, the window's oldest: before the window opens, but evt_01 has it
        invoice("in_edge", "sub_trial", "paid", T0 - 21 * DAY, T0 - 20 * DAY - 2),
        invoice("in_draft", "sub_trial", "draft", None),
    ]
    sub_trial_now = server.subscriptions[0]
    server.events = [
        event("evt_00", "customer.subscription.created", T0 - 20 * DAY, server.subscriptions[4]),
        event("evt_01", "invoice.paid", T0 - 20 * DAY, server.invoices[1]),
        event("evt_02", "customer.updated", T0 - 19 * DAY, server.customers[0], {"name": "Old Ltd"}),
        event("evt_03", "customer.created", T0 - 5 * DAY, server.customers[1]),
        event("evt_04", "customer.subscription.created", T0 - 5 * DAY, server.subscriptions[3]),
        event("evt_05", "customer.subscription.updated", T0 - 3 * DAY, sub_trial_now,
              {"quantity": 2, "items": items("sub_trial", 2)}),
    ]


class Recorder:
    """Stands in for import_stripe_log: keeps the events of each file it is given."""

    def __init__(self, fail: bool = False):
        self.calls: list[list[dict]] = []
        self.fail = fail

    def __call__(self, input_path: Path, landing_dir: Path, *, progress=None):
        with gzip.open(input_path, "rt") as handle:
            self.calls.append([json.loads(line) for line in handle])
        if self.fail:
            raise OSError("disk full")
        return {"imported": len(self.calls[-1])}


@pytest.fixture
def server():
    with FakeStripe(api_key=KEY) as fake:
        company(fake)
        yield fake


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    monkeypatch.setattr(api, "PAGE_SIZE", 2)  # every list spans several pages


def pull(landing, server, **kwargs):
    kwargs.setdefault("importer", Recorder())
    return pull_stripe(landing, api_key=kwargs.pop("api_key", KEY), api_base=server.url, sleep=lambda _s: None,
                       **kwargs)


def ids(events):
    return [e["id"] for e in events]


def test_first_pull_backfills_history_older_than_the_events_then_the_events_oldest_first(tmp_path, server):
    recorder = Recorder()
    report = pull(tmp_path, server, importer=recorder)
    (events,) = recorder.calls
    d = {e["id"]: e for e in events}
    # Backfill (everything before the window's first event, T0-20d), by time; then the five events, oldest first.
    assert ids(events) == [
        "evt_backfill_coupon_TWENTY",             # sub_coupon's coupon (not listed, so from the subscription)
        "evt_backfill_cus_old",                   # T0-200d
        "evt_backfill_sub_gone",                  # T0-120d created (active)
        "evt_backfill_sub_coupon",                # T0-100d created without its coupon
        "evt_backfill_sub_trial",                 # T0-90d  created trialing
        "evt_backfill_sub_trial_trial_end",       # T0-76d; subscriptions before invoices at the same time
        "evt_backfill_in_old_finalized",          # T0-76d
        "evt_backfill_in_old_paid",               # T0-75d
        "evt_backfill_sub_gone_cancel_requested",  # T0-70d
        "evt_backfill_sub_gone_deleted",          # T0-60d
        "evt_backfill_sub_coupon_discount",       # T0-50d
        "evt_backfill_in_edge_finalized",         # T0-21d; its payment is evt_01
        "evt_00", "evt_01", "evt_02", "evt_03", "evt_04", "evt_05",
    ]
    # cus_new, sub_new and sub_edge have their creation events in the window (evt_03, evt_04, evt_00): no
    # synthetic creation for them.
    assert report.window_start == T0 - 20 * DAY
    assert report.first_pull and report.cursor == "evt_05"
    assert read_cursor(tmp_path)["last_event_id"] == "evt_05"
    assert report.events_by_type == {"customer.updated": 1, "invoice.paid": 1, "customer.created": 1,
                                     "customer.subscription.created": 2, "customer.subscription.updated": 1}
    assert report.backfill_by_type["customer.subscription.created"] == 3
    assert report.objects_listed == {"customers": 2, "prices": 1, "subscriptions": 5, "invoices": 3}

    # sub_trial: created trialing at quantity 2 (evt_05's previous attributes put back: the raise to 5
    # happened inside the window and evt_05 says so), active at the trial's end.
    created = d["evt_backfill_sub_trial"]
    assert created["type"] == "customer.subscription.created" and created["created"] == T0 - 90 * DAY
    assert created["data"]["object"]["status"] == "trialing" and created["data"]["object"]["quantity"] == 2
    assert created["data"]["object"]["items"]["data"][0]["quantity"] == 2
    trial_end = d["evt_backfill_sub_trial_trial_end"]
    assert (trial_end["type"], trial_end["created"]) == ("customer.subscription.updated", T0 - 76 * DAY)
    assert trial_end["data"]["object"]["status"] == "active"
    assert trial_end["data"]["previous_attributes"] == {"status": "trialing"}
    # sub_gone: active, cancellation at period end asked at T0-70d, deleted at T0-60d
    gone = d["evt_backfill_sub_gone"]["data"]["object"]
    assert gone["status"] == "active" and gone["cancel_at_period_end"] is False and gone["ended_at"] is None
    asked = d["evt_backfill_sub_gone_cancel_requested"]
    assert asked["created"] == T0 - 70 * DAY and asked["data"]["object"]["cancel_at_period_end"] is True
    assert asked["data"]["previous_attributes"]["cancel_at_period_end"] is False
    deleted = d["evt_backfill_sub_gone_deleted"]
    assert (deleted["type"], deleted["created"]) == ("customer.subscription.deleted", T0 - 60 * DAY)
    assert deleted["data"]["object"]["status"] == "canceled"
    # sub_coupon: no discount at creation, the coupon from its start
    assert d["evt_backfill_sub_coupon"]["data"]["object"]["discount"] is None
    added = d["evt_backfill_sub_coupon_discount"]
    assert added["created"] == T0 - 50 * DAY and added["data"]["object"]["discount"]["coupon"]["percent_off"] == 20.0
    assert added["data"]["previous_attributes"] == {"discount": None}
    # invoices: finalized (as open) and paid at their transitions; drafts never
    assert d["evt_backfill_in_old_finalized"]["data"]["object"]["status"] == "open"
    assert d["evt_backfill_in_old_paid"]["created"] == T0 - 75 * DAY
    assert not any("in_draft" in i for i in ids(events))
    # the list endpoints were asked as documented
    (first_sub_request, *_) = server.requests_to("subscriptions")
    assert first_sub_request["status"] == "all"
    assert first_sub_request["expand[0]"] == "data.discounts"
    # the file is kept under DIR/.stripe/pulls, and nothing else was written beside the cursor
    assert report.pull_file.parent == tmp_path / ".stripe" / "pulls"
    assert sorted(p.name for p in (tmp_path / ".stripe" / "pulls").iterdir()) == [report.pull_file.name]


def test_second_pull_fetches_only_what_is_new_oldest_first(tmp_path, server):
    pull(tmp_path, server)
    new = [event(f"evt_{n:02d}", "invoice.finalized", T0 + n, invoice(f"in_{n}", "sub_trial", "open", T0 + n))
           for n in (6, 7, 8)]
    server.events += new
    server.requests.clear()
    recorder = Recorder()
    report = pull(tmp_path, server, importer=recorder)
    assert ids(recorder.calls[0]) == ["evt_06", "evt_07", "evt_08"]
    assert not report.first_pull and report.backfill_by_type == {}
    assert report.previous_cursor == "evt_05" and report.cursor == "evt_08"
    # pages of 2 walking forward in time from the cursor; no list endpoint is asked again
    assert [q.get("ending_before") for q in server.requests_to("events")] == ["evt_05", "evt_07"]
    assert server.requests_to("subscriptions") == [] and server.requests_to("customers") == []
    # and a third pull with nothing new imports nothing and keeps the cursor
    recorder = Recorder()
    report = pull(tmp_path, server, importer=recorder)
    assert recorder.calls == [] and report.pull_file is None and read_cursor(tmp_path)["last_event_id"] == "evt_08"


def test_an_event_arriving_during_a_pull_is_in_the_next_one(tmp_path, server):
    arrived = event("evt_late", "customer.created", T0 + 10, customer("cus_late", T0 + 10, "Late"))

    def arrive(resource, query):
        if resource == "events" and "starting_after" not in query and arrived not in server.events:
            server.events.append(arrived)  # lands after the first page was read: newer than anything in it

    server.after_request = arrive
    first = Recorder()
    pull(tmp_path, server, importer=first)
    assert "evt_late" not in ids(first.calls[0]) and read_cursor(tmp_path)["last_event_id"] == "evt_05"
    server.after_request = None
    second = Recorder()
    pull(tmp_path, server, importer=second)
    assert ids(second.calls[0]) == ["evt_late"]


def test_rate_limit_is_retried_with_backoff(tmp_path, server):
    server.fail("events", 429, times=2)  # no Retry-After: 1 s, then 2 s
    server.fail("subscriptions", 429, headers={"Retry-After": "3"})
    slept = []
    recorder = Recorder()
    report = pull_stripe(tmp_path, api_key=KEY, api_base=server.url, importer=recorder, sleep=slept.append)
    assert slept == [1.0, 2.0, 3.0]
    assert report.rate_limit_retries == 3 and report.cursor == "evt_05"
    assert len(recorder.calls[0]) == 18  # 17 and sub_coupon's coupon


def test_server_errors_are_retried_by_the_sdk(tmp_path, server):
    server.fail("customers", 503)  # the SDK's own retry (stripe.StripeClient max_network_retries)
    report = pull(tmp_path, server)
    assert report.objects_listed["customers"] == 2
    assert server.requests_to("customers") == [{"limit": "2"}, {"limit": "2"}]  # one page, asked twice


def test_rate_limit_that_never_ends_fails_cleanly(tmp_path, server):
    server.fail("events", 429, times=api.RATE_LIMIT_RETRIES + 1)
    with pytest.raises(StripePullError, match="still rate-limiting"):
        pull(tmp_path, server)
    assert read_cursor(tmp_path) == {}


def landing_snapshot(landing: Path) -> dict:
    return {str(p.relative_to(landing)): p.read_bytes() for p in landing.rglob("*")
            if p.is_file() and p.name != "api.lock"}


@pytest.mark.parametrize("failure", ["invoices-500", "import"])
def test_a_failed_pull_leaves_the_landing_folder_and_cursor_as_they_were(tmp_path, server, monkeypatch, failure):
    pull(tmp_path, server)
    server.events.append(event("evt_06", "customer.created", T0 + 6, customer("cus_6", T0 + 6, "Six")))
    before = landing_snapshot(tmp_path)
    if failure == "import":
        with pytest.raises(OSError, match="disk full"):
            pull(tmp_path, server, importer=Recorder(fail=True))
    else:
        # a fresh landing folder (first pull) failing in its backfill after the events were listed
        tmp_path = tmp_path / "fresh"
        before = {}
        monkeypatch.setattr(api, "SDK_NETWORK_RETRIES", 0)
        server.fail("invoices", 500)
        with pytest.raises(StripePullError, match="answered 500 for /v1/invoices"):
            pull(tmp_path, server)
    assert landing_snapshot(tmp_path) == before  # no pull file, no spool, the same cursor


def test_a_killed_pull_leaves_only_scratch_files_the_next_pull_removes(tmp_path, server):
    pulls = tmp_path / ".stripe" / "pulls"
    pulls.mkdir(parents=True)
    (pulls / ".spool-abc.tmp").write_text("{}\n")
    (pulls / ".pull-20250101T000000Z.jsonl.gz.tmp").write_bytes(b"half")
    report = pull(tmp_path, server)
    assert sorted(p.name for p in pulls.iterdir()) == [report.pull_file.name]


def test_a_bad_key_is_one_line_without_the_key(tmp_path, server, capsys, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(stripe, "log", "debug")  # the SDK would print every request and response to stderr
    wrong = "sk_live_51WrongKeyWrongKeyWrongKey999"
    with pytest.raises(StripePullError) as failure:
        pull(tmp_path, server, api_key=wrong)
    message = str(failure.value)
    assert message.startswith("Stripe rejected the API key in STRIPE_API_KEY (401")
    assert "\n" not in message and wrong not in message
    out = capsys.readouterr()
    assert wrong not in out.out + out.err + caplog.text
    assert landing_snapshot(tmp_path) == {}


def test_an_unreachable_api_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(api, "SDK_NETWORK_RETRIES", 0)
    with FakeStripe(api_key=KEY) as closed:
        url = closed.url  # a port nobody listens on once the server is closed
    with pytest.raises(StripePullError, match=r"^cannot reach the Stripe API at http://127\.0\.0\.1:\d+ .*nothing was imported$"):
        pull_stripe(tmp_path, api_key=KEY, api_base=url, importer=Recorder())
    assert landing_snapshot(tmp_path) == {}


def test_an_expired_cursor_falls_back_to_every_event_stripe_keeps(tmp_path, server):
    pull(tmp_path, server)
    server.events = [e for e in server.events if e["id"] != "evt_05"]  # older than 30 days by now
    server.events.append(event("evt_06", "customer.created", T0 + 6, customer("cus_6", T0 + 6, "Six")))
    recorder = Recorder()
    report = pull(tmp_path, server, importer=recorder)
    assert report.cursor_expired and report.cursor == "evt_06"
    # listed with created >= the cursor's time: only evt_06 is that recent here
    assert ids(recorder.calls[0]) == ["evt_06"]
    assert server.requests_to("events")[-1]["created[gte]"] == str(T0 - 3 * DAY)


def test_the_key_is_never_written_or_logged(tmp_path, server, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    messages = []
    report = pull(tmp_path, server, progress=messages.append)
    written = b"".join(gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
                       for p in tmp_path.rglob("*") if p.is_file())
    out = capsys.readouterr()
    for text in (written.decode(), out.out, out.err, caplog.text, "\n".join(messages), repr(report)):
        assert KEY not in text


def test_scrub_removes_the_key_and_key_shaped_text():
    assert api.scrub(f"bad {KEY} here", KEY) == "bad *** here"
    assert api.scrub("Invalid API Key provided: rk_live_abc123", None) == "Invalid API Key provided: rk_live_***"


def test_empty_account_records_the_backfill_so_the_next_pull_lists_events_only(tmp_path):
    with FakeStripe(api_key=KEY) as empty:
        report = pull(tmp_path, empty)
        assert report.pull_file is None and read_cursor(tmp_path)["backfilled_at"]
        empty.events = [event("evt_a", "customer.created", T0, customer("cus_a", T0, "A"))]
        empty.customers = [customer("cus_a", T0, "A")]
        recorder = Recorder()
        pull(tmp_path, empty, importer=recorder)
        assert ids(recorder.calls[0]) == ["evt_a"] and empty.requests_to("customers") == [{"limit": "2"}]


PRO = {"id": "price_pro", "object": "price", "currency": "usd", "unit_amount": 3000, "lookup_key": "pro",
       "recurring": {"interval": "month", "interval_count": 1}, "created": T0 - 400 * DAY}


def billed_invoice(in_id, sub_id, start, price_id, quantity, *, proration=False):
    """A current-API invoice for one period of one item (line price by id, item under parent)."""
    return {"id": in_id, "object": "invoice", "customer": "cus_up", "status": "paid", "currency": "usd",
            "total": 0, "amount_due": 0, "amount_paid": 0, "created": start,
            "status_transitions": {"finalized_at": start, "paid_at": start},
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": sub_id}},
            "lines": {"object": "list", "has_more": False, "data": [{
                "id": f"il_{in_id}", "object": "line_item", "amount": 0, "quantity": quantity,
                "period": {"start": start, "end": start + 30 * DAY},
                "pricing": {"type": "price_details", "price_details": {"price": price_id, "product": "prod_x"}},
                "parent": {"type": "subscription_item_details", "subscription_item_details": {
                    "subscription": sub_id, "subscription_item": "si_up", "proration": proration}}}]}}


def upgrade_history(server: FakeStripe) -> None:
    """sub_up: billed basic x1 from T0-150d, pro x1 from T0-90d (a proration line at T0-100d is not a period),
    pro x3 from T0-60d; today (no event in the window says when) pro x4."""
    server.prices = [{**PRICE, "created": T0 - 400 * DAY}, PRO]
    server.customers = [customer("cus_up", T0 - 150 * DAY, "Up Inc")]
    now = subscription("sub_up", "cus_up", T0 - 150 * DAY, quantity=4)
    now["items"]["data"] = [{"id": "si_up", "object": "subscription_item", "quantity": 4, "price": PRO}]
    server.subscriptions = [now]
    server.invoices = [
        billed_invoice("in_u1", "sub_up", T0 - 150 * DAY, "price_basic", 1),
        billed_invoice("in_u2", "sub_up", T0 - 120 * DAY, "price_basic", 1),
        billed_invoice("in_u2b", "sub_up", T0 - 100 * DAY, "price_pro", 1, proration=True),
        billed_invoice("in_u3", "sub_up", T0 - 90 * DAY, "price_pro", 1),
        billed_invoice("in_u4", "sub_up", T0 - 60 * DAY, "price_pro", 3),
        billed_invoice("in_u5", "sub_up", T0 - 30 * DAY, "price_pro", 3),
    ]
    server.events = [event("evt_u", "customer.updated", T0 - 20 * DAY, server.customers[0], {"name": "Up"})]


def test_backfill_shows_price_and_quantity_changes_the_invoices_billed(tmp_path):
    with FakeStripe(api_key=KEY) as server:
        upgrade_history(server)
        recorder = Recorder()
        pull(tmp_path, server, importer=recorder)
    subs = [e for e in recorder.calls[0] if e["type"].startswith("customer.subscription")]
    terms = [(e["created"], e["data"]["object"]["items"]["data"][0]["price"]["id"],
              e["data"]["object"]["items"]["data"][0]["quantity"]) for e in subs]
    assert terms == [
        (T0 - 150 * DAY, "price_basic", 1),   # created: the first invoice's terms, not today's
        (T0 - 90 * DAY, "price_pro", 1),      # first period billed on pro (the proration line is not one)
        (T0 - 60 * DAY, "price_pro", 3),
        # today's 4 seats: no invoice before the window shows them, so from the last invoice's period end
        # (T0-30d + 30d = T0), held to one second before the window opens at evt_u (T0-20d)
        (T0 - 20 * DAY - 1, "price_pro", 4),
    ]
    assert subs[1]["data"]["object"]["items"]["data"][0]["price"]["unit_amount"] == 3000
    assert [e["id"] for e in subs] == ["evt_backfill_sub_up", f"evt_backfill_sub_up_billed_{T0 - 90 * DAY}",
                                       f"evt_backfill_sub_up_billed_{T0 - 60 * DAY}",
                                       f"evt_backfill_sub_up_billed_{T0 - 20 * DAY - 1}"]



def test_backfill_pauses_and_never_paid_subscriptions(tmp_path):
    with FakeStripe(api_key=KEY) as server:
        server.customers = [customer("cus_p", T0 - 100 * DAY, "P")]
        server.subscriptions = [
            # a trial that ended without a payment method: paused from the trial's end
            subscription("sub_trial_paused", "cus_p", T0 - 100 * DAY, status="paused", trial_start=T0 - 100 * DAY,
                         trial_end=T0 - 86 * DAY),
            # invoices not collected since some time before the window: paused from just before it
            subscription("sub_collection_paused", "cus_p", T0 - 90 * DAY,
                         pause_collection={"behavior": "void", "resumes_at": None}),
            # never paid
            subscription("sub_incomplete", "cus_p", T0 - 80 * DAY, status="incomplete_expired"),
        ]
        server.events = [event("evt_p", "customer.updated", T0 - 20 * DAY, server.customers[0], {"name": "Q"})]
        recorder = Recorder()
        pull(tmp_path, server, importer=recorder)
    story = [(e["id"], e["created"], e["data"]["object"]["status"], bool(e["data"]["object"]["pause_collection"]))
             for e in recorder.calls[0] if e["type"].startswith("customer.subscription")]
    assert story == [
        ("evt_backfill_sub_trial_paused", T0 - 100 * DAY, "trialing", False),
        ("evt_backfill_sub_collection_paused", T0 - 90 * DAY, "active", False),
        ("evt_backfill_sub_trial_paused_trial_end", T0 - 86 * DAY, "paused", False),
        ("evt_backfill_sub_collection_paused_paused", T0 - 20 * DAY - 1, "active", True),
    ]


def test_two_invoices_for_the_same_period_give_one_change():
    # the same period start and end, different quantities: a dict comparison must not decide the order
    billed = [(T0 - 60 * DAY, T0 - 30 * DAY, {"si": ("price_basic", 1)}),
              (T0 - 30 * DAY, T0, {"si": ("price_basic", 2)}),
              (T0 - 30 * DAY, T0, {"si": ("price_basic", 3)})]
    state = {"items": {"data": [{"id": "si", "quantity": 3, "price": PRICE}]}}
    creation, changes = api._billed_changes(T0 - 60 * DAY, T0 + DAY, state, billed, {"price_basic": PRICE})
    assert creation == {"si": ("price_basic", 1)}
    assert changes == [(T0 - 30 * DAY, {"si": ("price_basic", 3)})]
