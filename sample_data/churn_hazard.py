"""Why customers leave: each paying account's monthly churn hazard, a causal and noisy process.

At the start of every month each paying customer that has not already decided to leave draws a decision
with probability `hazard = sigmoid(logit)`, where the logit adds up drivers a warehouse can observe from
the event log and two it cannot:

- observable: the segment (SMB leaves most), the billing interval (quarterly and yearly customers decide
  near their renewal, rarely in between), tenure (young customers leave more), the usage trend (active
  seats and API calls over the last two months), seat utilisation against the licensed seats, failed
  payments of the last three months, an invoice still unpaid after its retry, a recent downgrade or
  seats given back, and a discount that ended (a price rise) in the last three months;
- unobserved: a per-account frailty drawn once (some customers are simply less attached) and monthly noise.

A decision shows in two ways. Most customers (P_WARNED) let usage collapse during the month and cancel the
next month (P_AT_RISK_CHURNS of them; a retention offer saves the rest); the others cancel that month with
no warning in usage. A customer with an unpaid invoice who decides to leave is canceled by dunning on its
next billing day; one who does not pays the invoice late. Usage slumps (P_SLUMP a month, 2-3 months of
falling usage) happen without any decision and raise the hazard through the usage trend.

Every account-month's true hazard goes to a side file (HazardLog) outside the landing folder, which the
warehouse never reads: it lets an evaluation report the best achievable score beside a model's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sample_data.company import ACTIVE

# Logit terms (docs: sample_data/README.md, "Churn"). Base by segment: SMB, Mid-Market, Enterprise.
BASE_LOGIT = np.array([-3.7, -4.2, -4.7])
OFF_RENEWAL_LOGIT = -2.6  # quarterly or yearly customer whose renewal is more than a month away
NEAR_RENEWAL_LOGIT = 0.4  # ... and whose renewal is this month or next
YOUNG_LOGIT, YOUNG_MONTHS = 1.1, 4.0  # + 1.1 x exp(-tenure / 4 months)
USAGE_TREND_LOGIT = -1.8  # x log(usage now / usage two months ago), clipped to [-1.2, 0.4]
LOW_UTILISATION_LOGIT = 1.4  # at 25% or fewer of the licensed seats in use, scaled from 0 at 75%
FAILED_PAYMENT_LOGIT = 0.7  # per month with a failed payment among the last three
UNPAID_LOGIT = 2.2  # an invoice still unpaid after its retry
CONTRACTION_LOGIT = 0.6  # a downgrade or seats given back in the last three months
DISCOUNT_ENDED_LOGIT = 0.8  # a discount removed in the last three months: the price went up
FRAILTY_SD = 0.6  # unobserved, per account
NOISE_SD = 0.3  # unobserved, per account and month
RECENT_MONTHS = 3

P_WARNED = 0.65  # a decision shows as a usage collapse first ...
P_AT_RISK_CHURNS = 0.8  # ... after which most cancel the next month (a retention offer saves the rest)
P_SLUMP = np.array([0.04, 0.03, 0.025])  # a usage slump starts (no decision behind it)

HAZARD_FILE = "churn_hazard.parquet"
HAZARD_SCHEMA = pa.schema(
    [
        ("month", pa.date32()),
        ("account_id", pa.string()),
        ("hazard", pa.float32()),
        ("leaving", pa.float32()),
        ("decided", pa.bool_()),
    ]
)


def truth_dir_for(out: Path) -> Path:
    """Where the side file of a landing folder goes by default: a sibling, `<landing>.truth/`."""
    return out.parent / (out.name + ".truth")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class ChurnHazard:
    """The churn decisions of Simulation (simulation.py), which holds the state they read and write."""

    def _init_churn_state(self) -> None:
        n = self.n
        self.frailty = self.rng.normal(0.0, FRAILTY_SD, n)
        self.paid_since = np.zeros(n, dtype=np.int64)  # month the current paid subscription began
        self.seats_before = np.repeat(self.seats[None, :], 2, axis=0)  # at the start of the last two months
        self.intensity_before = np.repeat(self.intensity[None, :], 2, axis=0)
        self.failed_months = np.zeros(n, dtype=np.int8)  # bit k: a failed payment k+1 months ago
        self.contracted_month = np.full(n, -99, dtype=np.int64)
        self.discount_ended_month = np.full(n, -99, dtype=np.int64)
        self.slump_left = np.zeros(n, dtype=np.int8)
        self.hazard_log: HazardLog | None = None

    def _churn_logit(self, m: int) -> np.ndarray:
        """The hazard's logit for every account, from its state at the start of month m."""
        longer_term = self.interval > 1
        renewal_near = (self.next_invoice - m) <= 1
        usage_now = np.log(self.seats) + np.log(self.seats * self.intensity)
        usage_then = np.log(self.seats_before[1]) + np.log(self.seats_before[1] * self.intensity_before[1])
        trend = np.clip((usage_now - usage_then) / 2, -1.2, 0.4)
        utilisation = np.minimum(self.seats, self.quantity) / np.maximum(self.quantity, 1)
        failed = (
            (self.failed_months & 1) + ((self.failed_months >> 1) & 1) + ((self.failed_months >> 2) & 1)
        ).astype(float)
        return (
            BASE_LOGIT[self.segment]
            + np.where(longer_term, np.where(renewal_near, NEAR_RENEWAL_LOGIT, OFF_RENEWAL_LOGIT), 0.0)
            + YOUNG_LOGIT * np.exp(-(m - self.paid_since) / YOUNG_MONTHS)
            + USAGE_TREND_LOGIT * trend
            + LOW_UTILISATION_LOGIT * np.clip((0.75 - utilisation) / 0.5, 0.0, 1.0)
            + FAILED_PAYMENT_LOGIT * failed
            + UNPAID_LOGIT * self.dunning
            + CONTRACTION_LOGIT * (m - self.contracted_month <= RECENT_MONTHS)
            + DISCOUNT_ENDED_LOGIT * (m - self.discount_ended_month <= RECENT_MONTHS)
            + self.frailty
            + self.rng.normal(0.0, NOISE_SD, self.n)
        )

    def _churn_decisions(self, month) -> None:
        """Draw month m's decisions: month.decides (dunning or not), month.warned and month.silent."""
        m = month.m
        paying = month.status0 == ACTIVE
        warned_before = self.at_risk_month == m - 1
        at_risk = paying & (self.pending == 0) & ~warned_before
        hazard = sigmoid(self._churn_logit(m))
        decides = at_risk & (self._uniform() < hazard)
        warned = self._uniform() < P_WARNED
        month.decides = decides
        month.warned = decides & ~self.dunning & warned
        month.silent = decides & ~self.dunning & ~warned
        if self.hazard_log is not None:
            # a scheduled cancellation counts when it takes effect within this month and the next two
            leaving = np.where(self.pending == 1, (self.pending_month <= m + 2).astype(float),
                               np.where(warned_before, P_AT_RISK_CHURNS, 0.0))
            idx = np.flatnonzero(paying)
            self.hazard_log.write(
                self.calendar_months[m], idx, np.where(at_risk, hazard, np.nan)[idx], leaving[idx], decides[idx]
            )

    def _slumps(self, eligible: np.ndarray) -> np.ndarray:
        """Accounts in a usage slump this month (a new one starts for P_SLUMP of the eligible)."""
        starts = eligible & (self.slump_left == 0) & (self._uniform() < P_SLUMP[self.segment])
        self.slump_left[starts] = self.rng.integers(2, 4, size=int(starts.sum()))
        slumping = self.slump_left > 0
        self.slump_left[slumping] -= 1
        return slumping

    def _close_churn_month(self, month, intensity_start: np.ndarray, failed_this_month: np.ndarray) -> None:
        """Remember what next month's hazard reads: usage levels, failed payments."""
        self.seats_before[1] = self.seats_before[0]
        self.seats_before[0] = month.seats_start
        self.intensity_before[1] = self.intensity_before[0]
        self.intensity_before[0] = intensity_start
        self.failed_months = ((self.failed_months << 1) | failed_this_month).astype(np.int8) & 0b111


class HazardLog:
    """The side file: one row per paying account and month, written a month at a time (Parquet).

    month: the month the hazard applies to (first day); account_id; hazard: the probability of deciding to
    leave during that month, from the account's state at its start (null when the account had already
    decided); leaving: the probability that an earlier decision ends in churn within that month and the two
    after (1 for a cancellation scheduled to take effect by then, 0 for a later one, P_AT_RISK_CHURNS after a
    usage collapse, else 0); decided: whether it decided that month.
    """

    def __init__(self, folder: Path, account_ids):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / HAZARD_FILE
        self._partial = folder / (HAZARD_FILE + ".partial")
        self._writer = pq.ParquetWriter(self._partial, HAZARD_SCHEMA, compression="zstd")
        self._account_ids = account_ids  # a pyarrow string array, index = account number
        self.rows = 0

    def write(self, month: np.datetime64, idx, hazard, leaving, decided) -> None:
        k = len(idx)
        table = pa.table(
            {
                "month": pa.array(np.full(k, month.astype("datetime64[D]")), pa.date32()),
                "account_id": self._account_ids.take(pa.array(idx)),
                "hazard": pa.array(hazard.astype(np.float32), pa.float32(), mask=np.isnan(hazard)),
                "leaving": pa.array(leaving.astype(np.float32), pa.float32()),
                "decided": pa.array(decided, pa.bool_()),
            },
            schema=HAZARD_SCHEMA,
        )
        self._writer.write_table(table)
        self.rows += k

    def close(self) -> None:
        self._writer.close()
        self._partial.replace(self.path)
