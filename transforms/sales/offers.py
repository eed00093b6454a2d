"""What to offer an upsell account (docs/sales.md): the next plan up priced for its seats, or extra seats
on the top tier, and the expected MRR uplift at list price."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from transforms.sales.contract import MONEY


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

