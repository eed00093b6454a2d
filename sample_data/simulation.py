"""The simulation: every account's state as numpy arrays, moved one month at a time.

`Simulation.advance(m)` runs month m's phases in order, each a vectorized step over all accounts (never
a Python loop per account or per event): dunning, scheduled changes, trial ends, pause ends, sign-ups,
prospects starting, reactivations, usage levels, billing (billing.py), then at most one decision per
paying customer (decisions.py). `usage(m)` (usage.py) then yields the month's usage events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.random import Generator

from sample_data.billing import Billing
from sample_data.churn_hazard import ChurnHazard
from sample_data.company import (
    ACCOUNT_CREATED,
    ACTIVE,
    API_CALLS_PER_SEAT_DAY,
    CHURNED,
    COUNTRIES,
    DAY,
    HOUR,
    LATEST_ACTION_SECOND,
    NAME_NOUNS,
    NAME_STEMS,
    NOT_CREATED,
    P_HAS_SALES_OWNER,
    P_LAPSED_TRIAL_RETRIES,
    P_PAUSE_ENDS_IN_CANCEL,
    P_PROSPECT_STARTS,
    P_REACTIVATES,
    P_SIGNUP_PAID,
    P_SIGNUP_TRIAL,
    P_TRIAL_CONVERTS,
    PAUSED,
    PAYMENT_SUCCEEDED,
    PRICE_BOOK,
    PROSPECT,
    SALES_OWNERS,
    SEATS_MEDIAN,
    SEATS_SIGMA,
    SEGMENT_SHARE,
    SIGNUP_GROWTH,
    SUB_CANCELED,
    SUB_RESUMED,
    SUB_STARTED,
    TRIALING,
)
from sample_data.decisions import CustomerDecisions
from sample_data.events import EventBuffer, billing_buffer, subscription_buffer
from sample_data.terms import Terms
from sample_data.usage import Usage


@dataclass
class Month:
    """What the phases of one month share: the month's events so far and each account's usage window."""

    m: int
    sub: EventBuffer
    bill: EventBuffer
    status0: np.ndarray  # status at the start of the month
    live_at_start: np.ndarray
    reports_usage: np.ndarray
    usage_first: np.ndarray  # first and last day of the month with usage
    usage_last: np.ndarray
    touched: np.ndarray  # had a start/resume/cancel this month: no further action
    seats_start: np.ndarray
    start_day: np.ndarray | None = None  # day and time of anything that begins this month
    start_second: np.ndarray | None = None
    decides: np.ndarray | None = None  # churn decisions (churn_hazard.py): all, shown by usage first, silent
    warned: np.ndarray | None = None
    silent: np.ndarray | None = None


class Simulation(Billing, ChurnHazard, CustomerDecisions, Terms, Usage):
    """All accounts' state as arrays; `advance(m)` moves every account through month m."""

    def __init__(
        self,
        accounts: int,
        months: int,
        start_month: str,
        rng: Generator,
        usage_rng: Generator,
        usage_granularity: str,
    ):
        self.n = n = accounts
        self.months = months
        self.rng = rng
        self.usage_rng = usage_rng
        self.granularity = usage_granularity

        # Calendar: month k's first day (days since the epoch) and length; 13 spare months so a
        # scheduled change or an annual invoice period can end after the last simulated month.
        self.calendar_months = np.datetime64(start_month, "M") + np.arange(months + 14)
        first_days = self.calendar_months.astype("datetime64[D]").astype(np.int64)
        self.day0 = first_days[:-1]
        self.dim = np.diff(first_days)

        # Static account attributes. Sign-ups grow each month; ids follow the order of creation.
        weights = SIGNUP_GROWTH ** np.arange(months)
        cumulative = np.round(np.cumsum(weights) / weights.sum() * n).astype(np.int64)
        created_month = np.repeat(np.arange(months), np.diff(cumulative, prepend=0))
        created_day = 1 + (rng.random(n) * self.dim[created_month]).astype(np.int64)
        created_second = rng.integers(6 * HOUR, 18 * HOUR, size=n)
        order = np.lexsort((created_second, created_day, created_month))
        self.created_month = created_month[order]
        self.created_day = created_day[order]
        self.created_second = created_second[order]

        self.segment = rng.choice(3, size=n, p=SEGMENT_SHARE).astype(np.int8)
        weights = np.array([c[2] for c in COUNTRIES], dtype=float)
        self.country = rng.choice(len(COUNTRIES), size=n, p=weights / weights.sum()).astype(np.int8)
        self.currency = np.array([c[1] for c in COUNTRIES], dtype=np.int8)[self.country]
        has_owner = rng.random(n) < P_HAS_SALES_OWNER[self.segment]
        self.owner = np.where(has_owner, rng.integers(0, len(SALES_OWNERS), size=n), -1).astype(np.int16)
        self.name_stem = rng.integers(0, len(NAME_STEMS), size=n).astype(np.int16)
        # -1 = no noun ("Acme GmbH"), else "Acme Robotics GmbH"
        self.name_noun = np.where(rng.random(n) < 0.8, rng.integers(0, len(NAME_NOUNS), size=n), -1).astype(
            np.int16
        )

        # Dynamic state.
        self.status = np.full(n, NOT_CREATED, dtype=np.int8)
        self.ever_paid = np.zeros(n, dtype=bool)
        self.lapsed_trial = np.zeros(n, dtype=bool)
        self.seq = np.zeros(n, dtype=np.int16)  # subscription number of the account, in its id
        self.tier = np.zeros(n, dtype=np.int8)
        self.quantity = np.zeros(n, dtype=np.int32)
        self.interval = np.ones(n, dtype=np.int8)
        self.discount = np.zeros(n, dtype=np.int8)
        self.unit_price = np.zeros(n, dtype=np.int64)  # cents per seat per billing interval
        self.anchor = np.ones(n, dtype=np.int64)  # billing day of month (clamped to the month's length)
        self.bill_second = np.full(n, 8 * HOUR, dtype=np.int64)  # time of day of invoices
        self.next_invoice = np.zeros(n, dtype=np.int64)  # month index of the next renewal
        self.pending = np.zeros(n, dtype=np.int8)  # 0 none, 1 scheduled cancel, 2 scheduled change
        self.pending_month = np.zeros(n, dtype=np.int64)
        self.pending_tier = np.zeros(n, dtype=np.int8)
        self.pending_quantity = np.zeros(n, dtype=np.int32)
        self.pending_interval = np.zeros(n, dtype=np.int8)
        self.pending_discount = np.zeros(n, dtype=np.int8)
        self.dunning = np.zeros(n, dtype=bool)  # unpaid invoice: canceled at next month's anchor day
        self.pause_until = np.zeros(n, dtype=np.int64)
        self.at_risk_month = np.full(n, -9, dtype=np.int64)
        self.growth_left = np.zeros(n, dtype=np.int8)
        self.seats = np.clip(
            rng.lognormal(np.log(SEATS_MEDIAN[self.segment]), SEATS_SIGMA[self.segment]), 1, 900
        )
        self.intensity = np.clip(rng.lognormal(np.log(API_CALLS_PER_SEAT_DAY), 0.8, size=n), 2, 2000)
        self.last_invoice = np.zeros(n, dtype=np.int64)
        self.last_invoice_amount = np.zeros(n, dtype=np.int64)
        self.invoice_counter = 0
        self.current_month = 0
        self._init_churn_state()

        # Filled by advance(m) for usage(m).
        self._usage_state: dict[str, np.ndarray] | None = None

    # -------------------------------------------------------------------------------- small helpers

    def _uniform(self) -> np.ndarray:
        return self.rng.random(self.n)

    def _instant(self, month: int, day: np.ndarray, second: np.ndarray) -> np.ndarray:
        return (self.day0[month] + np.asarray(day, dtype=np.int64) - 1) * DAY + np.asarray(
            second, dtype=np.int64
        )

    def _anchor_day(self, month) -> np.ndarray:
        """Billing day in `month` (scalar or per-account array of months), clamped like Stripe does."""
        return np.minimum(self.anchor, self.dim[month])

    def _renewal_instant(self, idx: np.ndarray) -> np.ndarray:
        """00:00 UTC of the next renewal (= the end of the paid period) of accounts idx."""
        month = self.next_invoice[idx]
        day = np.minimum(self.anchor[idx], self.dim[month])
        return (self.day0[month] + day - 1) * DAY

    def _starts(self, month: Month, idx: np.ndarray, day: np.ndarray) -> None:
        """Accounts idx begin reporting usage on `day` and take no other action this month."""
        month.reports_usage[idx] = True
        month.usage_first[idx] = day
        month.touched[idx] = True

    # ------------------------------------------------------------------------------------- one month

    def advance(self, m: int) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Move every account through month m; return that month's subscription and billing events."""
        dim = int(self.dim[m])
        status0 = self.status.copy()
        live_at_start = (status0 == TRIALING) | (status0 == ACTIVE)
        month = Month(
            m=m,
            sub=subscription_buffer(),
            bill=billing_buffer(),
            status0=status0,
            live_at_start=live_at_start,
            reports_usage=live_at_start.copy(),
            usage_first=np.ones(self.n, dtype=np.int64),
            usage_last=np.full(self.n, dim, dtype=np.int64),
            touched=np.zeros(self.n, dtype=bool),
            seats_start=self.seats.copy(),
        )
        self.current_month = m
        self._churn_decisions(month)
        self._end_dunning(month)
        self._apply_scheduled(month)
        self._end_trials(month)
        # Start days and times for anything that begins this month (resumes, sign-ups, reactivations).
        month.start_day = 1 + (self._uniform() * dim).astype(np.int64)
        month.start_second = self.rng.integers(6 * HOUR, 18 * HOUR, size=self.n)
        self._end_pauses(month)
        self._sign_up(month)
        self._prospects_start(month)
        self._reactivate(month)
        month.seats_start = np.where(month.touched & ~live_at_start, self.seats, month.seats_start)
        levels = self._usage_levels(month)
        failed_this_month, invoiced = self._bill(month)
        self._lifecycle_actions(
            m,
            month.sub,
            month.bill,
            levels["eligible"] & ~failed_this_month,
            invoiced,
            levels["churn_intent"] | (month.silent & levels["eligible"]),
            levels["recovering"],
            levels["seats_end"],
            levels["intensity_end"],
            month.usage_last,
        )
        # Remember what usage(m) needs, then move the usage levels forward.
        self._usage_state = dict(
            reports=month.reports_usage & (month.usage_first <= month.usage_last),
            first=month.usage_first,
            last=month.usage_last,
            collapsing=levels["collapsing"],
            seats_start=month.seats_start,
            seats_end=levels["seats_end"],
            intensity_start=levels["intensity_start"],
            intensity_end=levels["intensity_end"],
            seat_cap=np.maximum(levels["seat_cap"], 1),
        )
        self._close_churn_month(month, levels["intensity_start"], failed_this_month)
        moved = month.reports_usage
        self.seats[moved] = levels["seats_end"][moved]
        self.intensity[moved] = levels["intensity_end"][moved]
        return month.sub.frame(), month.bill.frame()

    # ------------------------------------------------------------------------------------ the phases

    def _end_dunning(self, month: Month) -> None:
        """1. An invoice left unpaid last month: a customer who decided to leave is canceled on this month's
        billing day; the others pay it late, before that day's invoice."""
        m, anchor_day = month.m, self._anchor_day(month.m)
        unpaid = self.dunning & (month.status0 == ACTIVE)
        idx = np.flatnonzero(unpaid & ~month.decides)
        day = 1 + (self.rng.random(len(idx)) * anchor_day[idx]).astype(np.int64)
        second = np.where(day == anchor_day[idx], self.bill_second[idx] - 2 * HOUR,
                          self.rng.integers(0, LATEST_ACTION_SECOND, size=len(idx)))
        month.bill.add(PAYMENT_SUCCEEDED, idx, self._instant(m, day, second), seq=self.seq[idx],
                       invoice=self.last_invoice[idx], amount=self.last_invoice_amount[idx],
                       currency=self.currency[idx])
        self.dunning[idx] = False
        idx = np.flatnonzero(unpaid & month.decides)
        month.sub.add(SUB_CANCELED, idx, self._instant(m, anchor_day[idx], self.bill_second[idx] - 1800),
                      seq=self.seq[idx])
        self.status[idx] = CHURNED
        self.dunning[idx] = False
        month.usage_last[idx] = anchor_day[idx] - 1
        month.touched[idx] = True

    def _apply_scheduled(self, month: Month) -> None:
        """2. Scheduled cancellations and changes take effect at 00:00 of the billing day (sent earlier)."""
        m, anchor_day = month.m, self._anchor_day(month.m)
        due = (self.pending > 0) & (self.pending_month == m) & (self.status == ACTIVE)
        idx = np.flatnonzero(due & (self.pending == 1))
        self.status[idx] = CHURNED
        month.usage_last[idx] = anchor_day[idx] - 1
        month.touched[idx] = True
        idx = np.flatnonzero(due & (self.pending == 2))
        self.tier[idx] = self.pending_tier[idx]
        self.quantity[idx] = self.pending_quantity[idx]
        self.interval[idx] = self.pending_interval[idx]
        self.discount[idx] = self.pending_discount[idx]
        self.unit_price[idx] = PRICE_BOOK[self.currency[idx], self.tier[idx]] * self.interval[idx]
        self.pending[due] = 0

    def _end_trials(self, month: Month) -> None:
        """3. Trials started last month convert (same subscription_id) or lapse on the anniversary day."""
        m, anchor_day = month.m, self._anchor_day(month.m)
        trial = month.status0 == TRIALING
        converts = trial & (self._uniform() < P_TRIAL_CONVERTS[self.segment])
        idx = np.flatnonzero(converts)
        self._start_terms(idx, keep_tier=True)
        self._emit_start(month.sub, SUB_STARTED, idx,
                         self._instant(m, anchor_day[idx], self.bill_second[idx] - 120))
        self.status[idx] = ACTIVE
        self.ever_paid[idx] = True
        self.paid_since[idx] = m
        self.next_invoice[idx] = m
        month.touched[idx] = True
        idx = np.flatnonzero(trial & ~converts)
        month.sub.add(SUB_CANCELED, idx, self._instant(m, anchor_day[idx], self.bill_second[idx] - 120),
                      seq=self.seq[idx])
        self.status[idx] = PROSPECT
        self.lapsed_trial[idx] = True
        month.usage_last[idx] = anchor_day[idx] - 1
        month.touched[idx] = True

    def _end_pauses(self, month: Month) -> None:
        """4. Paused subscriptions resume (a new billing anchor, invoiced at once) or are canceled."""
        m, day, second = month.m, month.start_day, month.start_second
        due = (month.status0 == PAUSED) & (self.pause_until == m)
        cancels = due & (self._uniform() < P_PAUSE_ENDS_IN_CANCEL)
        idx = np.flatnonzero(cancels)
        month.sub.add(SUB_CANCELED, idx, self._instant(m, day[idx], second[idx]), seq=self.seq[idx])
        self.status[idx] = CHURNED
        month.touched[idx] = True
        idx = np.flatnonzero(due & ~cancels)
        month.sub.add(SUB_RESUMED, idx, self._instant(m, day[idx], second[idx]), seq=self.seq[idx])
        self._begin_paid_period(idx, m, day[idx], second[idx], resumed=True)
        self._starts(month, idx, day[idx])

    def _sign_up(self, month: Month) -> None:
        """5. New accounts: a trial, a paid start, or nothing yet."""
        m = month.m
        idx = np.flatnonzero(self.created_month == m)
        created_at = self._instant(m, self.created_day[idx], self.created_second[idx])
        month.sub.add(
            ACCOUNT_CREATED,
            idx,
            created_at,
            segment=self.segment[idx],
            country=self.country[idx],
            owner=self.owner[idx],
            name_stem=self.name_stem[idx],
            name_noun=self.name_noun[idx],
        )
        self.status[idx] = PROSPECT
        path = self.rng.random(len(idx))
        trial = path < P_SIGNUP_TRIAL
        direct = (path >= P_SIGNUP_TRIAL) & (path < P_SIGNUP_TRIAL + P_SIGNUP_PAID)
        day, second = self.created_day[idx], self.created_second[idx] + 300
        self._begin(month.sub, idx[trial], m, day[trial], second[trial], trial=True)
        self._begin(month.sub, idx[direct], m, day[direct], second[direct], trial=False)
        for chosen in (idx[trial], idx[direct]):
            self._starts(month, chosen, self.created_day[chosen])

    def _prospects_start(self, month: Month) -> None:
        """6. Older prospects (including lapsed trials) start a trial or a paid subscription."""
        p_start = np.where(self.lapsed_trial, P_LAPSED_TRIAL_RETRIES, P_PROSPECT_STARTS)
        starts = (month.status0 == PROSPECT) & (self._uniform() < p_start)
        as_trial = self._uniform() < 0.55
        for trial_path in (True, False):
            idx = np.flatnonzero(starts & (as_trial == trial_path))
            self._begin(month.sub, idx, month.m, month.start_day[idx], month.start_second[idx], trial=trial_path)
            self._starts(month, idx, month.start_day[idx])

    def _reactivate(self, month: Month) -> None:
        """7. Reactivations: a churned customer comes back with a NEW subscription_id."""
        idx = np.flatnonzero((month.status0 == CHURNED) & (self._uniform() < P_REACTIVATES))
        self.seats[idx] = np.maximum(1.0, self.seats[idx] * self.rng.uniform(0.7, 1.3, len(idx)))
        month.seats_start[idx] = self.seats[idx]
        self._begin(month.sub, idx, month.m, month.start_day[idx], month.start_second[idx], trial=False)
        self._starts(month, idx, month.start_day[idx])
