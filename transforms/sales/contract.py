"""The tables the sales lists write: names, columns with their descriptions, and the CRM file's columns.

One place for the public contract of docs/tables.md: the marts are created from these declarations, the
Dagster assets show them as column schemas before the first run, and the frames are conformed to them."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from transforms.core.sql_types import USD

# Built after the MRR models, in this order (they read marts.accounts and the subscription periods).
SALES_MODELS = [
    "intermediate/account_usage_windows",
    "intermediate/unresolved_payment_failures",
    "intermediate/subscriptions_in_force",
    "intermediate/scheduled_cancellations",
    "intermediate/account_plan_seats",
    "intermediate/account_milestones",
]
UPSELL_TABLE = "marts.upsell_opportunities"
CHURN_RISK_TABLE = "marts.churn_risk_accounts"
JOURNEY_TABLE = "marts.account_journey"
# Written by the churn model (docs/churn-model.md); read when it exists, the lists work without it.
PREDICTIONS_TABLE = "marts.churn_predictions"

MONEY = pl.Decimal(18, 2)

# The journey's stages (docs/sales.md#the-customer-journey), in the order an account lives them.
STAGES = ("trial", "onboarding", "adopting", "expanding", "at_risk", "churned", "reactivated")

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

_TIMING = [
    Column("contact_on", "date", "The working day to call (docs/sales.md#when-to-call): after latest_data_day, never in "
           "the first 6 weeks after signup nor in the 14 days after a failed payment; this week when usage is at its "
           "peak, 30 days before a renewal of a quarterly or annual plan due within 90 days."),
    Column("timing_reason", "varchar", "Why contact_on: 'usage at its peak this week', 'annual plan renews on "
           "2025-09-01: call 30 days ahead', ..., with what held the call back ('not before ...')."),
]

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
    *_TIMING,
]

CHURN_RISK_COLUMNS = [
    Column("account_id", "varchar", "The customer account: active, with at least one churn-risk signal."),
    _AS_OF,
    Column("mrr", USD, "Current MRR in USD (what is at stake)."),
    Column("reasons", "varchar", "Reason codes, comma-separated: payment_failed, cancellation_scheduled, usage_drop."),
    Column("score", "integer", "0-100, higher first: 30-40 points for cancellation_scheduled (share of MRR "
           "cancelling), 20-30 for payment_failed (1 -> 3 unpaid failures), 10-30 for usage_drop (50% -> 100% "
           "down); see docs/sales.md."),
    Column("rank", "integer", "Follow-up order: 1 first (expected MRR at risk, NULL last, then score, then MRR)."),
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
    Column("churn_probability", "double", "Probability that the account leaves within the next 3 months, from "
           "marts.churn_predictions (the latest as_of there); NULL when the model has not scored it (no model "
           "yet, or too little history: the list then ranks by score as the rules say)."),
    Column("expected_mrr_at_risk", USD, "churn_probability x mrr in USD, rounded half away from zero to the cent; "
           "NULL without a probability. The list is ranked by it."),
    Column("recommended_action", "varchar", "What to do (docs/sales.md#what-to-do-about-a-risk): an offer that keeps "
           "most of the MRR before a scheduled cancellation (a downgrade or an annual plan, with the MRR it keeps), "
           "fixing the payment method after a failed payment, or a success call about the usage drop."),
]

JOURNEY_COLUMNS = [
    Column("account_id", "varchar", "The customer account: every account of marts.accounts."),
    _AS_OF,
    Column("stage", "varchar", "Where the account is now: trial, onboarding, adopting, expanding, at_risk, churned "
           "or reactivated (docs/sales.md#the-customer-journey)."),
    Column("stage_since", "date", "The day the account entered its stage, as far as the event log dates it "
           "(docs/sales.md#the-customer-journey)."),
    Column("contact_on", "date", "Upsell accounts only: the day to call (as marts.upsell_opportunities.contact_on); "
           "NULL otherwise."),
    Column("timing_reason", "varchar", "Upsell accounts only: why contact_on; NULL otherwise."),
    Column("status", "varchar", "marts.accounts.status: active, trialing, paused, churned or never_paid."),
    Column("mrr", USD, "Current MRR in USD."),
    Column("customer_since", "date", "Signup: the day of the account's first trial or subscription start, UTC."),
    Column("latest_data_day", "date", "The UTC date of as_of."),
]
JOURNEY_DESCRIPTION = (
    "The customer journey (docs/sales.md#the-customer-journey): one row per account with its stage now (trial, "
    "onboarding, adopting, expanding, at_risk, churned, reactivated), since when, and for the accounts on the "
    "upsell list the day to call and why. The event log starts at the trial: awareness, interest and "
    "consideration happen before it and are not in this table."
)

UPSELL_DESCRIPTION = (
    "Sales follow-up list (docs/sales.md): active accounts with an upsell signal in the last 30 days and no churn "
    "risk, one row per account with the reasons, a 0-100 score, the plan to offer, the expected MRR uplift in "
    "USD, a sentence for the CRM and the day to call (contact_on). See docs/sales.md."
)
CHURN_RISK_DESCRIPTION = (
    "Retention follow-up list (docs/sales.md): active accounts with an unpaid failed payment in the last 30 days, a "
    "scheduled cancellation, or a metric's usage down >= 50% against the 30 days before; one row per account "
    "with the reasons, a 0-100 score, a sentence for the CRM, the churn model's probability, the MRR it puts at risk "
    "(the list's order) and a recommended action. These accounts are never on the upsell list."
)

FOLLOW_UP_COLUMNS = [
    "follow_up", "score", "account_id", "account_name", "sales_owner", "segment", "plan_id", "mrr", "reasons",
    "summary", "recommended_plan_id", "extra_seats", "expected_mrr_uplift", "as_of", "contact_on", "timing_reason",
    "recommended_action",
]


_POLARS_TYPES = {"varchar": pl.String, "timestamp": pl.Datetime("us"), "date": pl.Date, "integer": pl.Int32,
                 "bigint": pl.Int64, "double": pl.Float64, "varchar[]": pl.List(pl.String), USD: MONEY}


def conform(frame: pl.DataFrame, columns: list[Column]) -> pl.DataFrame:
    """The table's columns, in order, with the table's types (also when the frame is empty)."""
    return frame.select([pl.col(c.name).cast(_POLARS_TYPES[c.sql_type]) for c in columns])

