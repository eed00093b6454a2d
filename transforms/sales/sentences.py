"""One plain-language sentence per account (docs/sales.md), written as Polars expressions: at a million
accounts a Python loop over the rows cost seconds, these a fraction of one."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from transforms.core.formatting import money_expr, whole_number_expr
from transforms.sales.reasons import METRIC_LABELS

# Amounts and whole numbers in the sentences: transforms/core/formatting.py (exact to the cent, no rounding).
_whole = whole_number_expr
money = money_expr


def _percent_floor(fraction: pl.Expr) -> pl.Expr:
    # Floor, so a figure is never shown above what it is (79.99% never reads 80%); the epsilon absorbs
    # binary noise such as 0.29 * 100 = 28.999999999999996.
    return (fraction * 100 + 1e-9).floor().cast(pl.Int64).cast(pl.String)


def _percent_ceil(fraction: pl.Expr) -> pl.Expr:
    # Over a limit, up: 100.2% of it reads 101%, never "100%" beside "over".
    return (fraction * 100 - 1e-9).ceil().cast(pl.Int64).cast(pl.String)


def _count(value: pl.Expr) -> pl.Expr:
    return _whole((value + 0.5).floor())


def _seats(mean: pl.Expr) -> pl.Expr:
    """A mean seat count as people read it: 46, 1,062, but 4.6 (not "5 of 5 seats (92%)") below 100."""
    tenths = (mean * 10 + 0.5).floor().cast(pl.Int64)
    return (
        pl.when((mean >= 100) | ((mean - mean.round(0)).abs() < 0.05)).then(_count(mean))
        .otherwise((tenths // 10).cast(pl.String) + pl.lit(".") + (tenths % 10).cast(pl.String))
    )


def _day(timestamp: pl.Expr) -> pl.Expr:
    return timestamp.dt.strftime("%Y-%m-%d")


def change_phrases(frame: pl.DataFrame, column: str, word: str) -> pl.Series:
    """Each row's list of {metric, ratio} as its sentence part, 'API calls up 70% in 30 days; active seats
    up 50% in 30 days' (sorted by metric; NULL for none), worked out on the exploded lists."""
    metric = pl.col(column).struct.field("metric")
    percent = ((pl.col(column).struct.field("ratio") - 1).abs() * 100 + 0.5).floor().cast(pl.Int64).cast(pl.String)
    label = metric.replace_strict(METRIC_LABELS, default=metric.str.replace_all("_", " ", literal=True),
                                  return_dtype=pl.String)
    phrases = (
        frame.select(pl.int_range(pl.len()).alias("row"), pl.col(column)).explode(column)
        .filter(pl.col(column).is_not_null())
        .select("row", metric.alias("metric"),
                pl.concat_str([label, pl.lit(f" {word} "), percent, pl.lit("% in 30 days")]).alias("phrase"))
        .sort("row", "metric")
        .group_by("row", maintain_order=True).agg(pl.col("phrase").str.join("; "))
    )
    return (pl.DataFrame({"row": pl.int_range(frame.height, eager=True)})
            .join(phrases, on="row", how="left", maintain_order="left")["phrase"])


def _sentence(parts: list[pl.Expr]) -> pl.Expr:
    """The parts that apply (non-NULL), joined by '; ', first letter upper-case."""
    text = pl.concat_str(parts, separator="; ", ignore_nulls=True)
    return text.str.slice(0, 1).str.to_uppercase() + text.str.slice(1)


def _when(condition: pl.Expr, text: pl.Expr) -> pl.Expr:
    return pl.when(condition.fill_null(False)).then(text)


def _count_given(value: pl.Expr) -> pl.Expr:
    """A count that says something: not NULL and not 0."""
    return value.is_not_null() & (value != 0)


def _text_given(value: pl.Expr) -> pl.Expr:
    """A text that says something: not NULL and not empty."""
    return value.is_not_null() & (value != "")


def upsell_sentences(frame: pl.DataFrame) -> pl.Series:
    """'Using 46 of 50 seats (92%) on Growth; API calls up 70% in 30 days; suggest Scale, +$480 MRR'."""
    c = pl.col
    growing = change_phrases(frame, "growing", "up")
    plan = pl.coalesce(c("plan_name"), c("plan_id"))  # a plan missing from reference/plans.csv has no name
    offer = (
        pl.when(c("next_plan_id").is_null() & _count_given(c("extra_seats")))
        .then(pl.lit("suggest ") + _whole(c("extra_seats")) + pl.lit(" more seats on ") + plan)
        .when(c("next_plan_id").is_null())
        .then(pl.lit("on ") + plan + pl.lit(", the top tier, ")
              + pl.when(_count_given(c("seat_limit"))).then(pl.lit("with seats to spare"))
              .otherwise(pl.lit("with no seat limit")) + pl.lit(": talk about the growth"))
        .otherwise(pl.lit("suggest ") + pl.when(_text_given(c("recommended_plan_name"))).then(c("recommended_plan_name"))
                   .otherwise(c("recommended_plan_id")))
    )
    sentence = _sentence([
        # "near" below the limit, "at" on it, "over" above it (the reason code stays usage_limit_near)
        _when(c("has_seat_limit_near"),
              pl.lit("Using ") + _seats(c("mean_active_seats")) + pl.lit(" of ") + _whole(c("seat_limit"))
              + pl.lit(" seats (")
              + pl.when(c("mean_active_seats") > c("seat_limit"))
              .then(_percent_ceil(c("seat_utilisation")) + pl.lit("%, over the limit"))
              .when(c("mean_active_seats") == c("seat_limit")).then(pl.lit("100%, at the limit"))
              .otherwise(_percent_floor(c("seat_utilisation")) + pl.lit("%"))
              + pl.lit(") on ") + plan),
        _when(c("has_usage_limit_near"),
              pl.when(c("api_calls_30d") > c("api_call_limit"))
              .then(pl.lit("API calls over ") + plan + pl.lit("'s monthly limit: ")
                    + _percent_ceil(c("api_utilisation")) + pl.lit("% ("))
              .when(c("api_calls_30d") == c("api_call_limit"))
              .then(pl.lit("API calls at ") + plan + pl.lit("'s monthly limit ("))
              .otherwise(pl.lit("API calls at ") + _percent_floor(c("api_utilisation")) + pl.lit("% of ") + plan
                         + pl.lit("'s monthly limit ("))
              + _count(c("api_calls_30d")) + pl.lit(" of ") + _whole(c("api_call_limit")) + pl.lit(" in 30 days)")),
        _when(_text_given(c("growing_text")), c("growing_text")),
        offer + pl.lit(", +") + money(c("expected_mrr_uplift")) + pl.lit(" MRR"),
    ])
    return frame.with_columns(growing_text=growing).select(sentence.alias("summary")).to_series()


def churn_risk_sentences(frame: pl.DataFrame) -> pl.Series:
    """'Payment of $960 failed on 2025-06-15, unpaid since; API calls down 60% in 30 days'."""
    c = pl.col
    dropping = change_phrases(frame, "dropping", "down")
    amount = money(c("unpaid_amount_usd").fill_null(Decimal(0)))
    failed = (
        pl.when(c("unpaid_failed_payments") == 1)
        .then(pl.lit("Payment of ") + amount + pl.lit(" failed on ") + _day(c("last_failed_payment_at")))
        .otherwise(c("unpaid_failed_payments").cast(pl.String) + pl.lit(" payments (") + amount
                   + pl.lit(") failed since ") + _day(c("first_failed_payment_at")))
        + pl.lit(", unpaid since")
    )
    share = pl.when(c("cancelling_share") >= 1).then(pl.lit("all")).otherwise(money(c("mrr_cancelling")) + pl.lit(" of"))
    sentence = _sentence([
        _when(c("has_payment_failed"), failed),
        _when(c("has_cancellation_scheduled"),
              pl.lit("cancellation scheduled for ") + _day(c("cancels_at")) + pl.lit(" (") + share + pl.lit(" ")
              + money(c("mrr")) + pl.lit(" MRR)")),
        _when(_text_given(c("dropping_text")), c("dropping_text")),
    ])
    return frame.with_columns(dropping_text=dropping).select(sentence.alias("summary")).to_series()

