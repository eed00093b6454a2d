"""Pull Stripe events (and, on the first pull, a backfill of older history) through the Stripe API.

    report = pull_stripe(landing_dir, api_key=..., api_base=None, progress=print)

What a pull does, in this order, so that nothing half-written lands:
1. Lists the events newer than the cursor kept in `DIR/.stripe/api_cursor.json` (all events Stripe
   still keeps, the last 30 days, on the first pull) into a spool file under `DIR/.stripe/pulls/`.
2. On the first pull only: lists coupons, customers, prices, invoices and subscriptions (status=all) and
   synthesizes Event-shaped dicts for what happened before the oldest event Stripe still has
   (`backfill_events`). On later pulls, a coupon named by id only (API 2025-09-30.clover on: a Discount's
   `source.coupon`) that neither the pulled events nor an earlier import describe is fetched from the
   coupon list and added as a `coupon.created` event.
3. Writes the events, oldest first, to `DIR/.stripe/pulls/pull-<UTC time>.jsonl.gz` (a temporary name,
   then renamed), and imports that file with `import_stripe_log` (transforms/stripe, idempotent by
   Stripe event id).
4. Only then writes the new cursor (the newest event id seen). Any failure before that removes the
   pull file and leaves the cursor and the landing folder as they were; the next pull starts again
   from the same cursor.

Events list newest first. Without a cursor the pull pages back in time with `starting_after` and
takes the newest event it saw as the next cursor; with one it pages forward in time with
`ending_before` (each page holds the events just newer than the one before it). An event that arrives
during a pull is either in this pull or newer than its cursor, so it is in the next one.

The API key is passed in, never stored, and never part of a message: errors are raised as
`StripePullError` with a one-line message, from which the key is removed in any case.
"""

from __future__ import annotations

import copy
import fcntl
import gzip
import json
import logging
import os
import re
import sqlite3
import tempfile
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import stripe

STATE_DIR = ".stripe"
CURSOR_FILE = "api_cursor.json"
PULLS_DIR = "pulls"
PAGE_SIZE = 100  # Stripe's largest page

# The SDK retries connection errors, 409 and 5xx itself (exponential backoff, 0.5 s to 5 s); 429 it
# retries only when Stripe says so in a header, so rate limits are retried here as well.
SDK_NETWORK_RETRIES = 3
RATE_LIMIT_RETRIES = 6
RATE_LIMIT_BASE_DELAY = 1.0  # seconds, doubled per retry, at most RATE_LIMIT_MAX_DELAY
RATE_LIMIT_MAX_DELAY = 30.0

# What the backfill lists, and what it expands so that a subscription's coupons come with it.
SUBSCRIPTION_EXPAND = ["data.discounts", "data.discounts.source.coupon"]
INVOICE_STATUSES = {"open", "paid", "uncollectible", "void"}  # finalized at some point (not drafts)
CREATION_SLACK_SECONDS = 60  # a discount that starts within this of its subscription came with it


class StripePullError(RuntimeError):
    """A pull that could not finish, with a one-line message that never holds the API key."""


@dataclass
class StripePullReport:
    pull_file: Path | None  # the .jsonl.gz imported, None when there was nothing new
    first_pull: bool
    events_by_type: Counter = field(default_factory=Counter)  # events listed from the Events API
    backfill_by_type: Counter = field(default_factory=Counter)  # events synthesized from list endpoints
    objects_listed: Counter = field(default_factory=Counter)  # customers, subscriptions, invoices
    previous_cursor: str | None = None
    cursor: str | None = None
    window_start: int | None = None  # created of the oldest event Stripe still had (first pull)
    rate_limit_retries: int = 0
    cursor_expired: bool = False  # the cursor's event was older than Stripe keeps: see docs/stripe-api.md
    forbidden: list = field(default_factory=list)  # optional lists the key may not read (coupons)
    import_report: Any = None  # the StripeImportReport of import_stripe_log

    @property
    def events_pulled(self) -> int:
        return sum(self.events_by_type.values()) + sum(self.backfill_by_type.values())


# ---------------------------------------------------------------------------------------------- state

def state_dir(landing_dir: Path) -> Path:
    return Path(landing_dir) / STATE_DIR


def read_cursor(landing_dir: Path) -> dict:
    """The pull state: {"last_event_id", "last_event_created", "backfilled_at", "updated_at"}; {} before the
    first pull."""
    path = state_dir(landing_dir) / CURSOR_FILE
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise StripePullError(f"cannot read the pull cursor {path}: {error}; delete it to pull everything "
                              "Stripe keeps again (the import skips events it already has)") from None
    if not isinstance(state, dict):
        raise StripePullError(f"the pull cursor {path} is not a JSON object; delete it to start again")
    return state


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def _pull_lock(landing_dir: Path) -> Iterator[None]:
    """One pull per landing folder at a time (a scheduled Dagster run and a `subwh import stripe`)."""
    path = state_dir(landing_dir) / "api.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StripePullError(f"another Stripe pull into {landing_dir} is running; try again when it has "
                                  "finished") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------------------------- secrets

_KEY_PATTERN = re.compile(r"\b(sk|rk|pk)_(live|test)_[A-Za-z0-9*]+")


def scrub(text: str, api_key: str | None) -> str:
    """`text` without the API key (and without anything shaped like a Stripe key)."""
    if api_key:
        text = text.replace(api_key, "***")
    return _KEY_PATTERN.sub(r"\1_\2_***", text)


class _ScrubFilter(logging.Filter):
    def __init__(self, api_key: str):
        super().__init__()
        self.api_key = api_key

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = scrub(record.getMessage(), self.api_key), ()
        return True


@contextmanager
def _sdk_logs_without(api_key: str) -> Iterator[None]:
    """While a pull runs, the SDK's own log lines (logger "stripe", which at DEBUG include response bodies
    and error messages a server may fill with the key it was given) go through `scrub`; its printing to
    stderr (STRIPE_LOG=debug) is off, since a print cannot be filtered."""
    from stripe import _util

    saved = (stripe.log, _util.STRIPE_LOG)
    stripe.log, _util.STRIPE_LOG = None, None
    log_filter = _ScrubFilter(api_key)
    _util.logger.addFilter(log_filter)
    try:
        yield
    finally:
        _util.logger.removeFilter(log_filter)
        stripe.log, _util.STRIPE_LOG = saved


def _first_line(text: str) -> str:
    text = (text or "").strip()
    return text.splitlines()[0] if text else ""


# ------------------------------------------------------------------------------------------ API access

class _Api:
    """The SDK client plus the retries and error messages of this module."""

    def __init__(self, api_key: str, api_base: str | None, key_source: str, sleep: Callable[[float], None]):
        if not api_key:
            raise StripePullError(f"no Stripe API key: set {key_source} (a secret key sk_... or a restricted "
                                  "key rk_... with read access to events, customers, subscriptions, invoices, prices, coupons)")
        self.api_key = api_key
        self.api_base = (api_base or stripe.DEFAULT_API_BASE).rstrip("/")
        self.key_source = key_source
        self.sleep = sleep
        self.rate_limit_retries = 0
        self.client = stripe.StripeClient(
            api_key, base_addresses={"api": self.api_base}, max_network_retries=SDK_NETWORK_RETRIES,
        )

    def list_page(self, resource: str, params: dict, *, raise_invalid: bool = False,
                  forbidden_ok: bool = False) -> dict:
        """One page of GET /v1/<resource> as Stripe's JSON ({"data": [...], "has_more": ...}). A refused
        request (400/404) raises stripe.InvalidRequestError when `raise_invalid`, else StripePullError."""
        attempt = 0
        while True:
            try:
                # The raw JSON: the SDK's retries, headers and error classes without building a StripeObject
                # for every nested dict (which costs more than the request itself on large pages).
                return self.client.raw_request("get", f"/v1/{resource}", **params).data
            except stripe.RateLimitError as error:
                if attempt >= RATE_LIMIT_RETRIES:
                    raise StripePullError(
                        f"Stripe is still rate-limiting {self.api_base}/v1/{resource} after {attempt} retries; "
                        "nothing was imported, try again later") from None
                attempt += 1
                self.rate_limit_retries += 1
                self.sleep(_retry_delay(error, attempt))
            except stripe.AuthenticationError:
                raise StripePullError(
                    f"Stripe rejected the API key in {self.key_source} (401 at {self.api_base}): check the key "
                    "(sk_... or rk_..., live or test as intended); nothing was imported") from None
            except stripe.PermissionError:
                if forbidden_ok:  # an optional list (coupons): the caller goes on without it
                    return {"object": "list", "data": [], "has_more": False, "forbidden": True}
                raise StripePullError(
                    f"the API key in {self.key_source} may not read /v1/{resource} (403): give the restricted key "
                    "read access to events, customers, subscriptions, invoices, prices and coupons; nothing was imported") from None
            except stripe.APIConnectionError as error:
                reason = scrub(_first_line(getattr(error, "user_message", None) or str(error)), self.api_key)
                raise StripePullError(
                    f"cannot reach the Stripe API at {self.api_base} ({reason[:200]}); nothing was imported"
                ) from None
            except stripe.InvalidRequestError as error:
                if raise_invalid:
                    raise  # the caller decides (an expired cursor is one)
                raise self.invalid_request(resource, error) from None
            except stripe.StripeError as error:
                status = getattr(error, "http_status", None) or "?"
                message = scrub(_first_line(getattr(error, "user_message", None) or str(error)), self.api_key)
                raise StripePullError(
                    f"the Stripe API answered {status} for /v1/{resource}: {message[:300]}; nothing was imported"
                ) from None

    def invalid_request(self, resource: str, error: stripe.InvalidRequestError) -> StripePullError:
        message = scrub(_first_line(getattr(error, "user_message", None) or str(error)), self.api_key)
        return StripePullError(f"the Stripe API refused the request for /v1/{resource} "
                               f"({getattr(error, 'http_status', '?')}): {message[:300]}; nothing was imported")


def _retry_delay(error: stripe.StripeError, attempt: int) -> float:
    headers = getattr(error, "headers", None) or {}
    retry_after = headers.get("retry-after") or headers.get("Retry-After")
    try:
        if retry_after is not None:
            return min(max(float(retry_after), 0.0), RATE_LIMIT_MAX_DELAY)
    except ValueError:
        pass
    return min(RATE_LIMIT_BASE_DELAY * 2 ** (attempt - 1), RATE_LIMIT_MAX_DELAY)


# ------------------------------------------------------------------------------------------ the spool

class _Spool:
    """Events as JSON lines in a scratch file, with where each starts: written once, then read back in any
    order, so a large pull is never held in memory."""

    def __init__(self, folder: Path):
        fd, name = tempfile.mkstemp(dir=folder, prefix=".spool-", suffix=".tmp")
        self.path = Path(name)
        self.file = os.fdopen(fd, "w+b")
        self.offsets = array("q")
        self.created = array("q")

    def add(self, event: dict) -> int:
        self.offsets.append(self.file.tell())
        self.created.append(int(event.get("created") or 0))
        self.file.write(json.dumps(event, separators=(",", ":")).encode() + b"\n")
        return len(self.offsets) - 1

    def lines(self, order) -> Iterator[bytes]:
        self.file.flush()
        for index in order:
            self.file.seek(self.offsets[index])
            yield self.file.readline()

    def close(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------- the pull

def pull_stripe(
    landing_dir: Path,
    *,
    api_key: str,
    api_base: str | None = None,
    key_source: str = "STRIPE_API_KEY",
    progress: Callable[[str], None] | None = None,
    progress_bar: bool = False,
    importer: Callable[..., Any] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], float] = time.time,
) -> StripePullReport:
    """Pull what is new from Stripe into `landing_dir` (see the module docstring). `key_source` names where
    the key came from, for messages; `importer` defaults to `transforms.stripe.import_stripe_log`."""
    landing_dir = Path(landing_dir)
    say = progress or (lambda _message: None)
    if importer is None:
        from transforms.stripe import import_stripe_log as importer
    api = _Api(api_key, api_base, key_source, sleep)
    pulls = state_dir(landing_dir) / PULLS_DIR
    pulls.mkdir(parents=True, exist_ok=True)
    with _pull_lock(landing_dir), _sdk_logs_without(api_key):
        for stale in pulls.glob(".*.tmp"):  # left by a pull that was killed (under the lock: not a running one)
            stale.unlink(missing_ok=True)
        state = read_cursor(landing_dir)
        first_pull = not state.get("backfilled_at")
        report = StripePullReport(pull_file=None, first_pull=first_pull, previous_cursor=state.get("last_event_id"))
        started = int(now())
        events, synthetic = _Spool(pulls), _Spool(pulls)
        bar = _bar(progress_bar)
        final: Path | None = None
        try:
            chronological, newest, oldest_created, window = _pull_events(api, state, events, report, bar, say)
            report.window_start = oldest_created if oldest_created is not None else started
            synthetic_order: list[int] = []
            if first_pull:
                synthetic_order = _backfill(api, synthetic, report, window, report.window_start, bar, say)
            else:
                unknown = window.coupons_named - window.coupons_seen - _coupons_imported(landing_dir)
                if unknown:
                    synthetic_order = _fetch_coupons(api, synthetic, report, unknown, bar, say)
            total = len(chronological) + len(synthetic_order)
            if total == 0:
                say("stripe pull: nothing new")
                report.cursor = report.previous_cursor
                if first_pull:  # an account with no history yet: the next pull lists events only
                    _save_cursor(landing_dir, state, None, None, backfilled=True, now=now)
                return report
            final = pulls / f"pull-{datetime.fromtimestamp(started, UTC):%Y%m%dT%H%M%SZ}.jsonl.gz"
            n = 1
            while final.exists():
                n += 1
                final = pulls / f"pull-{datetime.fromtimestamp(started, UTC):%Y%m%dT%H%M%SZ}-{n}.jsonl.gz"
            _write_pull_file(final, synthetic.lines(synthetic_order), events.lines(chronological))
            report.pull_file = final
            say(f"stripe pull: {total} events written to {final}; importing")
            report.import_report = importer(
                final, landing_dir, progress=lambda phase, count: say(f"stripe import: {phase} {count:,}"))
            if newest is not None:
                report.cursor = newest["id"]
                _save_cursor(landing_dir, state, newest["id"], newest.get("created"), backfilled=True, now=now)
            else:
                report.cursor = report.previous_cursor
                _save_cursor(landing_dir, state, state.get("last_event_id"), state.get("last_event_created"),
                             backfilled=True, now=now)
            return report
        except BaseException:
            if final is not None:
                final.unlink(missing_ok=True)
            raise
        finally:
            report.rate_limit_retries = api.rate_limit_retries
            bar.close()
            events.close()
            synthetic.close()


def _save_cursor(landing_dir: Path, state: dict, event_id, created, *, backfilled: bool, now) -> None:
    stamp = datetime.fromtimestamp(now(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    new = {
        "last_event_id": event_id,
        "last_event_created": created,
        "backfilled_at": state.get("backfilled_at") or (stamp if backfilled else None),
        "updated_at": stamp,
    }
    _write_atomically(state_dir(landing_dir) / CURSOR_FILE, json.dumps(new, indent=2) + "\n")


class _NoBar:
    def update(self, _n: int = 1) -> None: ...
    def set_description(self, _text: str) -> None: ...
    def close(self) -> None: ...


def _bar(show: bool):
    if not show:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(unit=" objects", desc="stripe events", dynamic_ncols=True, mininterval=0.5)


def _write_pull_file(final: Path, *parts: Iterator[bytes]) -> None:
    tmp = final.with_name(f".{final.name}.tmp")
    try:
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=5, mtime=0) as out:
            for part in parts:
                for line in part:
                    out.write(line)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


@dataclass
class _Window:
    """What the events pulled say about the objects they touch (used by the first pull's backfill)."""

    created_ids: dict = field(default_factory=lambda: {"customer": set(), "subscription": set()})
    coupons_named: set = field(default_factory=set)  # coupon ids discounts name without the coupon object
    coupons_seen: set = field(default_factory=set)  # coupons described by coupon.* events
    invoice_events: dict = field(default_factory=dict)  # invoice id -> set of event types
    earliest: dict = field(default_factory=dict)  # subscription id -> (object, previous_attributes) of its oldest event

    def see(self, event: dict) -> None:
        kind = event.get("type") or ""
        obj = (event.get("data") or {}).get("object") or {}
        object_id = obj.get("id")
        if not object_id:
            return
        if kind.startswith("coupon."):
            self.coupons_seen.add(object_id)
        elif kind.startswith(("customer.subscription.", "customer.discount.")):
            self.coupons_named.update(coupon_ids_named(obj))
        if kind == "customer.created":
            self.created_ids["customer"].add(object_id)
        elif kind.startswith("customer.subscription."):
            if kind == "customer.subscription.created":
                self.created_ids["subscription"].add(object_id)
            # events arrive newest first on a first pull: the last one seen is the oldest
            self.earliest[object_id] = (obj, (event.get("data") or {}).get("previous_attributes") or {})
        elif kind.startswith("invoice."):
            self.invoice_events.setdefault(object_id, set()).add(kind)


def _pull_events(api: _Api, state: dict, spool: _Spool, report: StripePullReport, bar, say):
    """List the events newer than the cursor into `spool`. Returns (indexes in chronological order, the newest
    event, created of the oldest event, the _Window)."""
    window = _Window()
    cursor = state.get("last_event_id")
    bar.set_description("stripe events")
    if cursor:
        try:
            return _events_after(api, cursor, spool, report, bar, say, window)
        except stripe.InvalidRequestError as error:
            if getattr(error, "code", None) != "resource_missing" or getattr(error, "param", None) != "ending_before":
                raise api.invalid_request("events", error) from None
            # The cursor's event is older than the 30 days Stripe keeps: list what Stripe has since its time.
            report.cursor_expired = True
            since = state.get("last_event_created")
            say(f"stripe pull: the cursor event {cursor} is no longer kept by Stripe (more than 30 days since the "
                "last pull); pulling every event it still has. Changes in between are lost (docs/stripe-api.md)")
            return _events_newest_first(api, spool, report, bar, window, since)
    return _events_newest_first(api, spool, report, bar, window, None)


def _events_newest_first(api, spool, report, bar, window, since):
    """Every event Stripe keeps (since `since`, inclusive), paging back in time with starting_after."""
    params: dict = {"limit": PAGE_SIZE}
    if since:
        params["created"] = {"gte": int(since)}
    received: list[int] = []
    newest = oldest = None
    while True:
        page = api.list_page("events", params)
        data = page.get("data") or []
        for event in data:
            if newest is None:
                newest = event
            oldest = event
            received.append(spool.add(event))
            report.events_by_type[event.get("type") or "?"] += 1
            window.see(event)
        bar.update(len(data))
        if not page.get("has_more") or not data:
            break
        params["starting_after"] = data[-1]["id"]
    received.reverse()
    return received, newest, (oldest or {}).get("created"), window


def _events_after(api, cursor, spool, report, bar, say, window):
    """The events newer than `cursor`, paging forward in time with ending_before: each page holds the events
    just newer than the page before it, newest first within the page."""
    params: dict = {"limit": PAGE_SIZE, "ending_before": cursor}
    order: list[int] = []
    newest = oldest = None
    while True:
        # only the first request names the cursor event; an expired one is handled by the caller
        page = api.list_page("events", params, raise_invalid=newest is None)
        data = page.get("data") or []
        for event in reversed(data):
            if oldest is None:
                oldest = event
            newest = event
            order.append(spool.add(event))
            report.events_by_type[event.get("type") or "?"] += 1
            window.see(event)
        bar.update(len(data))
        if not page.get("has_more") or not data:
            break
        params["ending_before"] = data[0]["id"]
    return order, newest, (oldest or {}).get("created"), window


def _list_all(api: _Api, resource: str, params: dict, report: StripePullReport, bar, say=None) -> Iterator[dict]:
    """Every object of a list endpoint. With `say`, the list is optional: a key that may not read it (403)
    gives none, and `say` tells so."""
    params = {"limit": PAGE_SIZE, **params}
    bar.set_description(f"stripe {resource}")
    while True:
        page = api.list_page(resource, params, forbidden_ok=say is not None)
        if page.get("forbidden"):
            report.forbidden.append(resource)
            say(f"stripe pull: the API key may not read /v1/{resource} (403): going on without it; give the "
                f"restricted key read access to {resource} (docs/stripe-api.md)")
            return
        data = page.get("data") or []
        for obj in data:
            report.objects_listed[resource] += 1
            yield obj
        bar.update(len(data))
        if not page.get("has_more") or not data:
            return
        params["starting_after"] = data[-1]["id"]


# ------------------------------------------------------------------------------------------ backfill

def _backfill(api: _Api, spool: _Spool, report: StripePullReport, window: _Window, window_start: int, bar, say):
    """Synthesize Event-shaped dicts for what happened before `window_start` from the list endpoints; returns
    their spool indexes ordered by `created` (customers, then subscriptions, then invoices among equals)."""
    say("stripe pull: first pull, backfilling customers, subscriptions and invoices older than the events "
        "Stripe keeps")
    group = array("b")

    def add(events: list[dict], rank: int) -> None:
        for event in events:
            spool.add(event)
            group.append(rank)
            report.backfill_by_type[event["type"]] += 1

    # Coupons first (a discount of API version 2025-09-30.clover on names its coupon by id only).
    coupons_listed = set()
    for coupon in _list_all(api, "coupons", {}, report, bar, say):
        add(coupon_events(coupon), -1)
        coupons_listed.add(coupon.get("id"))
    for customer in _list_all(api, "customers", {}, report, bar):
        add(customer_events(customer, window_start, window), 0)
    # Prices (active or not) for the terms invoices show: an invoice line names its price by id.
    prices = {price["id"]: price for price in _list_all(api, "prices", {}, report, bar) if price.get("id")}
    history: dict[str, list] = {}  # subscription id -> [(period start, period end, terms)] billed before the window
    for invoice in _list_all(api, "invoices", {}, report, bar):
        add(invoice_events(invoice, window_start, window), 2)
        billed = invoice_terms(invoice, window_start)
        if billed is not None:
            history.setdefault(billed[0], []).append(billed[1:])
    for subscription in _list_all(api, "subscriptions", {"status": "all", "expand": SUBSCRIPTION_EXPAND}, report, bar):
        sub_id = subscription.get("id")
        # A deleted coupon is no longer listed, but its discounts still apply: the expanded one describes it.
        for coupon in _coupons_embedded(subscription):
            if coupon["id"] not in coupons_listed:
                coupons_listed.add(coupon["id"])
                add(coupon_events(coupon), -1)
        add(subscription_events(subscription, window_start, window, window.earliest.get(sub_id),
                                history.get(sub_id), prices), 1)
    return sorted(range(len(spool.offsets)), key=lambda i: (spool.created[i], group[i]))


def coupon_events(coupon: dict) -> list[dict]:
    """A coupon as the coupon.created event the importer indexes it from (a coupon is never changed in its
    terms, so one event per coupon is all there is to know)."""
    if not isinstance(coupon, dict) or not coupon.get("id"):
        return []
    return [synthetic_event(f"evt_backfill_coupon_{coupon['id']}", "coupon.created", int(coupon.get("created") or 0),
                            coupon)]


def coupon_ids_named(obj: dict) -> set[str]:
    """Coupon ids a subscription or discount object names without the coupon itself (clover's `source.coupon`)."""
    discounts = [obj] if obj.get("object") == "discount" else []
    if isinstance(obj.get("discount"), dict):
        discounts.append(obj["discount"])
    discounts += [d for d in obj.get("discounts") or [] if isinstance(d, dict)]
    named = set()
    for discount in discounts:
        coupon = discount.get("coupon")
        if coupon is None and isinstance(discount.get("source"), dict):
            coupon = discount["source"].get("coupon")
        if isinstance(coupon, str) and coupon:
            named.add(coupon)
    return named


def _coupons_embedded(subscription: dict) -> list[dict]:
    """The coupon objects a subscription's (expanded) discounts carry."""
    found = []
    for discount in _discounts_of(subscription):
        coupon = discount.get("coupon")
        if coupon is None and isinstance(discount.get("source"), dict):
            coupon = discount["source"].get("coupon")
        if isinstance(coupon, dict) and isinstance(coupon.get("id"), str) and coupon["id"]:
            found.append(coupon)
    return found


def _coupons_imported(landing_dir: Path) -> set[str]:
    """Coupon ids an earlier import of this landing folder already knows (its state, read only)."""
    path = state_dir(landing_dir) / "state.sqlite"
    if not path.exists():
        return set()
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
        try:
            return {row[0] for row in con.execute("select id from coupons")}
        finally:
            con.close()
    except sqlite3.Error:  # a state from before coupons were kept: every named coupon is fetched
        return set()


def _fetch_coupons(api: _Api, spool: _Spool, report: StripePullReport, wanted: set[str], bar, say) -> list[int]:
    """The coupons in `wanted` from the coupon list, as coupon.created events; returns their spool indexes. A
    coupon the list no longer has (deleted) stays unknown: the import reports the discounts that name it."""
    say(f"stripe pull: {len(wanted)} coupon(s) named by id and not yet known; listing coupons")
    for coupon in _list_all(api, "coupons", {}, report, bar, say):
        if coupon.get("id") in wanted:
            for event in coupon_events(coupon):
                spool.add(event)
                report.backfill_by_type[event["type"]] += 1
    return sorted(range(len(spool.offsets)), key=lambda i: spool.created[i])


def synthetic_event(event_id: str, kind: str, created: int, obj: dict, previous: dict | None = None) -> dict:
    """An Event as the Events API returns it, for a fact the backfill knows from an object."""
    data: dict = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": event_id,
        "object": "event",
        "api_version": _api_version(),
        "created": int(created),
        "type": kind,
        "livemode": bool(obj.get("livemode", False)),
        "data": data,
        "request": {"id": None, "idempotency_key": None},
        "pending_webhooks": 0,
        "subwh_backfill": True,  # not Stripe's: marks events this module made up from objects
    }


def _api_version() -> str:
    from stripe._api_version import _ApiVersion

    return _ApiVersion.CURRENT


def customer_events(customer: dict, window_start: int, window: _Window) -> list[dict]:
    created = customer.get("created")
    if (not customer.get("id") or created is None or created >= window_start
            or customer["id"] in window.created_ids["customer"] or customer.get("deleted")):
        return []
    return [synthetic_event(f"evt_backfill_{customer['id']}", "customer.created", created, customer)]


def _deep_merge(current: dict, previous: dict) -> dict:
    """`current` with `previous` (an event's previous_attributes) put back: the object before the event."""
    merged = copy.deepcopy(current)
    for key, value in previous.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and value.get("object") != "list":
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _discounts_of(subscription: dict) -> list[dict]:
    found = []
    if isinstance(subscription.get("discount"), dict):  # API versions before 2024-06 (one discount)
        found.append(subscription["discount"])
    found += [d for d in subscription.get("discounts") or [] if isinstance(d, dict)]
    return found


def _id_of(value) -> str | None:
    if isinstance(value, dict):
        return value.get("id")
    return value if isinstance(value, str) else None


def invoice_terms(invoice: dict, window_start: int) -> tuple[str, int, int | None, dict] | None:
    """(subscription id, period start, period end, {item id: (price id, quantity)}) billed by an invoice
    finalized before `window_start`, from its subscription lines that are not prorations (both API shapes:
    `subscription_item`/`price`/`proration` on the line, or `parent.subscription_item_details` and
    `pricing.price_details.price`); None when it bills no subscription, or lists more lines than it holds."""
    if invoice.get("status") not in INVOICE_STATUSES:
        return None
    finalized_at = (invoice.get("status_transitions") or {}).get("finalized_at")
    lines = invoice.get("lines")
    if finalized_at is None or finalized_at >= window_start or not isinstance(lines, dict) or lines.get("has_more"):
        return None
    parent = invoice.get("parent") if isinstance(invoice.get("parent"), dict) else {}
    sub_id = _id_of(invoice.get("subscription")) or _id_of((parent.get("subscription_details") or {}).get("subscription"))
    terms: dict = {}
    starts, ends = [], []
    for line in lines.get("data") or []:
        if not isinstance(line, dict):
            continue
        line_parent = line.get("parent") if isinstance(line.get("parent"), dict) else {}
        details = line_parent.get("subscription_item_details") or {}
        item_id = _id_of(line.get("subscription_item")) or _id_of(details.get("subscription_item"))
        proration = line.get("proration") if "proration" in line else details.get("proration")
        pricing = line.get("pricing") if isinstance(line.get("pricing"), dict) else {}
        price_id = _id_of(line.get("price")) or _id_of((pricing.get("price_details") or {}).get("price"))
        period = line.get("period") if isinstance(line.get("period"), dict) else {}
        if not item_id or proration or not price_id or period.get("start") is None:
            continue
        sub_id = sub_id or _id_of(details.get("subscription")) or _id_of(line.get("subscription"))
        terms[item_id] = (price_id, line.get("quantity"))
        starts.append(period["start"])
        if period.get("end") is not None:
            ends.append(period["end"])
    if not terms or not sub_id or min(starts) >= window_start:
        return None
    return sub_id, min(starts), max(ends) if ends else None, terms


def _terms_of(subscription: dict) -> dict:
    items = subscription.get("items") if isinstance(subscription.get("items"), dict) else {}
    return {item.get("id"): (_id_of(item.get("price")), item.get("quantity"))
            for item in items.get("data") or [] if isinstance(item, dict)}


def _with_terms(obj: dict, terms: dict, prices: dict) -> dict | None:
    """`obj` (a subscription snapshot) billing `terms`; None when a price is not known."""
    items = obj.get("items") if isinstance(obj.get("items"), dict) else {"object": "list", "data": []}
    current = {item.get("id"): item for item in items.get("data") or [] if isinstance(item, dict)}
    new_items = []
    for item_id, (price_id, quantity) in terms.items():
        item = copy.deepcopy(current.get(item_id) or {"id": item_id, "object": "subscription_item"})
        price = prices.get(price_id) or (item.get("price") if _id_of(item.get("price")) == price_id else None)
        if not isinstance(price, dict):
            return None
        item["price"], item["quantity"] = copy.deepcopy(price), quantity
        if isinstance(item.get("plan"), dict) and item["plan"].get("id") != price_id:
            item.pop("plan")  # 2020-08-27 items carry the price as a plan too: a stale one would contradict it
        new_items.append(item)
    out = copy.deepcopy(obj)
    out["items"] = {**items, "data": new_items}
    if len(new_items) == 1:
        if "quantity" in out:
            out["quantity"] = new_items[0]["quantity"]
        if isinstance(out.get("plan"), dict) and out["plan"].get("id") != _id_of(new_items[0]["price"]):
            out.pop("plan")
    return out


def _billed_changes(created: int, window_start: int, state: dict, billed: list | None, prices: dict):
    """The terms the subscription was created with and [(when, terms)] changes after, from the invoices billed
    before the window: a change is shown from the first period billed at the new terms. If the window's
    terms differ from the last invoice's, they are shown from that invoice's period end (or one second before
    the window opens, if that is later). None when the invoices say nothing usable."""
    billed = sorted((b for b in billed or () if b[0] >= created - CREATION_SLACK_SECONDS),
                    key=lambda b: (b[0], b[1] or 0))  # stable: invoices of the same period keep their order
    if not billed:
        return None
    creation = billed[0][2]
    changes, previous, last_end = [], creation, billed[0][1]
    for start, end, terms in billed[1:]:
        if terms != previous:
            if changes and changes[-1][0] == start:
                changes.pop()  # two invoices for the same instant: the later one listed holds
            changes.append((start, terms))
            previous = terms
        last_end = end
    final = _terms_of(state)
    if final and final != previous:
        when = min(last_end or window_start - 1, window_start - 1)
        changes.append((max(when, (changes[-1][0] if changes else created) + 1), final))
    needed = {price for _, terms in [(created, creation), *changes] for price, _q in terms.values()}
    known = set(prices) | {price for price, _q in final.values()}
    return (creation, changes) if needed <= known else None


def subscription_events(subscription: dict, window_start: int, window: _Window,
                        earliest: tuple[dict, dict] | None = None, billed: list | None = None,
                        prices: dict | None = None) -> list[dict]:
    """The story of a subscription before `window_start`: created (trialing or active, with the terms it had
    when the window opened), the trial's end, a discount added later, a cancellation requested, the end.
    `earliest` is the subscription's oldest event in the window (object, previous_attributes): the terms
    before it are that object with its previous attributes put back, so a change inside the window is not
    shown as the subscription's terms from its start. `billed` [(period start, period end, terms)] are the
    invoices before the window (`invoice_terms`): changes of price or quantity they show become changes at
    the first period billed at the new terms (`_billed_changes`); without them the terms at the window are
    the terms from the start."""
    sub_id = subscription.get("id")
    created = subscription.get("created")
    if not sub_id or created is None or created >= window_start or sub_id in window.created_ids["subscription"]:
        return []  # its creation event is in the window, and with it the whole story
    state = _deep_merge(*earliest) if earliest else copy.deepcopy(subscription)
    if state.get("status") in ("incomplete", "incomplete_expired"):
        return []  # never paid: nothing to show (if it is paid later, its event in a later pull starts it)
    trial_start, trial_end = state.get("trial_start"), state.get("trial_end")
    ended_at = state.get("ended_at")
    cancel_requested = bool(state.get("cancel_at_period_end") or state.get("cancel_at"))
    canceled_at = state.get("canceled_at")
    trialing = bool(trial_start is not None and trial_end is not None and trial_end > trial_start)
    prices = prices or {}
    history = _billed_changes(created, window_start, state, billed, prices)
    if history is not None and ended_at is not None:
        history = (history[0], [(when, terms) for when, terms in history[1] if when < ended_at])

    def terms_at(when: int) -> dict | None:
        if history is None:
            return None
        terms = history[0]
        for change_at, change in history[1]:
            if change_at <= when:
                terms = change
        return terms

    # Paused when the window opens (status `paused`: a trial that ended without a payment method; or invoices
    # not collected, `pause_collection`): from the trial's end, else from just before the window (no object
    # says when a pause began).
    paused_now = (state.get("status") == "paused" or bool(state.get("pause_collection"))) and not (
        ended_at is not None and ended_at < window_start)
    pause_at_trial_end = paused_now and state.get("status") == "paused" and trialing and trial_end < window_start

    def at(status: str, *, cancel: bool, ended: bool, discounts: bool = True, when: int | None = None,
           paused: bool = False) -> dict:
        terms = terms_at(created if when is None else when)
        obj = (_with_terms(state, terms, prices) if terms is not None else None) or copy.deepcopy(state)
        if paused:
            status = "paused" if state.get("status") == "paused" else status
        elif "pause_collection" in obj:
            obj["pause_collection"] = None
        obj["status"] = status
        if not cancel:
            obj.update(cancel_at_period_end=False, cancel_at=None, canceled_at=None)
        if not ended:
            obj["ended_at"] = None
        if not discounts:
            if "discount" in obj:
                obj["discount"] = None
            if "discounts" in obj:
                obj["discounts"] = []
        return obj

    # A discount that started after the subscription did is added at its start (when that is before the window).
    late = [d for d in _discounts_of(state) if (d.get("start") or created) > created + CREATION_SLACK_SECONDS]
    discount_start = min((d["start"] for d in late), default=None)
    # added inside the window: its own event says so; either way the subscription starts without it
    discount_added = discount_start is not None and discount_start < window_start
    with_discount_at_creation = discount_start is None

    events = []
    status_now = "trialing" if trialing else "active"
    events.append(synthetic_event(f"evt_backfill_{sub_id}", "customer.subscription.created", created,
                                  at(status_now, cancel=False, ended=False, discounts=with_discount_at_creation)))
    story: list[tuple[int, str, str, dict, dict]] = []  # (when, id suffix, type, object, previous)
    if trialing and trial_end < window_start and not (ended_at is not None and ended_at <= trial_end):
        story.append((trial_end, "trial_end", "customer.subscription.updated",
                      {"status": "active", "paused": pause_at_trial_end}, {"status": "trialing"}))
    if paused_now and not pause_at_trial_end:
        story.append((window_start - 1, "paused", "customer.subscription.updated", {"paused": True}, None))
    if discount_added:
        previous = {}
        if "discount" in state:
            previous["discount"] = None
        if "discounts" in state:
            previous["discounts"] = []
        story.append((discount_start, "discount", "customer.subscription.updated", {"discounts": True}, previous))
    if (cancel_requested and canceled_at is not None and canceled_at < window_start
            and not (ended_at is not None and ended_at <= canceled_at)):
        story.append((canceled_at, "cancel_requested", "customer.subscription.updated", {"cancel": True},
                      {"cancel_at_period_end": False, "cancel_at": None, "canceled_at": None}))
    if ended_at is not None and ended_at < window_start:
        story.append((ended_at, "deleted", "customer.subscription.deleted", {"ended": True}, None))
    for when, _terms in (history[1] if history else []):
        story.append((when, f"billed_{when}", "customer.subscription.updated", {}, None))
    story.sort(key=lambda item: item[0])
    status, has_discount, cancel, paused = status_now, with_discount_at_creation, False, False
    for when, suffix, kind, change, previous in story:
        if change.get("status"):
            status = change["status"]
        has_discount = has_discount or bool(change.get("discounts"))
        cancel = cancel or bool(change.get("cancel"))
        paused = paused or bool(change.get("paused"))
        ended = bool(change.get("ended"))
        obj = at("canceled" if ended else status, cancel=cancel or ended, ended=ended, discounts=has_discount,
                 when=when, paused=paused and not ended)
        events.append(synthetic_event(f"evt_backfill_{sub_id}_{suffix}", kind, when, obj, previous))
    return events


def invoice_events(invoice: dict, window_start: int, window: _Window) -> list[dict]:
    """invoice.finalized and invoice.paid for an invoice finalized (paid) before `window_start`, unless the
    window has the real event."""
    invoice_id = invoice.get("id")
    if not invoice_id or invoice.get("status") not in INVOICE_STATUSES:
        return []
    seen = window.invoice_events.get(invoice_id, set())
    transitions = invoice.get("status_transitions") or {}
    events = []
    finalized_at = transitions.get("finalized_at")
    if finalized_at is not None and finalized_at < window_start and "invoice.finalized" not in seen:
        obj = copy.deepcopy(invoice)
        obj["status"] = "open"
        events.append(synthetic_event(f"evt_backfill_{invoice_id}_finalized", "invoice.finalized", finalized_at, obj))
    paid_at = transitions.get("paid_at")
    if (invoice.get("status") == "paid" and paid_at is not None and paid_at < window_start
            and not seen & {"invoice.paid", "invoice.payment_succeeded"}):
        events.append(synthetic_event(f"evt_backfill_{invoice_id}_paid", "invoice.paid", paid_at, invoice))
    return events
