"""The signals of docs/sales.md, per account: usage compared over two 30-day windows, unpaid failures,
scheduled cancellations, and both lists' reason codes and scores (before exclusions)."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from transforms.sales.contract import MONEY
from transforms.sales.inputs import SalesInputs
from transforms.sales.offers import next_plans
from transforms.sales.reasons import (
    API_METRIC,
    CANCELLATION_SCHEDULED,
    CHURN_RISK_REASONS,
    LEVEL_METRICS,
    PAYMENT_FAILED,
    SEAT_LIMIT_NEAR,
    SEATS_METRIC,
    UPSELL_REASONS,
    USAGE_DROP,
    USAGE_GROWTH,
    USAGE_LIMIT_NEAR,
)
from transforms.sales.scoring import CHURN_RISK_POINTS, UPSELL_POINTS, score_expression

# The thresholds of docs/sales.md as exact fractions (numerator, denominator): `a * den >= b * num` compares whole
# numbers exactly, so 40 of 50 seats is flagged whatever floating point makes of 0.8 * 50.
LIMIT_NEAR = (4, 5)  # usage >= 80% of the plan's limit
GROWTH = (3, 2)  # current >= 1.5 x previous
DROP = (1, 2)  # current <= 0.5 x previous, i.e. down >= 50%


def _at_least(value: pl.Expr, reference: pl.Expr, fraction: tuple[int, int]) -> pl.Expr:
    """value >= reference x fraction, compared exactly for whole numbers."""
    numerator, denominator = fraction
    return value * denominator >= reference * numerator


def _at_most(value: pl.Expr, reference: pl.Expr, fraction: tuple[int, int]) -> pl.Expr:
    """value <= reference x fraction, compared exactly for whole numbers."""
    numerator, denominator = fraction
    return value * denominator <= reference * numerator



def metric_comparisons(usage: pl.DataFrame) -> pl.DataFrame:
    """One row per account and metric: the figures compared (sums; daily means for level metrics), their
    ratio, and whether the metric grew >= 1.5x or dropped >= 50% against the previous 30 days, the
    previous figure being > 0 (docs/sales.md).

    As the definition says, nothing else is required: an account whose usage began during the previous window
    is compared on that partial window too, which can make steady use look like growth (docs/sales.md).
    """
    level = pl.col("metric").is_in(list(LEVEL_METRICS))
    return (
        usage.with_columns(
            current=pl.when(level).then(pl.col("current_daily_mean").fill_null(0.0)).otherwise(pl.col("current_total")),
            previous=pl.when(level).then(pl.col("previous_daily_mean").fill_null(0.0)).otherwise(pl.col("previous_total")),
        )
        .with_columns(
            ratio=pl.when(pl.col("previous") > 0).then(pl.col("current") / pl.col("previous")),
            grew=(pl.col("previous") > 0) & _at_least(pl.col("current"), pl.col("previous"), GROWTH),
            dropped=(pl.col("previous") > 0) & _at_most(pl.col("current"), pl.col("previous"), DROP),
        )
        .select("account_id", "metric", "current", "previous", "ratio", "grew", "dropped",
                "current_total", "current_daily_mean")
    )


def usage_features(comparisons: pl.DataFrame) -> pl.DataFrame:
    """One row per account: mean active seats, API calls in 30 days, and the growing / dropping metrics."""
    metric = pl.col("metric")
    return comparisons.sort("account_id", "metric").group_by("account_id").agg(
        mean_active_seats=pl.col("current_daily_mean").filter(metric == SEATS_METRIC).first(),
        api_calls_30d=pl.col("current_total").filter(metric == API_METRIC).first(),
        usage_growth_ratio=pl.col("ratio").filter(pl.col("grew")).max(),
        usage_drop=(1 - pl.col("ratio")).filter(pl.col("dropped")).max(),
        growing=pl.struct("metric", "ratio").filter(pl.col("grew")),
        dropping=pl.struct("metric", "ratio").filter(pl.col("dropped")),
    )



def account_signals(inputs: SalesInputs) -> pl.DataFrame:
    """One row per active account with every feature, both signal sets and both scores (before exclusions)."""
    features = usage_features(metric_comparisons(inputs.usage))

    failures = inputs.payment_failures.group_by("account_id").agg(
        unpaid_failed_payments=pl.len().cast(pl.Int32),
        unpaid_amount_usd=pl.col("amount_usd").fill_null(Decimal(0)).sum().cast(MONEY),
        first_failed_payment_at=pl.col("failed_at").min(),
        last_failed_payment_at=pl.col("failed_at").max(),
    )
    cancellations = inputs.cancellations.group_by("account_id").agg(
        cancels_at=pl.col("cancels_at").min(),
        mrr_cancelling=pl.col("mrr").sum().cast(MONEY),
    )
    plans = inputs.plans.select("plan_id", "plan_name", "tier_rank", "seat_limit", "api_call_limit",
                                "list_price_monthly")

    active = (
        inputs.accounts.filter(pl.col("status") == "active")
        .join(plans, on="plan_id", how="left")
        .join(next_plans(inputs.plans), on="plan_id", how="left")
        .join(inputs.plan_seats.select("account_id", "plan_seats", "plan_mrr"), on="account_id", how="left")
        .join(features, on="account_id", how="left")
        .join(failures, on="account_id", how="left")
        .join(cancellations, on="account_id", how="left")
        .with_columns(
            seat_utilisation=pl.when(pl.col("seat_limit") > 0).then(pl.col("mean_active_seats") / pl.col("seat_limit")),
            api_utilisation=pl.when(pl.col("api_call_limit") > 0)
            .then(pl.col("api_calls_30d") / pl.col("api_call_limit")),
            cancelling_share=pl.when(pl.col("mrr") > 0)
            .then(pl.col("mrr_cancelling").cast(pl.Float64) / pl.col("mrr").cast(pl.Float64))
            .otherwise(1.0),
        )
    )
    signals = {
        SEAT_LIMIT_NEAR: (pl.col("seat_limit") > 0)
        & _at_least(pl.col("mean_active_seats"), pl.col("seat_limit"), LIMIT_NEAR).fill_null(False),
        USAGE_LIMIT_NEAR: (pl.col("api_call_limit") > 0)
        & _at_least(pl.col("api_calls_30d"), pl.col("api_call_limit"), LIMIT_NEAR).fill_null(False),
        USAGE_GROWTH: pl.col("usage_growth_ratio").is_not_null(),
        PAYMENT_FAILED: pl.col("unpaid_failed_payments").fill_null(0) > 0,
        CANCELLATION_SCHEDULED: pl.col("cancels_at").is_not_null(),
        USAGE_DROP: pl.col("usage_drop").is_not_null(),
    }
    strengths = {
        SEAT_LIMIT_NEAR: pl.col("seat_utilisation"),
        USAGE_LIMIT_NEAR: pl.col("api_utilisation"),
        USAGE_GROWTH: pl.col("usage_growth_ratio"),
        PAYMENT_FAILED: pl.col("unpaid_failed_payments").cast(pl.Float64),
        CANCELLATION_SCHEDULED: pl.col("cancelling_share"),
        USAGE_DROP: pl.col("usage_drop"),
    }
    return active.with_columns(
        **{f"has_{code}": signal.fill_null(False) for code, signal in signals.items()},
    ).with_columns(
        upsell_codes=_codes(UPSELL_REASONS),
        churn_risk_codes=_codes(CHURN_RISK_REASONS),
        upsell_score=score_expression(UPSELL_POINTS, strengths),
        churn_risk_score=score_expression(CHURN_RISK_POINTS, strengths),
    )


def _codes(reasons: tuple[str, ...]) -> pl.Expr:
    """The codes of the signals that hold, in `reasons` order. Written as text and split: building lists
    element by element cost half a second at a million accounts, this a twentieth of it."""
    holds = [pl.col(f"has_{code}") for code in reasons]
    text = pl.concat_str([pl.when(h).then(pl.lit(code)) for h, code in zip(holds, reasons, strict=True)],
                         separator=",", ignore_nulls=True)
    return pl.when(pl.any_horizontal(holds)).then(text.str.split(",")).otherwise(pl.lit([], dtype=pl.List(pl.String)))

