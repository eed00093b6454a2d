"""What paying customers decide, one phase of a simulated month: at most one action per customer, after
the month's invoice if any (cancel, buy seats, move up or down a tier, give seats back, switch to yearly
billing, take or lose a discount, pause), and the subscription_changed events that carry them."""

from __future__ import annotations

import numpy as np

from sample_data.company import (
    API_LIMIT,
    CHURNED,
    HOUR,
    LATEST_ACTION_SECOND,
    P_PAUSE,
    P_PAUSE_AT_RISK,
    PAUSED,
    PRICE_BOOK,
    REFUND_ISSUED,
    SEAT_LIMIT,
    SUB_CANCELED,
    SUB_CHANGED,
    SUB_PAUSED,
    TOP_TIER,
    UNLIMITED_API,
)


class CustomerDecisions:
    """The decisions phase of Simulation (simulation.py), which holds the state it reads and writes."""

    def _lifecycle_actions(
        self, m, sub, bill, eligible, invoiced, churn_intent, recovering, seats_end, intensity_end, usage_last
    ) -> None:
        rng, n, dim = self.rng, self.n, int(self.dim[m])
        anchor_day = self._anchor_day(m)
        # Accounts invoiced this month act after the invoice (billing day or later); others any day.
        first = np.where(invoiced, anchor_day, 1)
        day = first + (self._uniform() * (dim - first + 1)).astype(np.int64)
        same_day = invoiced & (day == anchor_day)
        earliest = np.where(same_day, self.bill_second + HOUR, 0)
        second = earliest + (self._uniform() * (LATEST_ACTION_SECOND - earliest)).astype(np.int64)
        when = self._instant(m, day, second)
        free = eligible.copy()

        def pick(condition: np.ndarray, probability) -> np.ndarray:
            chosen = free & condition & (self._uniform() < probability)
            free[chosen] = False
            return chosen

        tier, quantity = self.tier, self.quantity
        api_month = np.minimum(seats_end, quantity) * intensity_end * 26
        api_limit = np.where(API_LIMIT[tier] < 0, UNLIMITED_API, API_LIMIT[tier])

        # Churn: most after a usage collapse last month, a few out of the blue. Monthly plans often
        # cancel at once; longer terms almost always at the end of the paid period.
        churn = pick(churn_intent, 1.0)
        scheduled = churn & (self._uniform() < np.where(self.interval == 1, 0.5, 0.85))
        idx = np.flatnonzero(churn & ~scheduled)
        sub.add(SUB_CANCELED, idx, when[idx], seq=self.seq[idx])
        self.status[idx] = CHURNED
        usage_last[idx] = day[idx] - 1
        refund = idx[
            self._uniform()[idx] < np.where(invoiced[idx], 0.5, np.where(self.interval[idx] > 1, 0.3, 0.0))
        ]
        refund_amount = np.maximum(
            1, np.round(self.last_invoice_amount[refund] * rng.uniform(0.2, 0.9, len(refund)))
        )
        bill.add(
            REFUND_ISSUED,
            refund,
            when[refund] + 600,
            seq=self.seq[refund],
            invoice=self.last_invoice[refund],
            amount=refund_amount.astype(np.int64),
            currency=self.currency[refund],
        )
        idx = np.flatnonzero(scheduled)
        sub.add(SUB_CANCELED, idx, when[idx], effective=self._renewal_instant(idx), seq=self.seq[idx])
        self.pending[idx] = 1
        self.pending_month[idx] = self.next_invoice[idx]

        # Seat growth: more seats, or the next tier when the seat limit is in the way. Buying seats is
        # quick; moving up a tier takes longer, so some accounts sit at their plan's seat limit a while.
        wanted = np.minimum(np.ceil(seats_end * rng.uniform(1.15, 1.4, n)), SEAT_LIMIT[TOP_TIER]).astype(
            np.int32
        )
        new_tier = np.maximum(tier, self._fitting_tier(wanted, seats_end, intensity_end))
        idx = np.flatnonzero(
            pick((seats_end > 0.9 * quantity) & (wanted > quantity), np.where(new_tier > tier, 0.15, 0.6))
        )
        self._change_now(sub, idx, when[idx], new_tier[idx], wanted[idx], new_tier[idx] != tier[idx])

        # API usage at the plan's limit: the next tier, after a month or two over 80%.
        idx = np.flatnonzero(pick((api_month > 0.95 * api_limit) & (tier < TOP_TIER), 0.3))
        self._change_now(
            sub,
            idx,
            when[idx],
            (tier[idx] + 1).astype(np.int8),
            quantity[idx],
            np.ones(len(idx), dtype=bool),
            send_quantity=False,
        )

        # Unused seats: fewer seats, sometimes with a lower tier; mostly at the end of the paid period.
        idx = np.flatnonzero(pick((seats_end < 0.65 * quantity) & (quantity > 1), 0.3))
        new_quantity = np.maximum(1, np.ceil(seats_end[idx] * 1.2)).astype(np.int32)
        lower = self._fitting_tier(new_quantity, seats_end[idx], intensity_end[idx])
        new_tier = np.where(
            (lower < tier[idx]) & (rng.random(len(idx)) < 0.4), tier[idx] - 1, tier[idx]
        ).astype(np.int8)
        now = rng.random(len(idx)) < 0.3
        self._change_now(
            sub, idx[now], when[idx[now]], new_tier[now], new_quantity[now], new_tier[now] != tier[idx[now]]
        )
        self._change_later(
            sub,
            idx[~now],
            when[idx[~now]],
            new_tier[~now],
            new_quantity[~now],
            self.interval[idx[~now]],
            self.discount[idx[~now]],
        )

        # Plan downgrade at renewal when a cheaper tier would do.
        fits_lower = (tier > 0) & (self._fitting_tier(quantity, seats_end, intensity_end) < tier)
        idx = np.flatnonzero(pick(fits_lower, 0.02))
        self._change_later(
            sub,
            idx,
            when[idx],
            (tier[idx] - 1).astype(np.int8),
            quantity[idx],
            self.interval[idx],
            self.discount[idx],
        )

        # Monthly customers commit to a year (15% off) from their next renewal.
        idx = np.flatnonzero(pick(self.interval == 1, 0.012))
        self._change_later(
            sub,
            idx,
            when[idx],
            tier[idx],
            quantity[idx],
            np.full(len(idx), 12, np.int8),
            np.maximum(self.discount[idx], 15).astype(np.int8),
        )

        # Discounts: a retention offer after a usage scare, an expiring promotion, a rare new one.
        idx = np.flatnonzero(pick(recovering & (self.discount == 0), 0.4))
        self._discount_now(sub, idx, when[idx], 20)
        idx = np.flatnonzero(pick((self.discount > 0) & (self.interval == 1), 0.03))
        self._discount_now(sub, idx, when[idx], 0)
        idx = np.flatnonzero(pick(self.discount == 0, 0.003))
        self._discount_now(sub, idx, when[idx], 10)

        # Pauses (monthly plans): resumed or canceled 1-3 months later.
        idx = np.flatnonzero(pick(self.interval == 1, np.where(recovering, P_PAUSE_AT_RISK, P_PAUSE)))
        sub.add(SUB_PAUSED, idx, when[idx], seq=self.seq[idx])
        self.status[idx] = PAUSED
        self.pause_until[idx] = m + rng.integers(1, 4, size=len(idx))
        usage_last[idx] = day[idx] - 1

    def _change_now(self, sub, idx, when, new_tier, new_quantity, send_plan, send_quantity=True) -> None:
        """Immediate subscription_changed: only the fields that change are sent."""
        self._note_contraction(idx, new_tier, new_quantity)
        new_price = PRICE_BOOK[self.currency[idx], new_tier] * self.interval[idx]
        quantity_changes = send_quantity & (new_quantity != self.quantity[idx])
        sub.add(
            SUB_CHANGED,
            idx,
            when,
            seq=self.seq[idx],
            tier=np.where(send_plan, new_tier, -1),
            unit_price=np.where(send_plan, new_price, -1),
            quantity=np.where(quantity_changes, new_quantity, -1),
        )
        self.tier[idx] = new_tier
        self.quantity[idx] = new_quantity
        self.unit_price[idx] = new_price

    def _change_later(self, sub, idx, when, new_tier, new_quantity, new_interval, new_discount) -> None:
        """subscription_changed sent now, effective at the end of the paid period (effective_at)."""
        self._note_contraction(idx, new_tier, new_quantity)
        new_price = PRICE_BOOK[self.currency[idx], new_tier] * new_interval
        changes_plan = new_tier != self.tier[idx]
        changes_price = new_price != self.unit_price[idx]
        changes_interval = new_interval != self.interval[idx]
        sub.add(
            SUB_CHANGED,
            idx,
            when,
            effective=self._renewal_instant(idx),
            seq=self.seq[idx],
            tier=np.where(changes_plan, new_tier, -1),
            unit_price=np.where(changes_price, new_price, -1),
            quantity=np.where(new_quantity != self.quantity[idx], new_quantity, -1),
            interval=np.where(changes_interval, new_interval, -1),
            discount=np.where(new_discount != self.discount[idx], new_discount, -1),
        )
        self.pending[idx] = 2
        self.pending_month[idx] = self.next_invoice[idx]
        self.pending_tier[idx] = new_tier
        self.pending_quantity[idx] = new_quantity
        self.pending_interval[idx] = new_interval
        self.pending_discount[idx] = new_discount

    def _note_contraction(self, idx, new_tier, new_quantity) -> None:
        """A downgrade or seats given back raises the churn hazard for a while (churn_hazard.py)."""
        shrinks = (new_tier < self.tier[idx]) | (new_quantity < self.quantity[idx])
        self.contracted_month[idx[shrinks]] = self.current_month

    def _discount_now(self, sub, idx, when, discount: int) -> None:
        if discount == 0:  # a discount ends: the price goes up (churn_hazard.py)
            self.discount_ended_month[idx[self.discount[idx] > 0]] = self.current_month
        sub.add(SUB_CHANGED, idx, when, seq=self.seq[idx], discount=np.full(len(idx), discount, np.int8))
        self.discount[idx] = discount
