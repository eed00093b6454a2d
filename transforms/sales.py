"""The sales follow-up lists of docs/sales.md: upsell opportunities and churn risk, explained account by account.

DuckDB does the heavy part: the SQL models in `SALES_MODELS` reduce the last 60 days of usage, the
failed payments and the scheduled cancellations to a few rows per account. This module turns those
small frames into signals, scores, recommendations and one plain-language sentence per account, in
Polars, and writes the two marts and the CRM export. No Dagster here; docs/sales.md explains every rule.

    inputs = read_inputs(con)          # small frames from the warehouse
    lists = follow_up_lists(inputs)    # pure: signals, scores, recommendations, sentences
    write_marts(con, lists)            # marts.upsell_opportunities, marts.churn_risk_accounts
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl

from transforms.core.files import replace_atomically
from transforms.core.formatting import money_expr, whole_number_expr
from transforms.core.sql_types import USD
from transforms.safe_text import neutralize_csv_text
from transforms.sql_models import comment_table, markdown_table

# Built after the MRR models, in this order (they read marts.accounts and the subscription periods).
SALES_MODELS = [
    "intermediate/account_usage_windows",
    "intermediate/unresolved_payment_failures",
    "intermediate/subscriptions_in_force",
    "intermediate/scheduled_cancellations",
    "intermediate/account_plan_seats",
]
UPSELL_TABLE = "marts.upsell_opportunities"
CHURN_RISK_TABLE = "marts.churn_risk_accounts"

# Reason codes, in the order they are listed.
SEAT_LIMIT_NEAR, USAGE_LIMIT_NEAR, USAGE_GROWTH = "seat_limit_near", "usage_limit_near", "usage_growth"
PAYMENT_FAILED, CANCELLATION_SCHEDULED, USAGE_DROP = "payment_failed", "cancellation_scheduled", "usage_drop"
UPSELL_REASONS = (SEAT_LIMIT_NEAR, USAGE_LIMIT_NEAR, USAGE_GROWTH)
CHURN_RISK_REASONS = (PAYMENT_FAILED, CANCELLATION_SCHEDULED, USAGE_DROP)

SEATS_METRIC, API_METRIC = "active_seats", "api_calls"
# Metrics that measure a level (how many at once) rather than a flow: compared as daily means, not sums.
LEVEL_METRICS = (SEATS_METRIC,)
METRIC_LABELS = {SEATS_METRIC: "active seats", API_METRIC: "API calls"}

# The thresholds of docs/sales.md as exact fractions (numerator, denominator): `a * den >= b * num` compares whole
# numbers exactly, so 40 of 50 seats is flagged whatever floating point makes of 0.8 * 50.
LIMIT_NEAR = (4, 5)  # usage >= 80% of the plan's limit
GROWTH = (3, 2)  # current >= 1.5 x previous
DROP = (1, 2)  # current <= 0.5 x previous, i.e. down >= 50%

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

MONEY = pl.Decimal(18, 2)


# ------------------------------------------------------------------------------------------ table contract


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    description: str


_AS_OF = Column("as_of", "timestamp", "The data's as-of instant, UTC (staging.calendar.as_of); signals use the "
                "30 UTC days ending on its date.")
_SALES_OWNER = Column("sales_owner", "varchar", "Account owner in sales (NULL when none).")
_ACCOUNT = [Column("account_name", "varchar", "Account name."),
            Column("segment", "varchar", "Segment (SMB, Mid-Market, Enterprise, ...).")]

UPSELL_COLUMNS = [
    Column("account_id", "varchar", "The customer account: active, with an upsell signal and no churn risk."),
    _AS_OF,
    Column("plan_id", "varchar", "Current plan (marts.accounts.plan_id)."),
    Column("mrr", USD, "Current MRR in USD."),
    Column("recommended_plan_id", "varchar",
           "The plan to offer: the next tier_rank up; on the top tier the same plan with extra_seats more seats."),
    Column("expected_mrr_uplift", USD,
           "MRR gained in USD at list price: next plan's list_price_monthly x seats - MRR of the current plan's "
           "subscriptions (at least the per-seat list-price gap x seats); on the top tier extra_seats x its "
           "list price. 0.00 when there is nothing more to sell at list price (the top tier with seats to spare, "
           "or a next tier no dearer per seat): still an opportunity (docs/sales.md), a conversation about the growth "
           "the signals show."),
    Column("score", "integer", "0-100, higher first: 20-40 points for seat_limit_near and for usage_limit_near "
           "(80% -> 100% of the limit), 10-20 for usage_growth (1.5x -> 3x); see docs/sales.md."),
    Column("reasons", "varchar", "Reason codes, comma-separated: seat_limit_near, usage_limit_near, usage_growth."),
    _SALES_OWNER,
    Column("rank", "integer", "Follow-up order: 1 first (score, then expected uplift, then MRR)."),
    *_ACCOUNT,
    Column("reason_codes", "varchar[]", "The reasons as a list."),
    Column("summary", "varchar", "One plain-language sentence for the CRM: what was seen and what to offer."),
    Column("extra_seats", "integer", "Top tier only: seats to add so mean active seats fall below 80% of the "
           "seat limit (0 with seats to spare); NULL when a higher plan is recommended or the plan has no seat "
           "limit."),
    Column("seats", "integer", "Seats a plan change is priced for: the contracted seats on the current plan, or "
           "the mean active seats rounded up when more are in use."),
    Column("mean_active_seats", "double", "Mean daily active_seats over the reported days of the last 30 days."),
    Column("seat_limit", "bigint", "The current plan's seat limit (NULL = unlimited)."),
    Column("seat_utilisation", "double", "mean_active_seats / seat_limit, a fraction."),
    Column("api_calls_30d", "double", "api_calls summed over the last 30 days."),
    Column("api_call_limit", "bigint", "The current plan's API calls per month (NULL = unlimited)."),
    Column("api_utilisation", "double", "api_calls_30d / api_call_limit, a fraction."),
    Column("usage_growth_ratio", "double", "Largest last-30-days / previous-30-days ratio among the metrics that "
           "grew >= 1.5x; NULL without usage_growth."),
    Column("latest_data_day", "date", "The UTC date of as_of: the last day of the 30-day window."),
]

CHURN_RISK_COLUMNS = [
    Column("account_id", "varchar", "The customer account: active, with at least one churn-risk signal."),
    _AS_OF,
    Column("mrr", USD, "Current MRR in USD (what is at stake)."),
    Column("reasons", "varchar", "Reason codes, comma-separated: payment_failed, cancellation_scheduled, usage_drop."),
    Column("score", "integer", "0-100, higher first: 30-40 points for cancellation_scheduled (share of MRR "
           "cancelling), 20-30 for payment_failed (1 -> 3 unpaid failures), 10-30 for usage_drop (50% -> 100% "
           "down); see docs/sales.md."),
    Column("rank", "integer", "Follow-up order: 1 first (score, then MRR)."),
    _SALES_OWNER,
    *_ACCOUNT,
    Column("plan_id", "varchar", "Current plan."),
    Column("reason_codes", "varchar[]", "The reasons as a list."),
    Column("summary", "varchar", "One plain-language sentence for the CRM: what was seen."),
    Column("unpaid_failed_payments", "integer", "payment_failed events of the last 30 days with no payment "
           "succeeded since for the same invoice or subscription."),
    Column("unpaid_amount_usd", USD, "Their amount in USD."),
    Column("last_failed_payment_at", "timestamp", "The latest of those failures, UTC."),
    Column("cancels_at", "timestamp", "Earliest scheduled cancellation of an active subscription (after as_of), UTC."),
    Column("mrr_cancelling", USD, "MRR in USD of the subscriptions with a scheduled cancellation."),
    Column("usage_drop", "double", "Largest drop among metrics down >= 50%, as a fraction (0.6 = down 60%); "
           "NULL without usage_drop."),
    Column("latest_data_day", "date", "The UTC date of as_of: the last day of the 30-day window."),
]

UPSELL_DESCRIPTION = (
    "Sales follow-up list (docs/sales.md): active accounts with an upsell signal in the last 30 days and no churn "
    "risk, one row per account with the reasons, a 0-100 score, the plan to offer, the expected MRR uplift in "
    "USD and a sentence for the CRM. See docs/sales.md."
)
CHURN_RISK_DESCRIPTION = (
    "Retention follow-up list (docs/sales.md): active accounts with an unpaid failed payment in the last 30 days, a "
    "scheduled cancellation, or a metric's usage down >= 50% against the 30 days before; one row per account "
    "with the reasons, a 0-100 score and a sentence for the CRM. These accounts are never on the upsell list."
)

FOLLOW_UP_COLUMNS = [
    "follow_up", "score", "account_id", "account_name", "sales_owner", "segment", "plan_id", "mrr", "reasons",
    "summary", "recommended_plan_id", "extra_seats", "expected_mrr_uplift", "as_of",
]


# ------------------------------------------------------------------------------------------------ inputs


@dataclass(frozen=True)
class SalesInputs:
    """Everything the lists are computed from: small frames, one per SQL model or mart."""

    as_of: datetime
    accounts: pl.DataFrame  # marts.accounts
    plans: pl.DataFrame  # raw.plans
    usage: pl.DataFrame  # intermediate.account_usage_windows
    payment_failures: pl.DataFrame  # intermediate.unresolved_payment_failures
    cancellations: pl.DataFrame  # intermediate.scheduled_cancellations
    plan_seats: pl.DataFrame  # intermediate.account_plan_seats

    @property
    def latest_data_day(self) -> date:
        return self.as_of.date()


@dataclass(frozen=True)
class SalesLists:
    upsell: pl.DataFrame  # UPSELL_COLUMNS, by rank
    churn_risk: pl.DataFrame  # CHURN_RISK_COLUMNS, by rank
    # Upsell opportunities with nothing more to sell at list price (top tier with seats to spare, or a next
    # tier no dearer per seat): listed with an uplift of 0.00, counted for the asset's metadata.
    upsell_without_uplift: int = 0
    notes: dict[str, int] = field(default_factory=dict)


def read_inputs(con: duckdb.DuckDBPyConnection) -> SalesInputs:
    """Read the small inputs the lists need (run the SALES_MODELS first)."""
    as_of = con.sql("select max(as_of) from staging.calendar").fetchall()[0][0]
    if as_of is None:
        raise ValueError("staging.calendar is empty: load events and build the MRR models before the sales lists")
    return SalesInputs(
        as_of=as_of,
        accounts=con.sql(
            "select account_id, account_name, segment, sales_owner, status, plan_id, mrr from marts.accounts"
        ).pl(),
        plans=con.sql(
            "select plan_id, plan_name, tier_rank, seat_limit, api_call_limit, list_price_monthly from raw.plans"
        ).pl(),
        usage=con.sql("select * from intermediate.account_usage_windows").pl(),
        payment_failures=con.sql("select * from intermediate.unresolved_payment_failures").pl(),
        cancellations=con.sql("select * from intermediate.scheduled_cancellations").pl(),
        plan_seats=con.sql("select * from intermediate.account_plan_seats").pl(),
    )


# --------------------------------------------------------------------------------------- signals (pure)


def _at_least(value: pl.Expr, reference: pl.Expr, fraction: tuple[int, int]) -> pl.Expr:
    """value >= reference x fraction, compared exactly for whole numbers."""
    numerator, denominator = fraction
    return value * denominator >= reference * numerator


def _at_most(value: pl.Expr, reference: pl.Expr, fraction: tuple[int, int]) -> pl.Expr:
    """value <= reference x fraction, compared exactly for whole numbers."""
    numerator, denominator = fraction
    return value * denominator <= reference * numerator


def _ramp(strength: pl.Expr, start: float, full: float) -> pl.Expr:
    """0 at the signal's threshold, 1 at `full` and beyond: how far past the threshold a signal is."""
    return ((strength - start) / (full - start)).clip(0.0, 1.0)


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


def next_plans(plans: pl.DataFrame) -> pl.DataFrame:
    """Each plan's upgrade: the plan of the next tier_rank up (several there: the cheapest, then by id)."""
    upgrades = (
        plans.select("plan_id", "tier_rank")
        .join(plans.select(next_plan_id="plan_id", next_tier_rank="tier_rank", next_plan_name="plan_name",
                           next_list_price="list_price_monthly"), how="cross")
        .filter(pl.col("next_tier_rank") > pl.col("tier_rank"))
        .sort("plan_id", "next_tier_rank", "next_list_price", "next_plan_id")
        .group_by("plan_id", maintain_order=True)
        .first()
    )
    return upgrades.drop("tier_rank")


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


def score_expression(points: dict[str, tuple[int, int, float]], strengths: dict[str, pl.Expr]) -> pl.Expr:
    """Sum over the signals that hold of base + extra x ramp(strength), rounded half up, capped at 100.

    Monotone: a stronger signal never lowers the score, and a signal switching on adds at least its base."""
    total = pl.lit(0.0)
    for code, (base, extra, full) in points.items():
        earned = base + extra * _ramp(strengths[code].cast(pl.Float64), SIGNAL_START[code], full).fill_null(0.0)
        total = total + pl.when(pl.col(f"has_{code}")).then(earned).otherwise(0.0)
    return (total + 0.5).floor().clip(0, 100).cast(pl.Int32)


def recommend(signals: pl.DataFrame) -> pl.DataFrame:
    """The offer for each account: the next plan up priced for its seats, or extra seats on the top tier."""
    seats = pl.max_horizontal(
        pl.col("plan_seats").fill_null(0).cast(pl.Int64),
        pl.col("mean_active_seats").fill_null(0.0).ceil().cast(pl.Int64),
    )
    # Smallest n with mean / (limit + n) < 80%: limit + n > 1.25 x mean, i.e. n = floor(1.25 x mean) - limit + 1.
    # x 1.25 is exact in binary floating point, so a mean of exactly 80% asks for one seat more.
    extra_seats = pl.max_horizontal(
        (pl.col("mean_active_seats") * 1.25).floor().cast(pl.Int64) - pl.col("seat_limit") + 1, pl.lit(0)
    )
    plan_mrr = pl.col("plan_mrr").fill_null(Decimal(0))
    upgrade_uplift = pl.max_horizontal(
        pl.col("next_list_price") * pl.col("seats") - plan_mrr,
        (pl.col("next_list_price") - pl.col("list_price_monthly")) * pl.col("seats"),
    )
    on_top_tier = pl.col("next_plan_id").is_null()
    return signals.with_columns(seats=seats.cast(pl.Int32)).with_columns(
        recommended_plan_id=pl.when(on_top_tier).then(pl.col("plan_id")).otherwise(pl.col("next_plan_id")),
        recommended_plan_name=pl.when(on_top_tier).then(pl.col("plan_name")).otherwise(pl.col("next_plan_name")),
        extra_seats=pl.when(on_top_tier & (pl.col("seat_limit") > 0)).then(extra_seats).cast(pl.Int32),
        # never negative: an account paying above list for a next tier no dearer per seat gains nothing
        expected_mrr_uplift=pl.max_horizontal(
            pl.when(on_top_tier)
            .then((extra_seats * pl.col("list_price_monthly")).fill_null(Decimal(0)))
            .otherwise(upgrade_uplift),
            pl.lit(Decimal(0)),
        ).cast(MONEY),
    )


# ---------------------------------------------------------------------------------------------- the lists


def follow_up_lists(inputs: SalesInputs) -> SalesLists:
    """Both lists, ranked, with a sentence per account. Only active accounts; churn risk wins over upsell."""
    signals = account_signals(inputs)
    at_risk = pl.col("churn_risk_codes").list.len() > 0
    with_upsell_signal = signals.filter(~at_risk & (pl.col("upsell_codes").list.len() > 0))
    # docs/sales.md: every one of them is an opportunity, even with nothing more to sell at list price
    offers = recommend(with_upsell_signal)

    context = {"as_of": inputs.as_of, "latest_data_day": inputs.latest_data_day}
    upsell = (
        offers.sort(["upsell_score", "expected_mrr_uplift", "mrr", "account_id"],
                    descending=[True, True, True, False])
        .with_columns(
            rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int32),
            score=pl.col("upsell_score"),
            reason_codes=pl.col("upsell_codes"),
            reasons=pl.col("upsell_codes").list.join(","),
            **{k: pl.lit(v) for k, v in context.items()},
        )
    )
    upsell = upsell.with_columns(summary=upsell_sentences(upsell))
    churn_risk = (
        signals.filter(at_risk)
        .sort(["churn_risk_score", "mrr", "account_id"], descending=[True, True, False])
        .with_columns(
            rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int32),
            score=pl.col("churn_risk_score"),
            reason_codes=pl.col("churn_risk_codes"),
            reasons=pl.col("churn_risk_codes").list.join(","),
            unpaid_failed_payments=pl.col("unpaid_failed_payments").fill_null(0),
            **{k: pl.lit(v) for k, v in context.items()},
        )
    )
    churn_risk = churn_risk.with_columns(summary=churn_risk_sentences(churn_risk))
    return SalesLists(
        upsell=_conform(upsell, UPSELL_COLUMNS),
        churn_risk=_conform(churn_risk, CHURN_RISK_COLUMNS),
        upsell_without_uplift=offers.filter(pl.col("expected_mrr_uplift") == 0).height,
        notes={
            "active_accounts": signals.height,
            "accounts_with_upsell_signal_and_churn_risk": signals.filter(
                at_risk & (pl.col("upsell_codes").list.len() > 0)).height,
        },
    )


_POLARS_TYPES = {"varchar": pl.String, "timestamp": pl.Datetime("us"), "date": pl.Date, "integer": pl.Int32,
                 "bigint": pl.Int64, "double": pl.Float64, "varchar[]": pl.List(pl.String), USD: MONEY}


def _conform(frame: pl.DataFrame, columns: list[Column]) -> pl.DataFrame:
    """The table's columns, in order, with the table's types (also when the frame is empty)."""
    return frame.select([pl.col(c.name).cast(_POLARS_TYPES[c.sql_type]) for c in columns])


# -------------------------------------------------------------------------------------------- sentences


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


def _change_phrases(frame: pl.DataFrame, column: str, word: str) -> pl.Series:
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
    growing = _change_phrases(frame, "growing", "up")
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
    dropping = _change_phrases(frame, "dropping", "down")
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


# ------------------------------------------------------------------------------------------------ output


def write_marts(con: duckdb.DuckDBPyConnection, lists: SalesLists) -> None:
    """Replace both marts in one transaction, typed and documented (COMMENT ON every table and column)."""
    tables = [(UPSELL_TABLE, lists.upsell, UPSELL_COLUMNS, UPSELL_DESCRIPTION),
              (CHURN_RISK_TABLE, lists.churn_risk, CHURN_RISK_COLUMNS, CHURN_RISK_DESCRIPTION)]
    con.execute("begin transaction")
    try:
        con.execute("create schema if not exists marts")
        for qualified_name, frame, columns, description in tables:
            view = f"sales_frame_{qualified_name.split('.')[1]}"
            con.register(view, frame)
            try:
                select = ", ".join(f"{c.name}::{c.sql_type} as {c.name}" for c in columns)
                con.execute(f"create or replace table {qualified_name} as select {select} from {view} order by rank")
            finally:
                con.unregister(view)
            comment_table(con, qualified_name, description, {c.name: c.description for c in columns})
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def reason_counts(frame: pl.DataFrame, reasons: tuple[str, ...]) -> dict[str, int]:
    """Accounts per reason code (an account with two reasons counts under both); every code, even at 0."""
    counts = dict.fromkeys(reasons, 0)
    if frame.height:
        for code, n in frame.select(pl.col("reason_codes").explode()).to_series().value_counts().iter_rows():
            if code is not None:
                counts[code] = n
    return counts


def top_accounts_frame(frame: pl.DataFrame, limit: int = 10) -> pl.DataFrame:
    """The first accounts of a list with their reasons and sentence (a table in the Dagster UI)."""
    wanted = ["rank", "account_id", "account_name", "sales_owner", "score", "reasons", "mrr",
              "recommended_plan_id", "expected_mrr_uplift", "summary"]
    return frame.sort("rank").head(limit).select([c for c in wanted if c in frame.columns])


def top_accounts_markdown(frame: pl.DataFrame, limit: int = 10) -> str:
    """top_accounts_frame as a Markdown table."""
    return markdown_table(top_accounts_frame(frame, limit))


def follow_up_frame(upsell: pl.DataFrame, churn_risk: pl.DataFrame) -> pl.DataFrame:
    """The CRM export: both lists in one frame, by score; at equal scores retention comes first (protect
    revenue before growing it), then the larger MRR at stake or uplift, then account_id."""
    common = ["score", "account_id", "account_name", "sales_owner", "segment", "plan_id", "mrr", "reasons", "summary"]
    retention = churn_risk.select(
        pl.lit("churn_risk").alias("follow_up"), *common,
        pl.lit(None, dtype=pl.String).alias("recommended_plan_id"),
        pl.lit(None, dtype=pl.Int32).alias("extra_seats"),
        pl.lit(None, dtype=MONEY).alias("expected_mrr_uplift"),
        "as_of", pl.lit(0).alias("list_order"), pl.col("mrr").alias("at_stake"),
    )
    expansion = upsell.select(
        pl.lit("upsell").alias("follow_up"), *common, "recommended_plan_id", "extra_seats", "expected_mrr_uplift",
        "as_of", pl.lit(1).alias("list_order"), pl.col("expected_mrr_uplift").alias("at_stake"),
    )
    return (
        pl.concat([retention, expansion], how="vertical")
        .sort(["score", "list_order", "at_stake", "account_id"], descending=[True, False, True, False])
        .select(FOLLOW_UP_COLUMNS)
    )


def write_follow_up_csv(frame: pl.DataFrame, exports_dir: str | Path, latest_data_day: date) -> list[Path]:
    """Write follow_up_<latest data day>.csv and follow_up_latest.csv, each atomically (temp file + rename),
    so the CRM import never reads a half-written file. Returns both paths."""
    folder = Path(exports_dir)
    folder.mkdir(parents=True, exist_ok=True)
    safe = neutralize_csv_text(frame)  # names are the customer's text: never a formula (safe_text.py)
    written = []
    for name in (f"follow_up_{latest_data_day:%Y-%m-%d}.csv", "follow_up_latest.csv"):
        written.append(replace_atomically(
            folder / name, lambda out: safe.write_csv(out, datetime_format="%Y-%m-%dT%H:%M:%SZ"), binary=True))
    return written


# ------------------------------------------------------------------------------------------------ checks


def list_violations(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rules both lists keep (docs/sales.md), as counts of offending rows named `<list>_<rule>`; {} when all hold."""
    queries = {}
    for prefix, table in (("upsell", UPSELL_TABLE), ("churn_risk", CHURN_RISK_TABLE)):
        queries |= {
            f"{prefix}_account_not_active": f"""
                select count(*) from {table} left join marts.accounts as accounts using (account_id)
                where accounts.status is distinct from 'active'""",
            f"{prefix}_without_reasons": f"""
                select count(*) from {table} where coalesce(reasons, '') = '' or coalesce(len(reason_codes), 0) = 0""",
            f"{prefix}_score_out_of_range": f"""
                select count(*) from {table} where score is null or score not between 0 and 100""",
            f"{prefix}_rank_not_by_score": f"""
                select count(*) from (select score, lag(score) over (order by rank) as previous_score from {table})
                where score > previous_score""",
            f"{prefix}_duplicate_accounts": f"select count(*) - count(distinct account_id) from {table}",
        }
    queries["upsell_account_at_churn_risk"] = f"select count(*) from {UPSELL_TABLE} join {CHURN_RISK_TABLE} using (account_id)"
    queries["upsell_uplift_missing_or_negative"] = (
        f"select count(*) from {UPSELL_TABLE} where expected_mrr_uplift is null or expected_mrr_uplift < 0"
    )
    counts = {name: con.sql(sql).fetchall()[0][0] for name, sql in queries.items()}
    return {name: n for name, n in counts.items() if n}
