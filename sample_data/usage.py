"""Usage, rendered after each simulated month: daily (or weekly) active seats and API calls of every live
account, interpolated between the month's start and end levels that the simulation decided."""

from __future__ import annotations

import numpy as np
import polars as pl

from sample_data.company import API_WEEKEND_FACTOR, SEAT_WEEKEND_FACTOR


class Usage:
    """The usage stream of Simulation (simulation.py): `usage(m)` after `advance(m)`."""

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

