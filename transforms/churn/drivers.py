"""Plain-word drivers: the model's per-row contributions, summed over the features that describe one thing
(the usage trend, the payments, ...), and the top ones said in words with this account's own figures.

    texts, contributions = top_drivers(frame, model.contributions(matrix))
"""

from __future__ import annotations

import numpy as np
import polars as pl

from transforms.churn.features import FEATURES

c = pl.col

# Driver: the features whose contributions it sums.
GROUPS = {
    "usage_trend": ("seats_trend_1m", "seats_trend_2m", "api_trend_1m", "api_trend_2m"),
    "utilisation": ("seat_utilisation", "seat_limit_utilisation", "api_utilisation", "quantity"),
    "payments": ("failed_payments_3m", "days_since_failed_payment", "unpaid_failed_payments"),
    "cancellation": ("cancellation_scheduled", "days_to_cancellation"),
    "tenure": ("tenure_months",),
    "renewal": ("billing_months", "days_to_renewal"),
    "plan_change": ("mrr_change_3m", "mrr_contracted_3m", "changes_scheduled_3m", "tier_rank"),
    "discount": ("discount_pct", "discounts_removed_3m"),
    "segment": ("segment_code",),
    "size": ("mrr_usd",),
}
assert sorted(f for group in GROUPS.values() for f in group) == sorted(FEATURES), "every feature in one group"


def _whole(value: pl.Expr) -> pl.Expr:
    return value.round(0).cast(pl.Int64).cast(pl.String)


def _change(ratio: pl.Expr, what: str) -> pl.Expr:
    """'active seats down 45%' / 'up 12%' / 'steady' against the month before."""
    return (
        pl.when(ratio.is_null()).then(pl.lit(f"no {what} reported the month before"))
        .when(ratio <= 0.95).then(pl.lit(f"{what} down ") + _whole((1 - ratio) * 100) + pl.lit("%"))
        .when(ratio >= 1.05).then(pl.lit(f"{what} up ") + _whole((ratio - 1) * 100) + pl.lit("%"))
        .otherwise(pl.lit(f"{what} steady"))
    )


def _two_places(positive: pl.Expr) -> pl.Expr:
    """1.2 -> '1.20' (positive numbers)."""
    cents = (positive * 100).round(0).cast(pl.Int64)
    return (cents // 100).cast(pl.String) + pl.lit(".") + (cents % 100).cast(pl.String).str.pad_start(2, "0")


def _count(n: pl.Expr, one: str, many: str) -> pl.Expr:
    return _whole(n) + pl.when(n == 1).then(pl.lit(" " + one)).otherwise(pl.lit(" " + many))


PHRASES = {
    "usage_trend": _change(c("seats_trend_1m"), "active seats") + pl.lit(" and ")
    + _change(c("api_trend_1m"), "API calls") + pl.lit(" on the month before"),
    "utilisation": pl.when(c("seat_utilisation").is_null()).then(pl.lit("no active seats reported"))
    .otherwise(_whole(c("seat_utilisation") * 100) + pl.lit("% of its ") + _whole(c("quantity"))
               + pl.lit(" licensed seats in use")),
    "payments": pl.when(c("unpaid_failed_payments") > 0)
    .then(_count(c("unpaid_failed_payments"), "failed payment", "failed payments") + pl.lit(" still unpaid"))
    .when(c("failed_payments_3m") > 0)
    .then(_count(c("failed_payments_3m"), "failed payment", "failed payments") + pl.lit(" in the last 3 months"))
    .otherwise(pl.lit("no failed payment in the last 3 months")),
    "cancellation": pl.when(c("cancellation_scheduled") > 0)
    .then(pl.lit("cancellation scheduled, effective in ") + _count(c("days_to_cancellation").ceil(), "day", "days"))
    .otherwise(pl.lit("no cancellation scheduled")),
    "tenure": pl.when(c("tenure_months") < 1).then(pl.lit("first month as a paying customer"))
    .otherwise(pl.lit("paying for ") + _count(c("tenure_months"), "month", "months")),
    "renewal": pl.when(c("billing_months") == 1).then(pl.lit("monthly plan"))
    .when(c("billing_months") == 3).then(pl.lit("quarterly plan"))
    .when(c("billing_months") == 12).then(pl.lit("yearly plan"))
    .otherwise(pl.lit("plan billed every ") + _count(c("billing_months"), "month", "months"))
    + pl.when(c("days_to_renewal").is_not_null() & (c("billing_months") > 1))
    .then(pl.lit(", renewing in ") + _count(c("days_to_renewal").clip(0, None), "day", "days")).otherwise(pl.lit("")),
    "plan_change": pl.when((c("mrr_change_3m") < 1) & (c("mrr_contracted_3m") > 0))
    .then(pl.lit("MRR down ") + _whole((1 - c("mrr_change_3m")) * 100) + pl.lit("% in 3 months"))
    .when(c("mrr_contracted_3m") > 0).then(pl.lit("MRR lowered in the last 3 months"))
    .when(c("changes_scheduled_3m") > 0).then(pl.lit("a plan change scheduled in the last 3 months"))
    .otherwise(pl.lit("no downgrade in the last 3 months")),
    "discount": pl.when(c("discounts_removed_3m") > 0).then(pl.lit("a discount ended in the last 3 months"))
    .when(c("discount_pct") > 0).then(_whole(c("discount_pct")) + pl.lit("% discount"))
    .otherwise(pl.lit("no discount")),
    "segment": pl.when(c("segment").is_null()).then(pl.lit("segment unknown"))
    .otherwise(c("segment") + pl.lit(" segment")),
    "size": pl.lit("MRR $") + _whole(c("mrr_usd")),
}


def group_contributions(contributions: np.ndarray) -> np.ndarray:
    """(rows x features) contributions summed into (rows x GROUPS)."""
    index = {name: i for i, name in enumerate(FEATURES)}
    return np.column_stack(
        [contributions[:, [index[f] for f in features]].sum(axis=1) for features in GROUPS.values()]
    )


def top_drivers(frame: pl.DataFrame, contributions: np.ndarray, top: int = 3) -> pl.DataFrame:
    """The `top` drivers raising each row's risk most: `driver_k` (words, NULL where fewer drivers raise the
    risk), `driver_k_contribution` (log-odds, rounded to 2 places) and `top_drivers`, all of them in one text."""
    grouped = group_contributions(contributions)
    order = np.argsort(-grouped, axis=1, kind="stable")[:, :top]
    chosen = np.round(np.take_along_axis(grouped, order, axis=1), 2)
    raises = chosen > 0  # what rounds to +0.00 is no driver worth naming
    texts = frame.select(**PHRASES).to_numpy() if len(frame) else np.empty((0, len(GROUPS)), dtype=object)
    rows = np.arange(len(frame))
    columns = {}
    for rank in range(top):
        k = rank + 1
        columns[f"driver_{k}"] = pl.Series(np.where(raises[:, rank], texts[rows, order[:, rank]], None).tolist(), dtype=pl.String)
        columns[f"driver_{k}_contribution"] = pl.Series(np.where(raises[:, rank], chosen[:, rank], np.nan)).fill_nan(None)
    out = pl.DataFrame(columns)
    said = [
        pl.when(c(f"driver_{k}").is_not_null())
        .then(c(f"driver_{k}") + pl.lit(" (+") + _two_places(c(f"driver_{k}_contribution")) + pl.lit(")"))
        for k in range(1, top + 1)
    ]
    return out.with_columns(top_drivers=pl.concat_str(said, separator="; ", ignore_nulls=True))
