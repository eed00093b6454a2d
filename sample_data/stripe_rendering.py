"""The generator's simulated company as Stripe sees it: Stripe Event objects (JSON lines), API version basil.

`generate(..., format="stripe")` runs the same simulation as the native landing folder (same seed, same
accounts, subscriptions, prices, changes, cancellations, invoices, payments) and hands each month's
subscription and billing events to `StripeWriter`, which keeps every customer's and subscription's Stripe
object and writes what Stripe would have sent, one file per UTC day in `stripe_events/`:

- `customer.created` for each account (name, address country, metadata `segment` and `sales_owner`);
- `customer.subscription.created` / `.updated` / `.deleted` with the full subscription object (billing
  periods on the items, `discounts` as ids, `pause_collection`, `cancel_at_period_end`/`cancel_at`) and
  `previous_attributes` on updates; `customer.discount.created` / `.deleted` carry the discounts the ids
  stand for, each with its coupon (one per percentage, duration forever, announced by `coupon.created`);
- `invoice.finalized`, `invoice.payment_failed`, `invoice_payment.paid`, `invoice.paid` (invoices tied to
  their subscription through `parent.subscription_details`), `charge.refunded` (the charge found through
  its payment intent, as the current API links them).

Stripe's conventions, not the native log's: amounts in the currency's minor unit; a quarter is `month`
with `interval_count` 3; one price per plan, currency and interval, whose `lookup_key` (e.g.
`growth_eur_quarterly`) becomes the warehouse's plan_id; a scheduled cancellation is `cancel_at_period_end`
set when the customer asks and `customer.subscription.deleted` when it takes effect; a scheduled change
(a downgrade at renewal) is sent when it takes effect, as Stripe applies it then; a payment failure makes
the subscription `past_due` until it is paid or canceled; each renewal moves the items' billing period.
Stripe keeps no FX rates and no plan limits: `reference/fx_rates.csv` and `reference/plans.csv` (one row
per lookup key, with the tier's limits) are written beside the events, and usage stays native
(`usage_events/`), as Stripe does not hold it.
"""

from __future__ import annotations

import calendar
import gzip as gzip_format
import heapq
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

STRIPE_DIR = "stripe_events"
# The last version of the `basil` line: billing periods on subscription items, `discounts` on subscriptions,
# invoices tied to subscriptions through `parent.subscription_details`. Not `clover` (2025-09-30 on), whose
# Discount no longer embeds its coupon (`source.coupon` is a coupon id, even in events): rendered as
# clover (`format="stripe-clover"`), the importer resolves it from the coupon.created events sent here.
API_VERSION = "2025-08-27.basil"
# `generate --format stripe-clover`: the first `clover` version, whose Discount names its coupon by id only.
CLOVER_VERSION = "2025-09-30.clover"
DAY = 86400

# Stripe's currencies without minor unit, and with three decimals (amounts are sent as they are, or x1000).
ZERO_DECIMAL = frozenset(["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"])
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])

INTERVAL_WORD = {1: "monthly", 3: "quarterly", 12: "yearly"}
# generator interval (months) -> Stripe's recurring (interval, interval_count)
RECURRING = {1: ("month", 1), 3: ("month", 3), 12: ("year", 1)}
PAUSED = {"behavior": "void", "resumes_at": None}


def minor_units(cents: int, currency: str) -> int:
    """An amount the generator keeps in hundredths of the major unit, in Stripe's minor unit."""
    currency = currency.lower()
    if currency in ZERO_DECIMAL:
        return (cents + 50) // 100
    if currency in THREE_DECIMAL:
        return cents * 10
    return cents


def lookup_key(plan_id: str, currency: str, interval: int) -> str:
    return f"{plan_id}_{currency.lower()}_{INTERVAL_WORD[int(interval)]}"


def _add_months(instant: int, months: int) -> int:
    """00:00 UTC of the same day `months` later, clamped to the month's length (Stripe's billing anchor)."""
    moment = datetime.fromtimestamp(instant, UTC)
    month0 = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(month0, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return int(datetime(year, month + 1, day, tzinfo=UTC).timestamp())


def write_stripe_plans(path: Path, c: dict) -> None:
    """reference/plans.csv for the Stripe rendering: one plan per price lookup key (Stripe's lookup keys are
    unique per price, so a tier sold in three currencies and three intervals is nine plans), each with its
    tier's rank, limits and USD list price per seat per month: what Stripe does not know."""
    lines = ["plan_id,plan_name,tier_rank,seat_limit,api_call_limit,list_price_monthly"]
    for tier, plan_id in enumerate(c["plan_ids"]):
        api = int(c["api_limits"][tier])
        usd = int(c["price_book"][0, tier])
        for currency in c["currencies"]:
            for interval in INTERVAL_WORD:
                name = f"{c['plan_names'][tier]} {currency} {INTERVAL_WORD[interval]}"
                lines.append(",".join([lookup_key(plan_id, currency, interval), name, str(tier + 1),
                                       str(int(c["seat_limits"][tier])), "" if api < 0 else str(api),
                                       f"{usd // 100}.{usd % 100:02d}"]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class StripeWriter:
    """Turns the simulation's monthly event frames into Stripe Events, streamed one month at a time."""

    def __init__(self, out: Path, gzip: bool, constants: dict, api_version: str = API_VERSION):
        self.api_version = api_version
        self.clover = api_version.endswith(".clover")
        self.dir = out / STRIPE_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        self.gzip = gzip
        self.c = constants  # the generator's tables: plan ids and names, currencies, countries, names, ...
        self.events = 0
        self.files = 0
        self.types: dict[str, int] = {}
        self.subscriptions: dict[tuple[int, int], dict] = {}
        self.invoices: dict[int, dict] = {}
        self.latest_invoice: dict[int, int] = {}  # account -> its latest invoice number
        self.prices: dict[tuple[int, int, int], dict] = {}
        self.queue: list[tuple[int, int, str, tuple[int, int], dict]] = []  # (at, order, kind, key, fields)
        self.queued = 0
        self.coupons: set[int] = set()
        self.refunds_skipped = 0  # refunds of invoices that were never paid: Stripe has no charge to refund

    # ------------------------------------------------------------------------------------------ month

    def write_month(self, month_end: int, subscription_events: pl.DataFrame, billing_events: pl.DataFrame) -> None:
        """Render one month: the simulation's events in time order, with the scheduled cancellations and
        changes that fall due before `month_end` (an epoch second) at their instant."""
        rows = []
        for stream_rank, frame in ((0, subscription_events), (1, billing_events)):
            if frame.height:
                for row in frame.sort(["second", "event_type", "account"]).iter_rows(named=True):
                    rows.append((row["second"], stream_rank, row))
        rows.sort(key=lambda r: (r[0], r[1]))  # stable: each stream keeps its own order within a second
        lines: dict[int, list[str]] = {}

        def emit(event: dict) -> None:
            lines.setdefault(event["created"] // DAY, []).append(json.dumps(event, separators=(",", ":")))

        self._emit = emit
        position = 0
        # The simulation's events and the scheduled ones due this month, merged in time order (a scheduled
        # one first at the same instant: it was due before anything else happened then).
        while position < len(rows) or (self.queue and self.queue[0][0] < month_end):
            due = self.queue[0] if self.queue and self.queue[0][0] < month_end else None
            if due is not None and (position >= len(rows) or due[0] <= rows[position][0]):
                heapq.heappop(self.queue)
                self._fire(*due)
                continue
            _, stream_rank, row = rows[position]
            position += 1
            if stream_rank == 0:
                self._subscription_event(row)
            else:
                self._billing_event(row)
        for day in sorted(lines):
            self._write_day(day, lines[day])

    def _write_day(self, day: int, lines: list[str]) -> None:
        name = str(np.datetime64(day, "D")) + (".jsonl.gz" if self.gzip else ".jsonl")
        path = self.dir / name
        if path.exists():
            raise RuntimeError(f"{path} written twice")
        data = ("\n".join(lines) + "\n").encode()
        path.write_bytes(gzip_format.compress(data, compresslevel=6, mtime=0) if self.gzip else data)
        self.files += 1

    # ------------------------------------------------------------------------------------------ events

    def _event(self, event_type: str, at: int, obj: dict, previous: dict | None = None,
               requested: bool = True) -> None:
        self.events += 1
        self.types[event_type] = self.types.get(event_type, 0) + 1
        data = {"object": obj}
        if previous:
            data["previous_attributes"] = previous
        request = ({"id": f"req_{self.events:012d}", "idempotency_key": f"idem-{self.events:012d}"}
                   if requested else {"id": None, "idempotency_key": None})
        self._emit({"id": f"evt_{self.events:012d}", "object": "event", "api_version": self.api_version,
                    "created": int(at), "data": data, "livemode": False, "pending_webhooks": 0,
                    "request": request, "type": event_type})

    # ---------------------------------------------------------------------------------------- customers

    def _customer_id(self, account: int) -> str:
        return f"cus_{account + 1:07d}"

    def _customer_created(self, row: dict) -> None:
        c = self.c
        account, at = row["account"], row["second"]
        country = c["countries"][row["country"]]
        noun = c["name_nouns"][row["name_noun"]] if row["name_noun"] is not None else None
        name = " ".join(p for p in (c["name_stems"][row["name_stem"]], noun, country[3]) if p)
        metadata = {"segment": c["segments"][row["segment"]]}
        if row["owner"] is not None:
            metadata["sales_owner"] = c["sales_owners"][row["owner"]]
        customer = {
            "id": self._customer_id(account), "object": "customer",
            "address": {"city": None, "country": country[0], "line1": None, "line2": None, "postal_code": None,
                        "state": None},
            "balance": 0, "created": at, "currency": None, "default_source": None, "delinquent": False,
            "description": None, "discount": None, "email": f"billing@{account + 1:07d}.example.com",
            "invoice_prefix": f"{account + 1:07X}"[-8:], "invoice_settings": {
                "custom_fields": None, "default_payment_method": None, "footer": None, "rendering_options": None},
            "livemode": False, "metadata": metadata, "name": name, "phone": None, "preferred_locales": [],
            "shipping": None, "tax_exempt": "none", "test_clock": None,
        }
        self._event("customer.created", at, customer)

    # ------------------------------------------------------------------------------------------ prices

    def _price(self, tier: int, interval: int, currency: str) -> dict:
        key = (tier, interval, currency)
        price = self.prices.get(key)
        if price is None:
            c = self.c
            plan_id = c["plan_ids"][tier]
            cents = int(c["price_book"][c["currencies"].index(currency.upper()), tier]) * interval
            unit = minor_units(cents, currency)
            every, count = RECURRING[interval]
            price = {
                "id": f"price_{plan_id}_{currency}_{INTERVAL_WORD[interval]}", "object": "price", "active": True,
                "billing_scheme": "per_unit", "created": self.c["epoch"], "currency": currency,
                "custom_unit_amount": None, "livemode": False,
                "lookup_key": lookup_key(plan_id, currency, interval), "metadata": {},
                "nickname": f"{c['plan_names'][tier]} ({currency.upper()}, {INTERVAL_WORD[interval]})",
                "product": f"prod_{plan_id}",
                "recurring": {"interval": every, "interval_count": count, "meter": None,
                              "usage_type": "licensed"},
                "tax_behavior": "unspecified", "tiers_mode": None, "transform_quantity": None,
                "type": "recurring", "unit_amount": unit, "unit_amount_decimal": str(unit),
            }
            self.prices[key] = price
        return price

    # ------------------------------------------------------------------------------------ subscriptions

    def _render(self, s: dict) -> dict:
        item = {
            "id": s["item_id"], "object": "subscription_item", "created": s["item_created"],
            "current_period_end": s["period_end"], "current_period_start": s["period_start"],
            "discounts": [], "metadata": {}, "price": self._price(s["tier"], s["interval"], s["currency"]),
            "quantity": s["quantity"], "subscription": s["id"], "tax_rates": [],
        }
        return {
            "id": s["id"], "object": "subscription", "application": None, "application_fee_percent": None,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": s["anchor"], "billing_cycle_anchor_config": None,
            "billing_thresholds": None, "cancel_at": s["cancel_at"],
            "cancel_at_period_end": s["cancel_at"] is not None and s["status"] != "canceled",
            "canceled_at": s["canceled_at"],
            "cancellation_details": {"comment": None, "feedback": None, "reason": s["cancel_reason"]},
            "collection_method": "charge_automatically", "created": s["created"], "currency": s["currency"],
            "customer": s["customer"], "days_until_due": None, "default_payment_method": None,
            "default_source": None, "default_tax_rates": [], "description": None,
            "discounts": [s["discount_id"]] if s["discount_id"] else [], "ended_at": s["ended_at"],
            "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
            "items": {"object": "list", "data": [item], "has_more": False, "total_count": 1,
                      "url": f"/v1/subscription_items?subscription={s['id']}"},
            "latest_invoice": s["latest_invoice"], "livemode": False, "metadata": {},
            "next_pending_invoice_item_invoice": None, "on_behalf_of": None,
            "pause_collection": dict(PAUSED) if s["paused"] else None,
            "payment_settings": {"payment_method_options": None, "payment_method_types": None,
                                 "save_default_payment_method": "off"},
            "pending_invoice_item_interval": None, "pending_setup_intent": None, "pending_update": None,
            "schedule": None, "start_date": s["created"], "status": s["status"], "test_clock": None,
            "transfer_data": None, "trial_end": s["trial_end"],
            "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
            "trial_start": s["trial_start"],
        }

    def _publish(self, event_type: str, at: int, s: dict, requested: bool = True) -> None:
        """Send the subscription's object as it is now; an update carries the attributes it changed."""
        obj = self._render(s)
        previous = None
        if event_type == "customer.subscription.updated":
            # the object as last sent, rendered again from the state then: a few fields a subscription
            # instead of a whole object each, so memory follows the live subscriptions, not their size
            before = self._render(s["sent"])
            previous = {k: before[k] for k in obj if before.get(k) != obj[k]}
            if not previous:
                return  # nothing Stripe would report
        s["sent"] = {k: v for k, v in s.items() if k != "sent"}
        self._event(event_type, at, obj, previous, requested)

    def _new_subscription(self, row: dict, status: str) -> dict:
        account, seq, at = row["account"], row["seq"], row["second"]
        suffix = f"{account + 1:07d}_{seq:02d}"
        currency = self.c["currencies"][self.c["account_currency"][account]].lower()
        s = {"id": f"sub_{suffix}", "item_id": f"si_{suffix}", "item_created": at, "customer":
             self._customer_id(account), "created": at, "anchor": at, "status": status, "tier": row["tier"],
             "interval": 1, "quantity": 1, "currency": currency, "discount": 0, "discount_id": None,
             "discounts_made": 0, "period_start": at, "period_end": _add_months(at, 1), "cancel_at": None,
             "canceled_at": None, "cancel_reason": None, "ended_at": None, "paused": False,
             "latest_invoice": None, "trial_start": None, "trial_end": None, "sent": None,
             "invoices": 0, "key": (account, seq)}
        self.subscriptions[(account, seq)] = s
        return s

    def _set_discount(self, s: dict, percent: int, at: int) -> None:
        """Replace the subscription's discount (a coupon of `percent`% off, forever): the discount events
        Stripe sends before the subscription's update."""
        if percent == s["discount"]:
            return
        if s["discount_id"] is not None:
            self._event("customer.discount.deleted", at, self._discount(s, s["discount"], s["discount_id"], at))
            s["discount_id"] = None
        s["discount"] = percent
        if percent > 0:
            if percent not in self.coupons:  # the merchant makes the coupon before its first use
                self.coupons.add(percent)
                self._event("coupon.created", at, self._coupon(percent))
            s["discounts_made"] += 1
            s["discount_id"] = f"di_{s['id'][4:]}_{s['discounts_made']}"
            self._event("customer.discount.created", at, self._discount(s, percent, s["discount_id"], at))

    def _discount(self, s: dict, percent: int, discount_id: str, at: int) -> dict:
        # basil embeds the coupon; clover names it by id in `source` (the coupon.created event describes it)
        coupon = ({"source": {"type": "coupon", "coupon": f"pct{percent}"}} if self.clover
                  else {"coupon": self._coupon(percent)})
        return {"id": discount_id, "object": "discount", "checkout_session": None, "customer": s["customer"],
                **coupon, "end": None, "invoice": None, "invoice_item": None,
                "promotion_code": None, "start": at, "subscription": s["id"], "subscription_item": None}

    def _coupon(self, percent: int) -> dict:
        return {"id": f"pct{percent}", "object": "coupon", "amount_off": None, "created": self.c["epoch"],
                "currency": None, "duration": "forever", "duration_in_months": None, "livemode": False,
                "max_redemptions": None, "metadata": {}, "name": f"{percent}% off",
                "percent_off": float(percent), "redeem_by": None, "times_redeemed": 0, "valid": True}

    def _apply_terms(self, s: dict, fields: dict, at: int) -> None:
        for name in ("tier", "quantity", "interval"):
            if fields.get(name) is not None:
                s[name] = int(fields[name])
        if fields.get("discount") is not None:
            self._set_discount(s, int(fields["discount"]), at)

    def _subscription_event(self, row: dict) -> None:
        kind = self.c["subscription_event_types"][row["event_type"]]
        at, key = row["second"], (row["account"], row["seq"])
        if kind == "account_created":
            self._customer_created(row)
            return
        s = self.subscriptions.get(key)
        if kind == "trial_started":
            s = self._new_subscription(row, "trialing")
            s["trial_start"] = at
            # the trial ends on the same day next month, when the generator converts or ends it
            s["trial_end"] = _add_months(at - at % DAY, 1) + at % DAY + 480
            s["period_end"] = s["trial_end"]
            self._publish("customer.subscription.created", at, s)
        elif kind == "subscription_started":
            converting = s is not None and s["status"] == "trialing"
            if not converting:
                s = self._new_subscription(row, "active")
            s.update(status="active", anchor=at, period_start=at, invoices=0)
            if converting:
                s["trial_end"] = at
            self._apply_terms(s, {**row, "discount": row["discount"] or 0}, at)
            s["period_end"] = _add_months(at - at % DAY, s["interval"])
            self._publish("customer.subscription.updated" if converting else "customer.subscription.created",
                          at, s, requested=not converting)
        elif kind == "subscription_changed":
            if row["effective"] is not None and row["effective"] > at:
                self._schedule(row["effective"], "change", key, row)
            else:
                self._apply_terms(s, row, at)
                self._publish("customer.subscription.updated", at, s)
        elif kind == "subscription_paused":
            s["paused"] = True
            self._publish("customer.subscription.updated", at, s)
        elif kind == "subscription_resumed":
            s.update(paused=False, anchor=at, period_start=at, period_end=_add_months(at - at % DAY, s["interval"]))
            self._publish("customer.subscription.updated", at, s)
        elif kind == "subscription_canceled":
            if row["effective"] is not None and row["effective"] > at:
                s.update(cancel_at=row["effective"], canceled_at=at, cancel_reason="cancellation_requested")
                self._publish("customer.subscription.updated", at, s)
                self._schedule(row["effective"], "delete", key, {})
            else:
                reason = "payment_failed" if s["status"] == "past_due" else "cancellation_requested"
                self._end(s, at, reason, requested=reason != "payment_failed")

    def _end(self, s: dict, at: int, reason: str, requested: bool) -> None:
        s.update(status="canceled", ended_at=at, canceled_at=s["canceled_at"] or at, cancel_reason=reason)
        self._publish("customer.subscription.deleted", at, s, requested=requested)
        del self.subscriptions[s["key"]]  # Stripe never revives a canceled subscription: forget it

    def _schedule(self, at: int, kind: str, key: tuple[int, int], row: dict) -> None:
        fields = {name: row.get(name) for name in ("tier", "quantity", "interval", "discount")}
        self.queued += 1
        heapq.heappush(self.queue, (int(at), self.queued, kind, key, fields))

    def _fire(self, at: int, _order: int, kind: str, key: tuple[int, int], fields: dict) -> None:
        """A scheduled cancellation or change takes effect (Stripe sends it now)."""
        s = self.subscriptions.get(key)
        if s is None:  # ended before it was due
            return
        if kind == "delete":
            self._end(s, at, "cancellation_requested", requested=False)
        else:
            self._apply_terms(s, fields, at)
            self._publish("customer.subscription.updated", at, s, requested=False)

    # ------------------------------------------------------------------------------------------ billing

    def _billing_event(self, row: dict) -> None:
        kind = self.c["billing_event_types"][row["event_type"]]
        at, key = row["second"], (row["account"], row["seq"])
        s = self.subscriptions.get(key)  # None once it ended (a refund after a cancellation)
        number = int(row["invoice"])
        if kind == "invoice_issued":
            period_start, period_end = int(row["period_start"]) * DAY, (int(row["period_end"]) + 1) * DAY
            if s["invoices"]:  # a renewal moves the billing period
                s.update(period_start=period_start, period_end=period_end)
            s["invoices"] += 1
            s["latest_invoice"] = f"in_{number + 1:010d}"
            self._publish("customer.subscription.updated", at, s, requested=False)
            invoice = self._new_invoice(s, row, period_start, period_end)
            self._event("invoice.finalized", at, self._invoice_object(invoice), requested=False)
            return
        invoice = self.invoices[number]
        if kind == "payment_succeeded":
            invoice.update(status="paid", paid_at=at, attempts=invoice["attempts"] + 1)
            self._event("invoice_payment.paid", at, {
                "id": f"inpay_{number + 1:010d}", "object": "invoice_payment", "amount_paid": invoice["amount"],
                "amount_requested": invoice["amount"], "created": at, "currency": invoice["currency"],
                "invoice": invoice["id"], "is_default": True, "livemode": False,
                "payment": {"payment_intent": f"pi_{number + 1:010d}", "type": "payment_intent"},
                "status": "paid", "status_transitions": {"canceled_at": None, "paid_at": at}}, requested=False)
            self._event("invoice.paid", at, self._invoice_object(invoice), requested=False)
            if s is not None and s["status"] == "past_due":
                s["status"] = "active"
                self._publish("customer.subscription.updated", at, s, requested=False)
        elif kind == "payment_failed":
            invoice["attempts"] += 1
            self._event("invoice.payment_failed", at, self._invoice_object(invoice), requested=False)
            if s is not None and s["status"] == "active":
                s["status"] = "past_due"
                self._publish("customer.subscription.updated", at, s, requested=False)
        elif kind == "refund_issued":
            if invoice["paid_at"] is None:
                self.refunds_skipped += 1
                return
            before = invoice["refunded"]
            invoice["refunded"] = before + minor_units(int(row["amount"]), invoice["currency"])
            charge = {
                "id": f"ch_{number + 1:010d}", "object": "charge", "amount": invoice["amount"],
                "amount_captured": invoice["amount"], "amount_refunded": invoice["refunded"],
                "balance_transaction": f"txn_{number + 1:010d}", "billing_details": {
                    "address": None, "email": None, "name": None, "phone": None},
                "captured": True, "created": invoice["paid_at"], "currency": invoice["currency"],
                "customer": invoice["customer"], "description": "Subscription update", "disputed": False,
                "failure_code": None, "failure_message": None, "livemode": False, "metadata": {},
                "outcome": {"network_status": "approved_by_network", "reason": None, "risk_level": "normal",
                            "seller_message": "Payment complete.", "type": "authorized"},
                "paid": True, "payment_intent": f"pi_{number + 1:010d}", "payment_method": f"pm_{row['account'] + 1:07d}",
                "receipt_url": None, "refunded": invoice["refunded"] >= invoice["amount"], "status": "succeeded",
            }
            self._event("charge.refunded", at, charge, {"amount_refunded": before, "refunded": False} if before == 0
                        else {"amount_refunded": before})

    def _new_invoice(self, s: dict, row: dict, period_start: int, period_end: int) -> dict:
        number = int(row["invoice"])
        price = self._price(s["tier"], s["interval"], s["currency"])
        invoice = {
            "number": number, "id": f"in_{number + 1:010d}", "customer": s["customer"], "subscription": s["id"],
            "item": s["item_id"], "price": price, "quantity": s["quantity"], "currency": s["currency"],
            "amount": minor_units(int(row["amount"]), s["currency"]), "created": int(row["second"]),
            "period_start": period_start, "period_end": period_end, "status": "open", "attempts": 0,
            "paid_at": None, "refunded": 0, "reason": "subscription_create" if s["invoices"] == 1
            else "subscription_cycle", "discount_id": s["discount_id"],
        }
        # an account's refunds and payment retries are of its latest invoice: older ones are forgotten, so
        # memory does not grow with the months generated
        self.invoices.pop(self.latest_invoice.get(row["account"]), None)
        self.latest_invoice[row["account"]] = number
        self.invoices[number] = invoice
        return invoice

    def _invoice_object(self, i: dict) -> dict:
        paid = i["status"] == "paid"
        subtotal = i["price"]["unit_amount"] * i["quantity"]
        suffix = f"{i['number'] + 1:010d}"
        line = {
            "id": f"il_{suffix}", "object": "line_item", "amount": subtotal, "currency": i["currency"],
            "description": f"{i['quantity']} × {i['price']['nickname']}", "discount_amounts": [],
            "discountable": True, "discounts": [], "invoice": i["id"], "livemode": False, "metadata": {},
            "parent": {"invoice_item_details": None, "subscription_item_details": {
                "invoice_item": None, "proration": False, "proration_details": {"credited_items": None},
                "subscription": i["subscription"], "subscription_item": i["item"]},
                "type": "subscription_item_details"},
            "period": {"end": i["period_end"], "start": i["period_start"]},
            "pretax_credit_amounts": [], "pricing": {"price_details": {
                "price": i["price"]["id"], "product": i["price"]["product"]}, "type": "price_details",
                "unit_amount_decimal": i["price"]["unit_amount_decimal"]},
            "quantity": i["quantity"], "taxes": [],
        }
        return {
            "id": i["id"], "object": "invoice", "account_country": "US", "account_name": "Generated SaaS Inc.",
            "amount_due": i["amount"], "amount_overpaid": 0, "amount_paid": i["amount"] if paid else 0,
            "amount_remaining": 0 if paid else i["amount"], "amount_shipping": 0, "attempt_count": i["attempts"],
            "attempted": i["attempts"] > 0, "auto_advance": not paid, "billing_reason": i["reason"],
            "collection_method": "charge_automatically", "created": i["created"], "currency": i["currency"],
            "customer": i["customer"], "default_payment_method": None, "description": None,
            "discounts": [i["discount_id"]] if i["discount_id"] else [], "due_date": None,
            "effective_at": i["created"], "ending_balance": 0, "hosted_invoice_url": None,
            "lines": {"object": "list", "data": [line], "has_more": False, "total_count": 1,
                      "url": f"/v1/invoices/{i['id']}/lines"},
            "livemode": False, "metadata": {}, "number": f"GEN-{i['number'] + 1:08d}",
            "parent": {"quote_details": None, "subscription_details": {
                "metadata": {}, "subscription": i["subscription"]}, "type": "subscription_details"},
            # Stripe's invoice-level period is the one before a subscription invoice; the lines bill the next
            "period_end": i["period_start"], "period_start": i["period_start"],
            "status": i["status"], "status_transitions": {
                "finalized_at": i["created"], "marked_uncollectible_at": None,
                "paid_at": i["paid_at"], "voided_at": None},
            "subtotal": subtotal, "subtotal_excluding_tax": subtotal,
            "total": i["amount"], "total_discount_amounts": [] if subtotal == i["amount"] else [
                {"amount": subtotal - i["amount"], "discount": i["discount_id"]}],
            "total_excluding_tax": i["amount"], "total_taxes": [],
        }
