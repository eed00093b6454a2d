"""Stripe events -> landing-file rows (docs/input-format.md); the mapping table is in docs/stripe.md.
("§1" below: the landing format of docs/input-format.md; a "§1 subscription" is a subscription_id there.)

A Stripe event carries a snapshot of its object after the change (`data.object`). For customers, invoices
and charges each event maps on its own. A subscription's §1 events are what changed between its previous
snapshot (kept in `State`) and this one: the first snapshot starts it, later ones change, pause, resume,
schedule or withdraw a cancellation, or end it. So the mapper needs the events of one subscription in
the order they happened (the importer sorts them by `created`), and works from the object alone: an
event synthesized from a list endpoint (`customer.subscription.created` with today's subscription) maps
like a real one, and `data.previous_attributes` is read only where it exists (a charge's earlier refunds).

Both API shapes are read: 2020-08-27-era objects (subscription `current_period_end`, one `discount` with a
`coupon`, `invoice.subscription`, `charge.invoice`) and current ones (periods on the items, a `discounts`
array whose entries carry `coupon` or `source.coupon`, `invoice.parent.subscription_details`, line
`parent.subscription_item_details`, invoice payments).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from transforms.stripe.currency import money_text, to_major
from transforms.stripe.state import State

SUBSCRIPTION_TYPES = ("customer.subscription.created", "customer.subscription.updated",
                      "customer.subscription.deleted", "customer.subscription.paused",
                      "customer.subscription.resumed", "customer.subscription.trial_will_end",
                      "customer.subscription.pending_update_applied", "customer.subscription.pending_update_expired")
CUSTOMER_TYPES = ("customer.created", "customer.updated")
INVOICE_TYPES = ("invoice.finalized", "invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed")
# Read for what later events need (a refund's invoice; a discount referred to by id), never written.
# From API version 2025-09-30.clover a Discount names its coupon by id (`source.coupon`), even in events:
# coupons are indexed from coupon.* events (and the API pull's coupon list) to resolve it.
INDEX_TYPES = ("invoice.created", "invoice.updated", "invoice_payment.paid", "customer.discount.created",
               "customer.discount.updated", "customer.discount.deleted", "coupon.created", "coupon.updated",
               "coupon.deleted")
CHARGE_TYPES = ("charge.refunded",)
MAPPED_TYPES = frozenset(SUBSCRIPTION_TYPES + CUSTOMER_TYPES + INVOICE_TYPES + INDEX_TYPES + CHARGE_TYPES)

# Order of events within the same second (Stripe's `created` has whole seconds): a customer before its
# subscriptions, a subscription's creation before its updates, an invoice before its payment, a payment
# before its refund.
TYPE_RANK = {
    "coupon.created": 0, "coupon.updated": 0, "coupon.deleted": 0, "customer.created": 0, "customer.updated": 1, "customer.discount.created": 2, "customer.discount.updated": 2,
    "customer.discount.deleted": 2, "customer.subscription.created": 3, "customer.subscription.updated": 4,
    "customer.subscription.paused": 4, "customer.subscription.resumed": 4,
    "customer.subscription.trial_will_end": 4, "customer.subscription.pending_update_applied": 4,
    "customer.subscription.pending_update_expired": 4, "customer.subscription.deleted": 5,
    "invoice.created": 6, "invoice.updated": 7, "invoice.finalized": 7, "invoice_payment.paid": 8,
    "invoice.payment_failed": 8, "invoice.paid": 9, "invoice.payment_succeeded": 9, "charge.refunded": 10,
}

# Stripe subscription status -> the §1 state it means (docs/stripe.md): unpaid keeps MRR like past_due
# (docs/metrics.md: a failed payment does not change MRR until the subscription is canceled).
STATUS_KIND = {"trialing": "trialing", "active": "active", "past_due": "active", "unpaid": "active",
               "paused": "paused", "canceled": "canceled", "incomplete_expired": "canceled",
               "incomplete": "incomplete"}
# Stripe intervals the §1 contract cannot carry are converted to a monthly price (docs/stripe.md).
MONTHS_PER = {"week": Decimal(52) / Decimal(12), "day": Decimal(365) / Decimal(12)}
SIX_PLACES = Decimal("0.000001")
LAST_INSTANT = 253402300799  # 9999-12-31T23:59:59Z

TERM_FIELDS = ("plan_id", "billing_interval", "interval_count", "quantity", "unit_price", "currency",
               "discount_pct", "discount_amount")


class NotAnEvent(ValueError):
    """The JSON is not a Stripe Event (the line goes to DIR/rejected/)."""


def check_event(value) -> tuple[str, str, int]:
    """(id, type, created) of a Stripe Event, or NotAnEvent saying what is wrong."""
    if not isinstance(value, dict):
        raise NotAnEvent(f"a JSON {type(value).__name__}, not an object")
    kind = value.get("object")
    if kind is not None and kind != "event":
        raise NotAnEvent(f"object is {kind!r}, not 'event'")
    event_id, event_type, created = value.get("id"), value.get("type"), value.get("created")
    if not isinstance(event_id, str) or not event_id:
        raise NotAnEvent("no event id")
    if not isinstance(event_type, str) or not event_type:
        raise NotAnEvent("no event type")
    if not isinstance(created, int) or isinstance(created, bool) or not 0 <= created <= LAST_INSTANT:
        raise NotAnEvent("created is not a Unix timestamp")
    data = value.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise NotAnEvent("no data.object")
    return event_id, event_type, created


def iso(ts: int) -> str:
    if not 0 <= ts <= LAST_INSTANT:
        raise ValueError(f"{ts} is not a Unix timestamp of years 1970-9999")
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def day(ts: int) -> str:
    return iso(ts)[:10]


def _id(value) -> str | None:
    """An expandable field: the id, whether Stripe sent the id or the expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass
class Plan:
    plan_id: str
    plan_name: str
    currency: str
    unit_price: Decimal  # per billing interval, major unit
    months: Decimal  # months one charge covers


@dataclass
class MappingStats:
    customers: set = field(default_factory=set)
    subscriptions: set = field(default_factory=set)
    not_imported: Counter = field(default_factory=Counter)  # reason -> count
    stale: int = 0  # a subscription's snapshot older than one already imported
    # discounts left out because their coupon (or the discount) is known by id only:
    # (subscription id, "coupon X" / "discount di_Y") -> the first event that met it
    unresolved_discounts: dict = field(default_factory=dict)
    currencies: set = field(default_factory=set)  # currencies of the terms and money mapped (upper case)


class Mapper:
    """Maps one event at a time (in `created` order) to §1 rows: [(stream, row), ...]."""

    def __init__(self, state: State):
        self.state = state
        self.plans: dict[str, Plan] = {}
        self.stats = MappingStats()

    # ------------------------------------------------------------------------------------------ dispatch

    def map(self, event: dict) -> list[tuple[str, dict]]:
        event_type = event["type"]
        obj = event["data"]["object"]
        if event_type in SUBSCRIPTION_TYPES:
            return self._subscription(event, obj)
        if event_type in CUSTOMER_TYPES:
            return self._customer(event, obj)
        if event_type in INVOICE_TYPES:
            return self._invoice(event, obj)
        if event_type in CHARGE_TYPES:
            return self._refund(event, obj)
        if event_type in ("invoice.created", "invoice.updated"):
            self._index_invoice(obj)
        elif event_type == "invoice_payment.paid":
            self._index_invoice_payment(obj)
        elif event_type.startswith("customer.discount."):
            self._index_discount(event_type, obj)
        elif event_type.startswith("coupon."):
            self._index_coupon(obj)
        return []

    # ----------------------------------------------------------------------------------------- customers

    def _customer(self, event: dict, obj: dict) -> list[tuple[str, dict]]:
        customer_id = _id(obj.get("id"))
        if customer_id is None:
            self.stats.not_imported["customer without id"] += 1
            return []
        self.stats.customers.add(customer_id)
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        country = None
        for holder in (obj.get("address"), (obj.get("shipping") or {}).get("address")):
            if isinstance(holder, dict) and holder.get("country"):
                country = holder["country"]
                break
        fields = {
            "account_name": obj.get("name") or obj.get("email") or customer_id,
            "segment": metadata.get("segment") or "unknown",
            "country": country or "unknown",
            "sales_owner": metadata.get("sales_owner") or None,
        }
        if self.state.get("customers", customer_id) == fields:
            return []  # an update of fields the warehouse does not read (a card, a balance)
        self.state.put("customers", customer_id, fields)
        row = {"event_id": event["id"], "event_type": "account_created", "occurred_at": iso(event["created"]),
               "account_id": customer_id}
        row.update({k: v for k, v in fields.items() if v is not None})
        return [("subscription_events", row)]

    # ------------------------------------------------------------------------------------- subscriptions

    def _subscription(self, event: dict, sub: dict) -> list[tuple[str, dict]]:
        sub_id, customer = _id(sub.get("id")), _id(sub.get("customer"))
        if sub_id is None or customer is None:
            self.stats.not_imported["subscription without id or customer"] += 1
            return []
        self.stats.subscriptions.add(sub_id)
        at = event["created"]
        previous = self.state.get("subscriptions", sub_id)
        if previous is not None and at < previous["last"]:
            self.stats.stale += 1  # an older snapshot than one already mapped: history it cannot restate
            return []
        state = previous or {"items": {}, "keys": {}}
        kind = STATUS_KIND.get(sub.get("status"), "active")
        paused = kind == "paused" or bool(sub.get("pause_collection"))
        items = self._items(sub)
        first_sight = previous is None

        # §1 subscription ids: a single-item subscription is its own id; each item of a multi-item one is
        # its item id. An id once given stays with its item; a single item that replaces the only other
        # takes the subscription's id over (a plan change).
        assigned: dict[str, str] = {}
        live_keys = {state["items"][i] for i, *_ in items if i in state["items"]}
        for item_id, *_ in items:
            if item_id in state["items"]:
                assigned[item_id] = state["items"][item_id]
            elif len(items) == 1 and sub_id not in live_keys:
                assigned[item_id] = sub_id
            else:
                assigned[item_id] = item_id
        discounts = self._discounts(sub, at, event["id"])
        terms_now = self._terms(items, assigned, discounts, at, sub.get("currency"))
        ends = sorted({d["end"] for d in discounts if d["end"] is not None and d["end"] > at})
        terms_after = self._terms(items, assigned, discounts, ends[0], sub.get("currency")) if ends else None
        cancel_at = self._scheduled_cancel(sub, items) if kind != "canceled" else None

        rows: list[tuple[str, dict, str]] = []  # (key, row, tag)

        def emit(key: str, event_type: str, tag: str, occurred: int, effective: int | None = None, **fields):
            row = {"event_type": event_type, "occurred_at": iso(occurred), "account_id": customer,
                   "subscription_id": key}
            if effective is not None and effective != occurred:
                row["effective_at"] = iso(effective)
            row.update(fields)
            rows.append((key, row, tag))

        new_keys: dict[str, dict] = {}
        for item_id, *_ in items:
            key = assigned[item_id]
            ks = state["keys"].get(key) or {"kind": None, "open": False, "started": False, "paused": False,
                                             "terms": None, "cancel": None, "dend": None, "closed": False}
            self._remember_plan(items, item_id)
            if ks["closed"]:
                new_keys[key] = ks  # Stripe never revives a canceled subscription
                continue
            terms = terms_now[key]
            if ks["kind"] is None:
                # First sight of this §1 subscription. A subscription seen for the first time (perhaps from a
                # list endpoint, long after it began) starts at its own dates; an item added later, now.
                begun = at
                trial_start, trial_end = _int(sub.get("trial_start")), _int(sub.get("trial_end"))
                if first_sight:
                    begun = _int(sub.get("start_date")) or _int(sub.get("created")) or at
                if first_sight and trial_start is not None and (
                        kind == "trialing" or (trial_end is not None and trial_end <= at)):
                    emit(key, "trial_started", "trial", min(trial_start, at), plan_id=terms["plan_id"])
                    ks["open"] = True
                    if kind != "trialing":
                        begun = trial_end
                elif kind == "trialing":
                    emit(key, "trial_started", "trial", at, plan_id=terms["plan_id"])
                    ks["open"] = True
                if kind == "active" or (kind == "canceled" and self._was_paid(sub)):
                    emit(key, "subscription_started", "start", min(begun, at), **self._full(terms))
                    ks.update(started=True, open=True, terms=terms)
            elif kind == "trialing" and not ks["open"]:
                emit(key, "trial_started", "trial", at, plan_id=terms["plan_id"])
                ks["open"] = True
            elif kind == "active" and not ks["started"]:
                emit(key, "subscription_started", "start", at, **self._full(terms))
                ks.update(started=True, open=True, terms=terms)
            elif kind in ("active", "paused") and ks["started"]:
                changed = {f: terms[f] for f in TERM_FIELDS if terms[f] != (ks["terms"] or {}).get(f)}
                if changed:
                    emit(key, "subscription_changed", "change", at, **changed)
                    ks["terms"] = terms
            # Pause: Stripe's `pause_collection` (invoices not collected) and status `paused` (a trial that
            # ended without a payment method, after a paid period) both stop revenue until they clear.
            if ks["started"] and kind != "canceled":
                if paused and not ks["paused"]:
                    emit(key, "subscription_paused", "pause", at)
                elif not paused and ks["paused"]:
                    emit(key, "subscription_resumed", "resume", at)
                ks["paused"] = paused
            # A scheduled cancellation (cancel_at_period_end or cancel_at): set, moved, or withdrawn.
            if ks["open"] and kind != "canceled" and cancel_at != ks["cancel"]:
                when = at
                if ks["cancel"] is not None:
                    # A withdrawal voids the cancellations that occurred before it (docs/input-format.md):
                    # one withdrawn within the second it was scheduled in (Stripe's `created` has whole
                    # seconds) is withdrawn a second later, and a moved one scheduled again then.
                    when = max(at, ks.get("cancel_occurred", 0) + 1)
                    emit(key, "subscription_cancel_withdrawn", "withdraw", when)
                if cancel_at is not None:
                    requested = _int(sub.get("canceled_at")) if first_sight else None
                    occurred = min(requested or when, when)
                    emit(key, "subscription_canceled", "schedule_cancel", occurred,
                         effective=max(cancel_at, occurred))
                    ks["cancel_occurred"] = occurred
                ks["cancel"] = cancel_at
            # A discount's end is a change at that instant, scheduled now with the discount that follows it.
            if ks["started"] and kind != "canceled":
                scheduled = [ends[0], {f: terms_after[key][f] for f in ("discount_pct", "discount_amount")
                                       if terms_after[key][f] != terms[f]}] if ends else None
                if scheduled != ks["dend"]:
                    if scheduled is not None:
                        emit(key, "subscription_changed", "discount_end", at, effective=scheduled[0], **scheduled[1])
                    elif ks["dend"] is not None and ks["dend"][0] > at:
                        # The discount that was to end went away early or was replaced: restate the terms at
                        # the instant its end was scheduled, so that scheduled change has no effect.
                        emit(key, "subscription_changed", "discount_end", at, effective=ks["dend"][0],
                             **{f: terms[f] for f in ("discount_pct", "discount_amount")})
                    ks["dend"] = scheduled
            if kind == "canceled":
                ended = _int(sub.get("ended_at")) or _int(sub.get("canceled_at")) or at
                if ks["open"] and ks["cancel"] != ended:
                    if first_sight:
                        occurred = min(_int(sub.get("canceled_at")) or at, at, ended)
                    else:
                        occurred = min(at, ended)
                    emit(key, "subscription_canceled", "cancel", occurred, effective=max(ended, occurred))
                ks["closed"] = True
            ks["kind"] = kind
            new_keys[key] = ks
        # Items that left the subscription end their §1 subscription (unless their id went to a new item).
        taken = set(assigned.values())
        for item_id, key in state["items"].items():
            if item_id in assigned or key in taken:
                continue
            ks = state["keys"].get(key)
            if ks and ks["open"] and not ks["closed"]:
                emit(key, "subscription_canceled", "item_removed", at)
                ks["closed"] = True
            if ks:
                new_keys[key] = ks
        for key, ks in state["keys"].items():
            new_keys.setdefault(key, ks)
        self.state.put("subscriptions", sub_id, {
            "last": at, "customer": customer, "items": assigned or state["items"], "keys": new_keys,
            "first": (state.get("first") or next(iter(assigned.values()), sub_id)),
        })
        return self._with_ids(event["id"], sub_id, rows)

    @staticmethod
    def _with_ids(event_id: str, sub_id: str, rows: list[tuple[str, dict, str]]) -> list[tuple[str, dict]]:
        """Event ids from Stripe's: `evt_x` for the one row of a single-item subscription, `evt_x:si_y` for an
        item's, and `:tag` after it when one Stripe event gives a §1 subscription several rows."""
        per_key = Counter(key for key, _, _ in rows)
        out = []
        for key, row, tag in rows:
            base = event_id if key == sub_id else f"{event_id}:{key}"
            out.append(("subscription_events", {"event_id": base if per_key[key] == 1 else f"{base}:{tag}", **row}))
        return out

    @staticmethod
    def _was_paid(sub: dict) -> bool:
        """A subscription first seen canceled had a paid period unless it ended within its trial."""
        trial_end, ended = _int(sub.get("trial_end")), _int(sub.get("ended_at"))
        if sub.get("status") == "incomplete_expired":
            return False
        return trial_end is None or ended is None or ended > trial_end

    @staticmethod
    def _full(terms: dict) -> dict:
        """The terms of a start: every field, the optional ones only when they say something."""
        out = {f: terms[f] for f in TERM_FIELDS}
        for f, default in (("discount_pct", "0"), ("discount_amount", "0"), ("interval_count", 1)):
            if Decimal(str(out[f])) == Decimal(default):
                del out[f]
        return out

    def _items(self, sub: dict) -> list[tuple]:
        """(item id, price id, plan_id, plan name, currency, unit amount (minor, Decimal), interval,
        interval_count, quantity, period end) of each priced item."""
        data = (sub.get("items") or {}).get("data") if isinstance(sub.get("items"), dict) else None
        out = []
        for item in data or []:
            if not isinstance(item, dict) or not _id(item.get("id")):
                continue
            price = item.get("price") if isinstance(item.get("price"), dict) else item.get("plan")
            if not isinstance(price, dict):
                self.stats.not_imported["subscription item without a price"] += 1
                continue
            recurring = price.get("recurring") if isinstance(price.get("recurring"), dict) else price
            amount = price.get("unit_amount_decimal")
            if amount is None:
                amount = price.get("unit_amount", price.get("amount"))
            if amount is None or recurring.get("interval") not in ("day", "week", "month", "year"):
                # tiered or metered prices have no unit amount: their revenue is in invoices, not in MRR terms
                self.stats.not_imported["subscription item without a fixed recurring unit price"] += 1
                continue
            product = price.get("product")
            name = price.get("nickname") or (product.get("name") if isinstance(product, dict) else None)
            price_id = _id(price.get("id")) or "unknown"
            plan_id = price.get("lookup_key") or price_id
            quantity = _int(item.get("quantity"))
            out.append((item["id"], price_id, plan_id, name or plan_id, (price.get("currency") or sub.get("currency")
                        or "usd"), Decimal(str(amount)), recurring["interval"],
                        _int(recurring.get("interval_count")) or 1, 1 if quantity is None else quantity,
                        _int(item.get("current_period_end"))))
        return out

    def _remember_plan(self, items: list[tuple], item_id: str) -> None:
        for iid, _price, plan_id, name, currency, amount, interval, count, _q, _e in items:
            if iid == item_id and plan_id not in self.plans:
                billing, months_count, unit = _interval(interval, count, to_major(amount, currency))
                months = Decimal(months_count * {"month": 1, "quarter": 3, "year": 12}[billing])
                self.plans[plan_id] = Plan(plan_id, name, currency.upper(), unit, months)

    def _discounts(self, sub: dict, at: int, event_id: str = "") -> list[dict]:
        """The subscription-level discounts in force at `at` or later: percent, amount (minor), currency, end.
        `once` coupons discount one invoice, not the recurring price: left out (docs/stripe.md). A coupon
        named by id (API 2025-09-30.clover on) is looked up in the coupons indexed from coupon.* events; one
        never seen is counted and reported with the event id (`stats.unresolved_discounts`), never dropped
        silently."""
        found = []
        if isinstance(sub.get("discount"), dict):
            found.append(sub["discount"])
        for entry in sub.get("discounts") or []:
            if isinstance(entry, str):
                discount_id, entry = entry, self.state.get("discounts", entry)
                if entry is None:
                    self._unresolved(sub, f"discount {discount_id}", "discount never seen (no customer.discount.* event)",
                                     event_id)
                    continue
            if isinstance(entry, dict) and all(entry.get("id") != d.get("id") or d.get("id") is None for d in found):
                found.append(entry)
        out = []
        for discount in found:
            coupon = discount.get("coupon")
            if coupon is None and isinstance(discount.get("source"), dict):
                coupon = discount["source"].get("coupon")
            if isinstance(coupon, str) and coupon:
                coupon_id = coupon
                coupon = self.state.get("coupons", coupon_id)
                if coupon is None:
                    self._unresolved(sub, f"coupon {coupon_id}", "discount whose coupon was never seen", event_id)
                    continue
            if not isinstance(coupon, dict) or coupon.get("duration") == "once":
                continue
            end = _int(discount.get("end"))
            if end is not None and end <= at:
                continue
            out.append({"pct": coupon.get("percent_off"), "amount": _int(coupon.get("amount_off")),
                        "currency": (coupon.get("currency") or "").lower(),
                        "options": coupon.get("currency_options") or {}, "end": end})
        return out

    def _unresolved(self, sub: dict, what: str, reason: str, event_id: str) -> None:
        """A discount left out because what it refers to is unknown: counted once per subscription and thing,
        and listed in the summary with the first event that met it."""
        key = (_id(sub.get("id")), what)
        if key not in self.stats.unresolved_discounts:
            self.stats.not_imported[reason] += 1
            self.stats.unresolved_discounts[key] = event_id

    def _terms(self, items, assigned, discounts, at, sub_currency) -> dict[str, dict]:
        """§1 terms of each §1 subscription with the discounts in force at `at`."""
        live = [d for d in discounts if d["end"] is None or d["end"] > at]
        keep = Decimal(1)
        for d in live:
            if d["pct"] is not None:
                keep *= 1 - Decimal(str(d["pct"])) / 100
        pct = (1 - keep) * 100
        currency = (sub_currency or (items[0][4] if items else "usd")).lower()
        amount_off = 0
        for d in live:
            if d["amount"] is None:
                continue
            if d["currency"] == currency:
                amount_off += d["amount"]
            elif isinstance(d["options"].get(currency), dict) and _int(d["options"][currency].get("amount_off")):
                amount_off += d["options"][currency]["amount_off"]
            else:
                self.stats.not_imported["fixed coupon in another currency"] += 1
        charges = [amount * quantity * keep for (_i, _p, _pl, _n, _c, amount, _iv, _ic, quantity, _e) in items]
        shares = spread(amount_off, charges)
        out = {}
        for item, share in zip(items, shares, strict=True):
            item_id, _price, plan_id, _name, item_currency, amount, interval, count, quantity, _end = item
            billing, months_count, unit = _interval(interval, count, to_major(amount, item_currency))
            self.stats.currencies.add(item_currency.upper())
            out[assigned[item_id]] = {
                "plan_id": plan_id, "billing_interval": billing, "interval_count": months_count,
                "quantity": quantity, "unit_price": money_text(unit), "currency": item_currency.upper(),
                "discount_pct": money_text(_trim(pct)), "discount_amount": money_text(to_major(share, item_currency)),
            }
        return out

    @staticmethod
    def _scheduled_cancel(sub: dict, items: list[tuple]) -> int | None:
        cancel_at = _int(sub.get("cancel_at"))
        if cancel_at is not None:
            return cancel_at
        if sub.get("cancel_at_period_end"):
            period_end = _int(sub.get("current_period_end"))
            if period_end is None:
                ends = [e for *_, e in items if e is not None]
                period_end = max(ends) if ends else None
            return period_end
        return None

    # ---------------------------------------------------------------------------------- invoices, refunds

    def _invoice_subscription(self, invoice: dict) -> tuple[str | None, str | None]:
        """(Stripe subscription id, first subscription item id on its lines) of an invoice, in either shape."""
        sub_id = _id(invoice.get("subscription"))
        parent = invoice.get("parent") if isinstance(invoice.get("parent"), dict) else {}
        if sub_id is None and isinstance(parent.get("subscription_details"), dict):
            sub_id = _id(parent["subscription_details"].get("subscription"))
        item_id = None
        lines = invoice.get("lines") if isinstance(invoice.get("lines"), dict) else {}
        for line in lines.get("data") or []:
            if not isinstance(line, dict):
                continue
            line_parent = line.get("parent") if isinstance(line.get("parent"), dict) else {}
            details = line_parent.get("subscription_item_details")
            details = details if isinstance(details, dict) else {}
            sub_id = sub_id or _id(line.get("subscription")) or _id(details.get("subscription"))
            item_id = item_id or _id(line.get("subscription_item")) or _id(details.get("subscription_item"))
        return sub_id, item_id

    def _index_invoice(self, invoice: dict) -> dict | None:
        """Remember an invoice's account, §1 subscription and currency, and the payments that pay it."""
        invoice_id = _id(invoice.get("id"))
        record = self.state.get("invoices", invoice_id) if invoice_id else None
        if record is None:
            # First sight: its rows all carry the account, §1 subscription and currency found now.
            customer = _id(invoice.get("customer"))
            sub_id, item_id = self._invoice_subscription(invoice)
            if invoice_id is None or customer is None or sub_id is None:
                return None
            sub_state = self.state.get("subscriptions", sub_id)
            # A multi-item subscription's invoice is one bill: it goes to the §1 subscription of its first
            # line's item (payments and refunds count per account, docs/stripe.md).
            key = sub_id
            if sub_state is not None:
                key = sub_state["items"].get(item_id) or sub_state.get("first") or sub_id
            record = {"account": customer, "subscription": key, "currency": (invoice.get("currency") or "usd").lower(),
                      "issued": False, "paid": False}
            self.state.put("invoices", invoice_id, record)
        for ref in (_id(invoice.get("charge")), _id(invoice.get("payment_intent"))):
            if ref:
                self.state.put("payment_refs", ref, invoice_id)
        payments = invoice.get("payments") if isinstance(invoice.get("payments"), dict) else {}
        for payment in payments.get("data") or []:
            if isinstance(payment, dict):
                self._index_invoice_payment({**payment, "invoice": invoice_id})
        return record

    def _index_invoice_payment(self, payment: dict) -> None:
        invoice_id = _id(payment.get("invoice"))
        inner = payment.get("payment") if isinstance(payment.get("payment"), dict) else {}
        for ref in (_id(inner.get("charge")), _id(inner.get("payment_intent"))):
            if ref and invoice_id:
                self.state.put("payment_refs", ref, invoice_id)

    def _index_discount(self, event_type: str, discount: dict) -> None:
        discount_id = _id(discount.get("id"))
        if discount_id:
            self.state.put("discounts", discount_id, None if event_type.endswith("deleted") else discount)

    def _index_coupon(self, coupon: dict) -> None:
        """A coupon by id. A deleted coupon is kept: Stripe keeps applying the discounts made from it."""
        coupon_id = _id(coupon.get("id"))
        if coupon_id:
            self.state.put("coupons", coupon_id, coupon)

    def _invoice(self, event: dict, invoice: dict) -> list[tuple[str, dict]]:
        invoice_id = _id(invoice.get("id"))
        known = self.state.get("invoices", invoice_id) if invoice_id else None
        if known is not None and known["paid"] and event["type"] in ("invoice.paid", "invoice.payment_succeeded"):
            return []  # the second of invoice.paid / invoice.payment_succeeded: one payment per invoice
        record = self._index_invoice(invoice)
        if record is None:
            self.stats.not_imported["invoice without a subscription"] += 1
            return []
        invoice_id, currency = invoice["id"], record["currency"]
        self.stats.currencies.add(currency.upper())
        row = {"event_id": None, "event_type": None, "occurred_at": iso(event["created"]), "account_id": record["account"],
               "invoice_id": invoice_id, "subscription_id": record["subscription"], "currency": currency.upper()}
        event_type = event["type"]
        if event_type == "invoice.finalized":
            if record["issued"]:
                return []
            total = max(0, _int(invoice.get("total")) or 0)
            start, end = self._invoice_period(invoice)
            finalized = _int((invoice.get("status_transitions") or {}).get("finalized_at"))
            record["issued"] = True
            self.state.put("invoices", invoice_id, record)
            return [("billing_events", {
                **row, "event_id": f"{invoice_id}:invoice_issued", "event_type": "invoice_issued",
                "occurred_at": iso(finalized or event["created"]), "amount": money_text(to_major(total, currency)),
                "period_start": start, "period_end": end})]
        if event_type in ("invoice.paid", "invoice.payment_succeeded"):
            paid = _int(invoice.get("amount_paid")) or 0
            if record["paid"] or paid <= 0:
                return []  # one payment per invoice (both events arrive for one); a zero invoice moved no money
            paid_at = _int((invoice.get("status_transitions") or {}).get("paid_at"))
            record["paid"] = True
            self.state.put("invoices", invoice_id, record)
            return [("billing_events", {
                **row, "event_id": f"{invoice_id}:payment_succeeded", "event_type": "payment_succeeded",
                "occurred_at": iso(paid_at or event["created"]), "amount": money_text(to_major(paid, currency))})]
        due = max(0, _int(invoice.get("amount_due")) or 0)  # invoice.payment_failed: one row per attempt
        return [("billing_events", {**row, "event_id": event["id"], "event_type": "payment_failed",
                                    "amount": money_text(to_major(due, currency))})]

    @staticmethod
    def _invoice_period(invoice: dict) -> tuple[str, str]:
        """The service period the invoice bills: its subscription lines' periods (Stripe's invoice-level
        period_start/period_end is the period *before* a subscription invoice); else the invoice's own.
        Stripe's period end is an exclusive instant: the period's last day is the day before it."""
        starts, ends = [], []
        lines = invoice.get("lines") if isinstance(invoice.get("lines"), dict) else {}
        for line in lines.get("data") or []:
            period = line.get("period") if isinstance(line, dict) and isinstance(line.get("period"), dict) else {}
            if _int(period.get("start")) is not None and _int(period.get("end")) is not None:
                starts.append(period["start"])
                ends.append(period["end"])
        start = min(starts) if starts else _int(invoice.get("period_start")) or _int(invoice.get("created")) or 0
        end = max(ends) if ends else _int(invoice.get("period_end")) or start
        return day(start), day(max(start, end - 1))

    def _refund(self, event: dict, charge: dict) -> list[tuple[str, dict]]:
        charge_id = _id(charge.get("id"))
        invoice_id = _id(charge.get("invoice"))
        if invoice_id is None and charge_id:
            invoice_id = self.state.get("payment_refs", charge_id)
        if invoice_id is None and _id(charge.get("payment_intent")):
            invoice_id = self.state.get("payment_refs", _id(charge.get("payment_intent")))
        record = self.state.get("invoices", invoice_id) if invoice_id else None
        refunded = _int(charge.get("amount_refunded"))
        if charge_id is None or record is None or refunded is None:
            self.stats.not_imported["refund of a charge not tied to a subscription invoice"] += 1
            return []
        # The refunded amounts already written, as spans of [0, amount_refunded] (minor units): a refund is
        # the part of [before, refunded] no earlier event covered, so events of one charge that arrive out
        # of order (a later import holding an earlier refund) still add up to the charge's amount_refunded.
        spans = self.state.get("refund_spans", charge_id)
        if spans is None:
            legacy = self.state.get("charges", charge_id)  # a state from before spans: refunded up to it
            spans = [[0, legacy]] if legacy else []
        previous = event["data"].get("previous_attributes")
        before = _int(previous.get("amount_refunded")) if isinstance(previous, dict) else None
        if before is None or before > refunded:
            before = max([hi for _, hi in spans if hi <= refunded], default=0)
        delta = _uncovered(spans, before, refunded)
        if delta <= 0:
            return []
        self.state.put("refund_spans", charge_id, _cover(spans, before, refunded))
        self.state.put("charges", charge_id, max(refunded, self.state.get("charges", charge_id) or 0))
        currency = (charge.get("currency") or record["currency"]).lower()
        return [("billing_events", {
            "event_id": f"{charge_id}:refunded:{refunded}", "event_type": "refund_issued",
            "occurred_at": iso(event["created"]), "account_id": record["account"], "invoice_id": invoice_id,
            "subscription_id": record["subscription"], "amount": money_text(to_major(delta, currency)),
            "currency": currency.upper()})]


def _uncovered(spans: list[list[int]], lo: int, hi: int) -> int:
    """How much of [lo, hi] the (disjoint, sorted) spans leave uncovered."""
    covered = sum(max(0, min(hi, b) - max(lo, a)) for a, b in spans)
    return (hi - lo) - covered


def _cover(spans: list[list[int]], lo: int, hi: int) -> list[list[int]]:
    """The spans with [lo, hi] added, merged (disjoint, sorted)."""
    out: list[list[int]] = []
    for a, b in sorted([*spans, [lo, hi]]):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def spread(total: int, charges: list[Decimal]) -> list[int]:
    """A fixed coupon (minor units) spread over items in proportion to their charges, in whole minor units
    that add up to it: each item gets the floor of its share, the units left go to the largest remainders
    (ties: the earlier item). No charge at all: the first item takes it."""
    if not charges:
        return []
    whole = sum(charges)
    if total == 0:
        return [0] * len(charges)
    if whole <= 0:
        return [total] + [0] * (len(charges) - 1)
    exact = [Decimal(total) * c / whole for c in charges]
    parts = [int(e) for e in exact]  # floor: shares are >= 0
    left = total - sum(parts)
    order = sorted(range(len(charges)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:left]:
        parts[i] += 1
    return parts


def _interval(interval: str, count: int, unit: Decimal) -> tuple[str, int, Decimal]:
    """Stripe's interval -> §1 (billing_interval, interval_count, unit_price). Month and year stay as they
    are (a quarter is month × 3); week and day plans, which §1 cannot carry, become a monthly price
    (52/12 weeks, 365/12 days a month), rounded to 6 places."""
    if interval in ("month", "year"):
        return interval, count, unit
    monthly = (unit * MONTHS_PER[interval] / count).quantize(SIX_PLACES, rounding=ROUND_HALF_UP)
    return "month", 1, monthly


def _trim(value: Decimal) -> Decimal:
    value = value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)  # discount_pct is decimal(9, 4)
    return value.normalize() if value != 0 else Decimal(0)

