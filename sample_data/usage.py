"""Usage, rendered after each simulated month: daily (or weekly) active seats and API calls of every live
account, interpolated between the month's start and end levels that the simulation decided."""

from __future__ import annotations

import numpy as np
import polars as pl

from sample_data.churn_hazard import P_AT_RISK_CHURNS
from sample_data.company import (
    ACTIVE,
    API_WEEKEND_FACTOR,
    P_GROWTH_SPURT,
    SEAT_LIMIT,
    SEAT_WEEKEND_FACTOR,
    TOP_TIER,
    TRIALING,
)


class Usage:
    """The usage of Simulation (simulation.py): the month's levels (`_usage_levels`, a phase of `advance(m)`)
    and the usage events (`usage(m)` after `advance(m)`)."""

    def _usage_levels(self, month) -> dict[str, np.ndarray]:
        """8. Usage levels for the month: a trend, growth spurts, and collapses ahead of churn."""
        n, rng, m = self.n, self.rng, month.m
        eligible = (self.status == ACTIVE) & ~month.touched & (self.pending == 0) & ~self.dunning
        at_risk_before = self.at_risk_month == m - 1
        churn_intent = at_risk_before & (self._uniform() < P_AT_RISK_CHURNS)
        new_risk = eligible & month.warned
        self.at_risk_month[new_risk] = m
        slumping = self._slumps(eligible & ~new_risk & ~month.silent)
        spurt_starts = (
            (self.status == ACTIVE) & (self.growth_left == 0) & ~new_risk & (self._uniform() < P_GROWTH_SPURT)
        )
        self.growth_left[spurt_starts] = rng.integers(2, 5, size=int(spurt_starts.sum()))
        spurting = (self.growth_left > 0) & ~new_risk
        seat_growth = np.exp(rng.normal(0.01, 0.05, n))
        api_growth = np.exp(rng.normal(0.01, 0.04, n))
        seat_growth = np.where(spurting, rng.uniform(1.12, 1.3, n), seat_growth)
        api_growth = np.where(spurting, rng.uniform(1.55, 1.9, n), api_growth)
        recovering = at_risk_before & ~churn_intent
        seat_growth = np.where(recovering, rng.uniform(1.5, 2.2, n), seat_growth)
        api_growth = np.where(recovering, rng.uniform(1.5, 2.2, n), api_growth)
        seat_growth = np.where(slumping, rng.uniform(0.8, 0.93, n), seat_growth)
        api_growth = np.where(slumping, rng.uniform(0.72, 0.9, n), api_growth)
        declining = churn_intent | (self.pending == 1)
        seat_growth = np.where(declining, rng.uniform(0.75, 0.95, n), seat_growth)
        api_growth = np.where(declining, rng.uniform(0.75, 0.95, n), api_growth)
        seat_growth = np.where(new_risk, rng.uniform(0.22, 0.4, n), seat_growth)
        api_growth = np.where(new_risk, rng.uniform(0.25, 0.45, n), api_growth)
        self.growth_left[spurting] -= 1
        seats_end = np.clip(month.seats_start * seat_growth, 0.6, 0.97 * SEAT_LIMIT[TOP_TIER])
        intensity_start = self.intensity.copy()
        intensity_end = np.clip(intensity_start * api_growth, 1.0, 5000.0)
        # Seats a trial may use are the plan's; a paid subscription's are its quantity.
        was_trial = (self.status == TRIALING) | ((month.status0 == TRIALING) & (self.status != ACTIVE))
        seat_cap = np.where(was_trial, SEAT_LIMIT[self.tier], self.quantity)
        return dict(eligible=eligible, churn_intent=churn_intent, recovering=recovering, collapsing=new_risk,
                    seats_end=seats_end, intensity_start=intensity_start, intensity_end=intensity_end,
                    seat_cap=seat_cap)


    def usage(self, m: int):
        """Yield month m's usage events in chunks: one per day, or one per week-of-month bucket."""
        state = self._usage_state
        rng = self.usage_rng
        dim = int(self.dim[m])
        weekday = (self.day0[m] + np.arange(dim) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        weekend_before = np.concatenate([[0], np.cumsum(weekday >= 5)])  # weekend days among days 1..k
        if self.granularity == "day":
            periods = [(d, d) for d in range(1, dim + 1)]
        else:
            # Monday-to-Sunday weeks, cut at the month's end so a week never spans two months (a week
            # straddling a month boundary reports twice, once per part).
            week_ends = [int(d) + 1 for d in np.flatnonzero(weekday == 6)]
            if not week_ends or week_ends[-1] != dim:
                week_ends.append(dim)
            periods = list(zip([1, *(end + 1 for end in week_ends[:-1])], week_ends, strict=True))
        reporting = np.flatnonzero(state["reports"])
        first_all, last_all = state["first"][reporting], state["last"][reporting]
        for period_first, period_last in periods:
            inside = (first_all <= period_last) & (last_all >= period_first)
            idx = reporting[inside]
            k = len(idx)
            if k == 0:
                continue
            first = np.maximum(first_all[inside], period_first)
            last = np.minimum(last_all[inside], period_last)
            days = last - first + 1
            weekend = weekend_before[last] - weekend_before[first - 1]
            t = ((first + last) / 2 - 0.5) / dim
            # A collapse ahead of churn happens in the first third of the month, so the last 30 days
            # show it clearly (docs/sales.md: usage down >= 50%).
            t = np.where(state["collapsing"][idx], np.minimum(1.0, 3 * t), t)
            seats = state["seats_start"][idx] + (state["seats_end"][idx] - state["seats_start"][idx]) * t
            intensity = (
                state["intensity_start"][idx]
                + (state["intensity_end"][idx] - state["intensity_start"][idx]) * t
            )
            cap = state["seat_cap"][idx]
            seat_factor = (days - weekend + SEAT_WEEKEND_FACTOR * weekend) / days
            active = seats * seat_factor * np.exp(rng.normal(0.0, 0.04, k))
            # Active seats stay within the licensed quantity, apart from the odd day one over.
            over_by_one = rng.random(k) < 0.01
            active_hundredths = np.minimum(np.round(active * 100), cap * 100 + over_by_one * 100)
            if self.granularity == "day":
                active_hundredths = np.round(active_hundredths / 100) * 100
            calls = (
                np.minimum(seats, cap)
                * intensity
                * (days - weekend + API_WEEKEND_FACTOR * weekend)
                * rng.gamma(25.0, 1 / 25.0, k)
            )
            # Rows in file order: by day, then account, then metric (active_seats, api_calls).
            order = np.argsort(last, kind="stable")
            quantity = np.column_stack([active_hundredths[order], np.round(calls[order]) * 100])
            yield pl.DataFrame(
                {
                    "account": np.repeat(idx[order], 2).astype(np.int64),
                    "day": np.repeat(self.day0[m] + last[order] - 1, 2).astype(np.int64),
                    "metric": np.tile(np.arange(2, dtype=np.int8), k),
                    "quantity": quantity.ravel().astype(np.int64),
                }
            )

