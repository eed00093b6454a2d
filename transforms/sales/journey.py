"""Where each account is in its journey (docs/sales.md#the-customer-journey), and since when.

The event log starts when an account starts a trial or a subscription: awareness, interest and
consideration happen before that, outside the log, so they are not stages here. One stage per account,
the first that applies:

    trial        never paid; stage_since its latest trial start (its signup without one)
    churned      paid before, not now; since the first month without MRR
    at_risk      paused, or on the churn-risk list; since the pause, or the earliest dated signal
    reactivated  paying again after a churn, in the latest 3 months; since that month
    onboarding   paying, in the first 6 weeks after signup; since the first subscription start
    expanding    an expansion in the latest 3 months, or on the upsell list; since the earlier of the
                 first such expansion month and the start of the 30-day usage window
    adopting     every other paying account; since the last dated stage ended
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from transforms.sales.timing import ONBOARDING_DAYS

RECENT_MONTHS = 3  # expansion and reactivation count as the account's stage for the latest 3 months


def _months_later(month: pl.Expr, months: int) -> pl.Expr:
    return month.dt.offset_by(f"{months}mo")


def at_risk_since(churn_risk: pl.DataFrame, cancellations: pl.DataFrame, window_start: date) -> pl.DataFrame:
    """The earliest dated signal of each churn-risk account: its first unpaid failure, the earliest pending
    cancellation's request, the usage window's first day for a usage drop."""
    requested = cancellations.group_by("account_id").agg(cancel_requested_at=pl.col("cancel_requested_at").min())
    c = pl.col
    return churn_risk.join(requested, on="account_id", how="left").select(
        "account_id",
        at_risk_since=pl.min_horizontal(
            pl.when(c("has_payment_failed")).then(c("first_failed_payment_at").dt.date()),
            pl.when(c("has_cancellation_scheduled")).then(c("cancel_requested_at").dt.date()),
            pl.when(c("has_usage_drop")).then(pl.lit(window_start)),
        ),
    )


def account_journey(accounts: pl.DataFrame, milestones: pl.DataFrame, movements: pl.DataFrame,
                    at_risk: pl.DataFrame, upsell_timing: pl.DataFrame, latest_data_day: date,
                    latest_month: date) -> pl.DataFrame:
    """One row per account that has started a trial or a subscription: its stage, stage_since, and for
    upsell accounts contact_on and timing_reason (`upsell_timing`: account_id, contact_on, timing_reason).
    `at_risk`: account_id, at_risk_since of the churn-risk list."""
    c = pl.col
    window_start = latest_data_day - timedelta(days=29)
    recent_from = _months_later(pl.lit(latest_month), -(RECENT_MONTHS - 1))
    frame = (
        milestones.select("account_id", "customer_since", "first_paid_at", "trial_started_at", "paused_at")
        .join(accounts.select("account_id", "status", "mrr", "last_paid_month"), on="account_id", how="inner")
        .join(movements, on="account_id", how="left")
        .join(at_risk, on="account_id", how="left")
        .join(upsell_timing.select("account_id", "contact_on", "timing_reason"), on="account_id", how="left")
        .with_columns(
            signup_day=c("customer_since").dt.date(),
            on_upsell_list=c("account_id").is_in(upsell_timing["account_id"].implode()),
        )
    )
    onboarding_ends = c("signup_day") + timedelta(days=ONBOARDING_DAYS)
    reactivated = c("last_reactivation_month") >= recent_from
    expanding = c("first_recent_expansion_month").is_not_null() | c("on_upsell_list")
    active = c("status") == "active"
    stage = (
        pl.when(c("status").is_in(["trialing", "never_paid"])).then(pl.lit("trial"))
        .when(c("status") == "churned").then(pl.lit("churned"))
        .when(c("status") == "paused").then(pl.lit("at_risk"))
        .when(active & c("at_risk_since").is_not_null()).then(pl.lit("at_risk"))
        .when(active & reactivated.fill_null(False)).then(pl.lit("reactivated"))
        .when(active & (onboarding_ends > latest_data_day).fill_null(False)).then(pl.lit("onboarding"))
        .when(active & expanding.fill_null(False)).then(pl.lit("expanding"))
        .otherwise(pl.lit("adopting"))
    )
    since = (
        pl.when(c("stage") == "trial").then(pl.coalesce(c("trial_started_at").dt.date(), c("signup_day")))
        .when(c("stage") == "churned").then(_months_later(c("last_paid_month"), 1))
        .when((c("stage") == "at_risk") & (c("status") == "paused")).then(c("paused_at").dt.date())
        .when(c("stage") == "at_risk").then(c("at_risk_since"))
        .when(c("stage") == "reactivated").then(c("last_reactivation_month"))
        .when(c("stage") == "onboarding").then(pl.coalesce(c("first_paid_at").dt.date(), c("signup_day")))
        .when(c("stage") == "expanding").then(pl.min_horizontal(
            c("first_recent_expansion_month"), pl.when(c("on_upsell_list")).then(pl.lit(window_start))))
        # adopting: the end of the last stage the log dates (an at_risk spell that resolved is not kept)
        .otherwise(pl.max_horizontal(
            onboarding_ends,
            _months_later(c("last_expansion_month"), RECENT_MONTHS),
            _months_later(c("last_reactivation_month"), RECENT_MONTHS),
        ))
    )
    return (
        frame.with_columns(stage=stage)
        .with_columns(stage_since=since.cast(pl.Date), customer_since=c("signup_day"))
        .sort("account_id")
    )
