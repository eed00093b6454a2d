"""The model's inputs: intermediate.churn_features (a dbt model, one row per paying account and snapshot
month) read into a numeric matrix, the labels of intermediate.churn_outcomes, and the three churn-risk
rules of today's list scored on the same snapshots (the baseline every backtest is compared with).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from transforms import sales

FEATURES_TABLE = "intermediate.churn_features"
OUTCOMES_TABLE = "intermediate.churn_outcomes"

SEGMENT_CODES = {"SMB": 0, "Mid-Market": 1, "Enterprise": 2}  # others: missing
INTERVAL_MONTHS = {"month": 1, "quarter": 3, "year": 12}

# The model's columns, in matrix order. Derived ones are computed in `matrix_frame`.
FEATURES = (
    "segment_code",
    "billing_months",
    "tier_rank",
    "quantity",
    "discount_pct",
    "mrr_usd",
    "mrr_change_3m",
    "mrr_contracted_3m",
    "tenure_months",
    "days_to_renewal",
    "seats_trend_1m",
    "seats_trend_2m",
    "api_trend_1m",
    "api_trend_2m",
    "seat_utilisation",
    "seat_limit_utilisation",
    "api_utilisation",
    "failed_payments_3m",
    "days_since_failed_payment",
    "unpaid_failed_payments",
    "cancellation_scheduled",
    "days_to_cancellation",
    "changes_scheduled_3m",
    "discounts_removed_3m",
)


@dataclass(frozen=True)
class Snapshots:
    """Account-months with their features (frame: ids, raw columns and FEATURES) and labels (NULL while open)."""

    frame: pl.DataFrame

    @property
    def matrix(self) -> np.ndarray:
        return np.ascontiguousarray(self.frame.select(FEATURES).to_numpy(), dtype=np.float64)

    @property
    def labels(self) -> np.ndarray:
        return self.frame["churned_3m"].cast(pl.Int8).to_numpy()

    def where(self, condition: pl.Expr) -> Snapshots:
        return Snapshots(self.frame.filter(condition))


def read_snapshots(con: duckdb.DuckDBPyConnection, where: str = "true", max_rows: int | None = None,
                   seed: int = 0, with_outcomes: bool = True) -> Snapshots:
    """Features joined to their outcomes (`where` filters the feature rows, e.g. a snapshot month).

    With `max_rows`, a larger selection is sampled by account (every snapshot of about max_rows / rows of
    the accounts, chosen by a hash of the account and the seed): a million accounts' history never has to
    be read whole, and an account's months stay together."""
    selection = f"""
        from {FEATURES_TABLE} as features
        left join {OUTCOMES_TABLE} as outcomes using (account_id, snapshot_month)
        where {where}
    """
    sample = "true"
    if max_rows is not None:
        rows = con.sql(f"select count(*) {selection}").fetchall()[0][0]
        if rows > max_rows:
            per_million = int(1_000_000 * max_rows / rows)
            sample = f"hash(features.account_id || '/{int(seed)}') % 1000000 < {per_million}"
    if not with_outcomes:  # scoring: the latest snapshot, in any order
        frame = con.sql(f"select * from {FEATURES_TABLE} as features where {where}").pl()
        return Snapshots(matrix_frame(frame.with_columns(outcome_closed=pl.lit(False), churned_3m=pl.lit(None))))
    frame = con.sql(
        f"""
        select features.*, outcomes.outcome_closed, outcomes.churned_3m
        {selection} and {sample}
        order by features.snapshot_month, features.account_id
        """
    ).pl()
    return Snapshots(matrix_frame(frame))


def matrix_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Add the derived columns of FEATURES and the rules' score to a churn_features frame."""
    c = pl.col
    return frame.with_columns(
        segment_code=c("segment").replace_strict(SEGMENT_CODES, default=None, return_dtype=pl.Float32),
        billing_months=c("billing_interval").replace_strict(INTERVAL_MONTHS, default=None, return_dtype=pl.Float32)
        * c("interval_count").fill_null(1),
        mrr_usd=c("mrr").cast(pl.Float64),
        mrr_change_3m=pl.when(c("mrr_3m_ago").cast(pl.Float64) > 0)
        .then(c("mrr").cast(pl.Float64) / c("mrr_3m_ago").cast(pl.Float64)),
        days_to_cancellation=(c("cancels_at") - c("snapshot_at")).dt.total_hours() / 24.0,
        discount_pct=c("discount_pct").cast(pl.Float64),
        mrr_contracted_3m=c("mrr_contracted_3m").cast(pl.Float32),
        cancellation_scheduled=c("cancellation_scheduled").cast(pl.Float32),
    ).with_columns(rules_score=rules_score())


def rules_score() -> pl.Expr:
    """The churn-risk list's score (docs/sales.md) from a snapshot's features: 0 when no rule holds.

    The three rules as of the snapshot: an unpaid failed payment of the last 30 days, a scheduled
    cancellation (its share of MRR taken as all of it: one subscription per account here), and usage down
    >= 50% (here the snapshot month's daily mean against the month before, the list compares 30-day windows)."""
    c = pl.col
    drop = pl.max_horizontal(
        pl.when(c("seats_trend_1m") <= 0.5).then(1 - c("seats_trend_1m")),
        pl.when(c("api_trend_1m") <= 0.5).then(1 - c("api_trend_1m")),
    )
    holds = {
        sales.PAYMENT_FAILED: c("unpaid_failed_payments") > 0,
        sales.CANCELLATION_SCHEDULED: c("cancellation_scheduled") > 0,
        sales.USAGE_DROP: drop.is_not_null(),
    }
    strengths = {
        sales.PAYMENT_FAILED: c("unpaid_failed_payments").cast(pl.Float64),
        sales.CANCELLATION_SCHEDULED: pl.lit(1.0),
        sales.USAGE_DROP: drop,
    }
    total = pl.lit(0.0)
    for code, (base, extra, full) in sales.CHURN_RISK_POINTS.items():
        ramp = ((strengths[code] - sales.SIGNAL_START[code]) / (full - sales.SIGNAL_START[code])).clip(0.0, 1.0)
        total = total + pl.when(holds[code].fill_null(False)).then(base + extra * ramp.fill_null(0.0)).otherwise(0.0)
    return (total + 0.5).floor().clip(0, 100).cast(pl.Int32)
