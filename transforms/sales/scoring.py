"""The 0-100 score of docs/sales.md: base points per signal that holds, plus extra points as its strength
ramps from the threshold to "full"; monotone by construction."""

from __future__ import annotations

import polars as pl

from transforms.sales.reasons import (
    CANCELLATION_SCHEDULED,
    PAYMENT_FAILED,
    SEAT_LIMIT_NEAR,
    USAGE_DROP,
    USAGE_GROWTH,
    USAGE_LIMIT_NEAR,
)

# Score points (docs/sales.md): a signal that holds earns its base, plus up to `extra` as its strength
# ramps from the threshold to `full`. Upsell maxima add up to 100, and so do churn-risk maxima.
UPSELL_POINTS = {  # reason: (base, extra, strength at which the extra is complete)
    SEAT_LIMIT_NEAR: (20, 20, 1.0),  # seat utilisation 80% -> 100%
    USAGE_LIMIT_NEAR: (20, 20, 1.0),  # API utilisation 80% -> 100%
    USAGE_GROWTH: (10, 10, 3.0),  # growth ratio 1.5x -> 3x
}
CHURN_RISK_POINTS = {
    CANCELLATION_SCHEDULED: (30, 10, 1.0),  # share of the account's MRR set to cancel, 0 -> 100%
    PAYMENT_FAILED: (20, 10, 3.0),  # unresolved failed payments, 1 -> 3
    USAGE_DROP: (10, 20, 1.0),  # largest drop, 50% -> 100%
}
SIGNAL_START = {SEAT_LIMIT_NEAR: 0.8, USAGE_LIMIT_NEAR: 0.8, USAGE_GROWTH: 1.5,
                CANCELLATION_SCHEDULED: 0.0, PAYMENT_FAILED: 1.0, USAGE_DROP: 0.5}


def _ramp(strength: pl.Expr, start: float, full: float) -> pl.Expr:
    """0 at the signal's threshold, 1 at `full` and beyond: how far past the threshold a signal is."""
    return ((strength - start) / (full - start)).clip(0.0, 1.0)


def score_expression(points: dict[str, tuple[int, int, float]], strengths: dict[str, pl.Expr]) -> pl.Expr:
    """Sum over the signals that hold of base + extra x ramp(strength), rounded half up, capped at 100.

    Monotone: a stronger signal never lowers the score, and a signal switching on adds at least its base."""
    total = pl.lit(0.0)
    for code, (base, extra, full) in points.items():
        earned = base + extra * _ramp(strengths[code].cast(pl.Float64), SIGNAL_START[code], full).fill_null(0.0)
        total = total + pl.when(pl.col(f"has_{code}")).then(earned).otherwise(0.0)
    return (total + 0.5).floor().clip(0, 100).cast(pl.Int32)

