"""What the churn-risk list adds to the rules (docs/sales.md#what-to-do-about-a-risk): the churn model's
probability, the MRR it puts at risk, and one recommended action per account.

The probability comes from marts.churn_predictions (the churn model). Without a model (none trained yet, or
too little history to train one) it is NULL and the list keeps the order the rules give it.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from transforms.sales.contract import MONEY
from transforms.sales.sentences import _day, _percent_floor, change_phrases, money

# A year paid up front with two months free: 10 months' price for 12, so it keeps 10/12 of the MRR.
ANNUAL_OFFER_MONTHS_PAID = 10
WIDE = pl.Decimal(38, 18)  # exact products and quotients before rounding to the cent


def _cents(amount: pl.Expr) -> pl.Expr:
    """Rounded half away from zero to the cent (Polars rounds Decimals half to even unless told)."""
    return amount.round(2, mode="half_away_from_zero").cast(MONEY)


def previous_plans(plans: pl.DataFrame) -> pl.DataFrame:
    """Each plan's downgrade: the plan of the next tier_rank down (several there: the dearest, which keeps the
    most, then by id)."""
    downgrades = (
        plans.select("plan_id", "tier_rank")
        .join(plans.select(lower_plan_id="plan_id", lower_tier_rank="tier_rank", lower_plan_name="plan_name",
                           lower_list_price="list_price_monthly", lower_seat_limit="seat_limit"), how="cross")
        .filter(pl.col("lower_tier_rank") < pl.col("tier_rank"))
        .sort(["plan_id", "lower_tier_rank", "lower_list_price", "lower_plan_id"], descending=[False, True, True, False])
        .group_by("plan_id", maintain_order=True)
        .first()
    )
    return downgrades.drop("tier_rank", "lower_tier_rank")


def with_predictions(churn_risk: pl.DataFrame, predictions: pl.DataFrame | None) -> pl.DataFrame:
    """churn_probability from the model, and expected_mrr_at_risk = probability x MRR, to the cent."""
    scores = (predictions if predictions is not None else pl.DataFrame(
        schema={"account_id": pl.String, "churn_probability": pl.Float64}))
    scores = scores.select("account_id", "churn_probability").unique("account_id", keep="first", maintain_order=True)
    # the probability as the decimal it prints as (0.35, not 0.34999999999999997), so a half cent rounds away
    probability = pl.col("churn_probability").cast(pl.String).cast(WIDE)
    return churn_risk.join(scores, on="account_id", how="left").with_columns(
        expected_mrr_at_risk=_cents(pl.col("mrr").cast(WIDE) * probability),
    )


def recommended_actions(frame: pl.DataFrame, plans: pl.DataFrame) -> pl.Series:
    """One action per churn-risk account, for its strongest reason: a scheduled cancellation asks for the offer
    that keeps the most MRR (a downgrade or an annual plan), a failed payment for the payment method to be
    fixed, a usage drop for a success call."""
    c = pl.col
    offers = frame.join(previous_plans(plans), on="plan_id", how="left", maintain_order="left").with_columns(
        plan_mrr=c("plan_mrr").fill_null(Decimal(0)).cast(MONEY),
        plan_seats=c("plan_seats").fill_null(0),
    )
    lower_fits = c("lower_plan_id").is_not_null() & (
        c("lower_seat_limit").is_null() | (c("lower_seat_limit") >= c("plan_seats")))
    # the other subscriptions stay as they are; the current plan's MRR becomes the lower plan at list price
    # for the same seats (never more than is paid now)
    downgrade_keeps = pl.when(lower_fits).then(
        c("mrr") - c("plan_mrr") + pl.min_horizontal(c("plan_mrr"), c("lower_list_price") * c("plan_seats")))
    already_annual = c("renewal_months").fill_null(0) >= 12
    annual_keeps = pl.when(~already_annual).then(
        _cents(c("mrr").cast(WIDE) * ANNUAL_OFFER_MONTHS_PAID / 12))
    offers = offers.with_columns(downgrade_keeps=downgrade_keeps.cast(MONEY), annual_keeps=annual_keeps)
    # an annual plan changes nothing in the product, so it wins a tie
    annual_best = c("annual_keeps").is_not_null() & (
        c("downgrade_keeps").is_null() | (c("annual_keeps") >= c("downgrade_keeps")))
    kept = pl.when(annual_best).then(c("annual_keeps")).otherwise(c("downgrade_keeps"))
    share = pl.when(c("mrr") > 0).then(kept.cast(pl.Float64) / c("mrr").cast(pl.Float64))
    before = pl.lit(" before the cancellation on ") + _day(c("cancels_at"))
    keeps = (pl.lit(": keeps ") + money(kept) + pl.lit(" of ") + money(c("mrr")) + pl.lit(" MRR (")
             + _percent_floor(share) + pl.lit("%)"))
    retention_offer = (
        pl.when(annual_best)
        .then(pl.lit(f"Offer an annual plan with {12 - ANNUAL_OFFER_MONTHS_PAID} months free") + before + keeps)
        .when(c("downgrade_keeps").is_not_null())
        .then(pl.lit("Offer a downgrade to ") + pl.coalesce(c("lower_plan_name"), c("lower_plan_id"))
              + pl.lit(" for its ") + c("plan_seats").cast(pl.String) + pl.lit(" seats") + before + keeps)
        .otherwise(pl.lit("Success call") + before + pl.lit(": ask what would keep them"))
    )
    fix_payment = (pl.lit("Fix the payment method: ") + money(c("unpaid_amount_usd").fill_null(Decimal(0)))
                   + pl.lit(" unpaid since ") + _day(c("first_failed_payment_at")))
    success_call = pl.lit("Success call about the usage drop: ") + c("dropping_text")
    action = (
        pl.when(c("has_cancellation_scheduled")).then(retention_offer)
        .when(c("has_payment_failed")).then(fix_payment)
        .otherwise(success_call)
    )
    return (offers.with_columns(dropping_text=change_phrases(offers, "dropping", "down"))
            .select(action.alias("recommended_action")).to_series())
