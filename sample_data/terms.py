"""New subscriptions' terms, one concern of the simulation: the plan that fits an account's usage, its seats,
billing interval, discount and price, and the events that start a trial or a paid subscription."""

from __future__ import annotations

import numpy as np

from sample_data.company import (
    ACTIVE,
    API_LIMIT,
    INTERVAL_SHARE,
    PRICE_BOOK,
    SEAT_LIMIT,
    SUB_STARTED,
    TOP_TIER,
    TRIAL_STARTED,
    TRIALING,
)
from sample_data.events import EventBuffer


class Terms:
    """The subscription terms of Simulation (simulation.py), which holds the state they read and write."""

    def _fitting_tier(
        self, quantity: np.ndarray, seats: np.ndarray, intensity: np.ndarray, headroom: float = 0.9
    ) -> np.ndarray:
        """Smallest tier whose seat limit holds `quantity` and whose API limit holds the usage."""
        monthly_calls = np.minimum(seats, quantity) * intensity * 26
        tier = np.full(len(quantity), TOP_TIER, dtype=np.int8)
        for t in range(TOP_TIER - 1, -1, -1):
            fits = (quantity <= SEAT_LIMIT[t]) & (monthly_calls <= headroom * API_LIMIT[t])
            tier[fits] = t
        return tier

    def _start_terms(self, idx: np.ndarray, keep_tier: bool = False) -> None:
        """Plan, seats, interval, discount and price of new paid subscriptions (or trial conversions)."""
        rng = self.rng
        k = len(idx)
        seats = self.seats[idx]
        quantity = np.maximum(1, np.ceil(seats * rng.uniform(1.0, 1.25, k))).astype(np.int32)
        quantity = np.minimum(quantity, SEAT_LIMIT[TOP_TIER])
        tier = self._fitting_tier(quantity, seats, self.intensity[idx])
        tier = np.where(rng.random(k) < 0.15, np.minimum(tier + 1, TOP_TIER), tier).astype(np.int8)
        if keep_tier:
            tier = np.maximum(tier, self.tier[idx])
        quantity = np.minimum(quantity, SEAT_LIMIT[tier]).astype(np.int32)
        segment = self.segment[idx]
        draw = rng.random(k)
        share = INTERVAL_SHARE[segment]
        interval = np.where(draw < share[:, 0], 1, np.where(draw < share[:, 0] + share[:, 1], 3, 12)).astype(
            np.int8
        )
        annual_discount = (interval == 12) & (rng.random(k) < 0.6)
        negotiated = np.where(segment == 2, rng.random(k) < 0.5, rng.random(k) < 0.06)
        discount = np.where(annual_discount, 15, 0)
        discount = np.maximum(discount, np.where(negotiated, rng.choice([10, 20, 25, 30], size=k), 0))
        self.tier[idx] = tier
        self.quantity[idx] = quantity
        self.interval[idx] = interval
        self.discount[idx] = discount
        self.unit_price[idx] = PRICE_BOOK[self.currency[idx], tier] * interval

    def _emit_start(self, events: EventBuffer, event_type: int, idx: np.ndarray, seconds: np.ndarray) -> None:
        if event_type == TRIAL_STARTED:
            events.add(TRIAL_STARTED, idx, seconds, seq=self.seq[idx], tier=self.tier[idx])
            return
        events.add(
            event_type,
            idx,
            seconds,
            seq=self.seq[idx],
            tier=self.tier[idx],
            interval=self.interval[idx],
            quantity=self.quantity[idx],
            unit_price=self.unit_price[idx],
            currency=self.currency[idx],
            discount=np.where(self.discount[idx] > 0, self.discount[idx], -1),
        )

    def _begin(self, sub: EventBuffer, idx: np.ndarray, m: int, day: np.ndarray, second: np.ndarray,
               trial: bool) -> None:
        """Start a trial or a paid subscription (a new subscription_id) for accounts idx at (m, day, second)."""
        self.seq[idx] += 1
        at = self._instant(m, day, second)
        if trial:
            self.tier[idx] = self._fitting_tier(np.ceil(self.seats[idx]), self.seats[idx], self.intensity[idx])
            self._emit_start(sub, TRIAL_STARTED, idx, at)
            self.status[idx] = TRIALING
            self.anchor[idx] = day  # the trial ends on the same day next month
            self.bill_second[idx] = second + 600
            return
        self._start_terms(idx)
        self._emit_start(sub, SUB_STARTED, idx, at)
        self._begin_paid_period(idx, m, day, second)

    def _begin_paid_period(self, idx: np.ndarray, m: int, day: np.ndarray, second: np.ndarray,
                           resumed: bool = False) -> None:
        if not resumed:
            self.paid_since[idx] = m
        self.status[idx] = ACTIVE
        self.ever_paid[idx] = True
        self.lapsed_trial[idx] = False
        self.anchor[idx] = day
        self.bill_second[idx] = second + 120
        self.next_invoice[idx] = m
