"""When to call an upsell account (docs/sales.md#when-to-call): the day an offer lands while the customer
values the product most, and never while it would grate.

    contact_on = the first working day on or after max(base, what holds the call back)

- base: the day after the latest data day when usage is at its peak this week (call while it is); else
  30 days before a renewal of a quarterly or annual plan due within 90 days (fold the upgrade into the
  renewal); else the day after the latest data day (the signals are fresh).
- held back: never in the first 6 weeks after signup (the customer is still onboarding), never in the 14
  days after a failed payment (even one paid since).
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from transforms.sales.reasons import LEVEL_METRICS

ONBOARDING_DAYS = 42  # the first 6 weeks after signup: onboarding, no sales call (also the journey's stage)
PAYMENT_COOLDOWN_DAYS = 14  # no sales call in the 14 days after a failed payment
RENEWAL_LEAD_DAYS = 30  # call this long before a renewal, to fold the upgrade into it
RENEWAL_HORIZON_DAYS = 90  # a renewal further out does not hold back a call the usage asks for now
RENEWAL_LABELS = {3: "quarterly", 6: "half-yearly", 12: "annual"}


def usage_at_peak(usage: pl.DataFrame) -> pl.DataFrame:
    """Accounts whose usage is at its peak this week: for some metric, the 7 days ending on the latest data
    day are above every one of the 3 weeks before that reported it (sums; daily means for level metrics).
    An account with no earlier week reported has no peak to compare with."""
    level = pl.col("metric").is_in(list(LEVEL_METRICS))
    this_week = pl.when(level).then(pl.col("this_week_daily_mean")).otherwise(pl.col("this_week_total"))
    earlier_peak = pl.when(level).then(pl.col("earlier_weeks_peak_daily_mean")).otherwise(
        pl.col("earlier_weeks_peak_total"))
    return (
        usage.filter((this_week > 0) & (this_week > earlier_peak).fill_null(False))
        .select("account_id").unique()
        .with_columns(usage_at_peak=pl.lit(True))
    )


def _day_text(day: pl.Expr) -> pl.Expr:
    return day.dt.strftime("%Y-%m-%d")


def _working_day(day: pl.Expr) -> pl.Expr:
    """Saturday and Sunday move to the Monday after."""
    weekday = day.dt.weekday()  # Monday 1 .. Sunday 7
    return (pl.when(weekday == 6).then(day + timedelta(days=2))
            .when(weekday == 7).then(day + timedelta(days=1)).otherwise(day))


def contact_timing(accounts: pl.DataFrame, milestones: pl.DataFrame, usage: pl.DataFrame,
                   latest_data_day: date) -> pl.DataFrame:
    """contact_on and timing_reason for each of `accounts` (a frame with account_id): the upsell list."""
    c = pl.col
    first_day = latest_data_day + timedelta(days=1)
    frame = (
        accounts.select("account_id")
        .join(milestones.select("account_id", "customer_since", "last_payment_failed_at", "next_renewal_on",
                                "renewal_months"), on="account_id", how="left")
        .join(usage_at_peak(usage), on="account_id", how="left")
        .with_columns(
            usage_at_peak=c("usage_at_peak").fill_null(False),
            signup_day=c("customer_since").dt.date(),
            failed_day=c("last_payment_failed_at").dt.date(),
            renewal_due=c("next_renewal_on").is_not_null()
            & (c("next_renewal_on") <= first_day + timedelta(days=RENEWAL_HORIZON_DAYS)),
        )
        .with_columns(
            after_onboarding=c("signup_day") + timedelta(days=ONBOARDING_DAYS),
            after_failure=c("failed_day") + timedelta(days=PAYMENT_COOLDOWN_DAYS),
            renewal_call=pl.max_horizontal(c("next_renewal_on") - timedelta(days=RENEWAL_LEAD_DAYS), pl.lit(first_day)),
        )
        .with_columns(
            base=pl.when(c("usage_at_peak")).then(pl.lit(first_day))
            .when(c("renewal_due")).then(c("renewal_call"))
            .otherwise(pl.lit(first_day)),
        )
    )
    held_by_onboarding = c("after_onboarding") > c("base")
    held_by_failure = c("after_failure") > c("base")
    renewal_label = c("renewal_months").replace_strict(
        RENEWAL_LABELS, default=c("renewal_months").cast(pl.String) + pl.lit("-month"), return_dtype=pl.String)
    main_reason = (
        pl.when(c("usage_at_peak")).then(pl.lit("usage at its peak this week"))
        .when(c("renewal_due")).then(
            renewal_label + pl.lit(" plan renews on ") + _day_text(c("next_renewal_on"))
            + pl.when(c("next_renewal_on") - timedelta(days=RENEWAL_LEAD_DAYS) > pl.lit(first_day))
            .then(pl.lit(f": call {RENEWAL_LEAD_DAYS} days ahead")).otherwise(pl.lit(": call before it")))
        .otherwise(pl.lit("no timing signal: call while the usage signals are fresh"))
    )
    holds = [
        pl.when(held_by_onboarding.fill_null(False)).then(
            pl.lit("not before ") + _day_text(c("after_onboarding"))
            + pl.lit(f" (the first {ONBOARDING_DAYS // 7} weeks after signup on ") + _day_text(c("signup_day"))
            + pl.lit(")")),
        pl.when(held_by_failure.fill_null(False)).then(
            pl.lit("not before ") + _day_text(c("after_failure"))
            + pl.lit(f" ({PAYMENT_COOLDOWN_DAYS} days after the failed payment of ") + _day_text(c("failed_day"))
            + pl.lit(")")),
    ]
    return frame.select(
        "account_id",
        contact_on=_working_day(pl.max_horizontal(c("base"), c("after_onboarding"), c("after_failure"))),
        timing_reason=pl.concat_str([main_reason, *holds], separator="; ", ignore_nulls=True),
    )
