"""The event-log contract of docs/input-format.md, as data: streams, event types, fields and their types.

Ingestion generates its validation SQL from these tables, and the raw tables take their columns from
them, so the contract is written down once.
"""

from __future__ import annotations

from dataclasses import dataclass

from transforms.core.sql_types import INPUT_MONEY, PERCENT, USAGE_QUANTITY


@dataclass(frozen=True)
class Field:
    name: str
    sql_type: str  # the DuckDB type of the raw column
    kind: str = "text"  # text | timestamp | date | money | integer | percent | quantity | enum
    allowed: tuple[str, ...] = ()  # for enum
    non_negative: bool = False
    minimum: int | None = None  # for integer: the smallest value that makes sense (below it: wrong_type)
    description: str = ""


COMMON_FIELDS = (
    Field("event_id", "varchar", description="Unique id of the event across all streams."),
    Field("event_type", "varchar", description="What happened (docs/input-format.md lists the types)."),
    Field("occurred_at", "timestamp", "timestamp", description="When it happened, UTC."),
    Field("account_id", "varchar", description="The customer account."),
)

STREAM_FIELDS: dict[str, tuple[Field, ...]] = {
    "subscription_events": (
        Field("effective_at", "timestamp", "timestamp",
              description="When the change takes effect, UTC (defaults to occurred_at; later for scheduled changes)."),
        Field("subscription_id", "varchar"),
        Field("plan_id", "varchar"),
        Field("billing_interval", "varchar", "enum", allowed=("month", "quarter", "year")),
        Field("quantity", "integer", "integer", non_negative=True, description="Seats."),
        Field("unit_price", INPUT_MONEY, "money", non_negative=True,
              description="Price per seat per billing interval, in currency."),
        Field("currency", "varchar", "currency"),
        Field("discount_pct", PERCENT, "percent", non_negative=True, description="Discount, 0-100."),
        Field("account_name", "varchar"),
        Field("segment", "varchar"),
        Field("country", "varchar"),
        Field("sales_owner", "varchar"),
        # Added after the first release: kept last, so a raw table made before them gains them in the same
        # order (ingestion.ensure_raw_tables copies an older raw table into this order once).
        Field("discount_amount", INPUT_MONEY, "money", non_negative=True,
              description="Fixed amount off each charge, in currency, applied after discount_pct (a charge "
                          "never goes below 0)."),
        Field("interval_count", "integer", "integer", minimum=1,
              description="Billing intervals per charge (default 1): a charge covers interval_count x 1, 3 or "
                          "12 months."),
    ),
    "billing_events": (
        Field("invoice_id", "varchar"),
        Field("subscription_id", "varchar"),
        Field("amount", INPUT_MONEY, "money", non_negative=True, description="Amount in currency's major unit."),
        Field("currency", "varchar", "currency"),
        Field("period_start", "date", "date"),
        Field("period_end", "date", "date"),
    ),
    "usage_events": (
        Field("metric", "varchar", description="What was measured, e.g. active_seats, api_calls."),
        Field("quantity", USAGE_QUANTITY, "quantity", non_negative=True,
              description="Usage over the UTC day of occurred_at."),
    ),
}

_SUBSCRIPTION_TERMS = ("subscription_id", "plan_id", "billing_interval", "quantity", "unit_price", "currency")

# event_type -> fields that must be present (beyond the common four).
REQUIRED_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "subscription_events": {
        "account_created": ("account_name", "segment", "country"),  # sales_owner is optional
        "trial_started": ("subscription_id", "plan_id"),
        "subscription_started": _SUBSCRIPTION_TERMS,
        "subscription_changed": ("subscription_id",),
        "subscription_paused": ("subscription_id",),
        "subscription_resumed": ("subscription_id",),
        "subscription_canceled": ("subscription_id",),
        "subscription_cancel_withdrawn": ("subscription_id",),
    },
    "billing_events": {
        "invoice_issued": ("invoice_id", "subscription_id", "amount", "currency", "period_start", "period_end"),
        "payment_succeeded": ("invoice_id", "subscription_id", "amount", "currency"),
        "payment_failed": ("invoice_id", "subscription_id", "amount", "currency"),
        "refund_issued": ("invoice_id", "subscription_id", "amount", "currency"),
    },
    "usage_events": {"usage": ("metric", "quantity")},
}

STREAMS = tuple(STREAM_FIELDS)

# Why a row was quarantined (raw.quarantine.reason). `detail` says which field and what was wrong.
QUARANTINE_REASONS = {
    "invalid_json": "the line is not a JSON object in strict JSON (RFC 8259: no trailing commas, NaN or Infinity)",
    "invalid_csv_row": "a CSV row has more or fewer fields than the header, or broken quoting",
    "invalid_encoding": "the line is not UTF-8 text (raw shows its bad bytes as U+FFFD)",
    "invalid_header": "the file's columns (CSV header, Parquet columns, JSON keys) lack event_id, event_type, "
                      "occurred_at or account_id: detail names the columns expected and found",
    "missing_field": "a required field is absent or empty",
    "unknown_event_type": "event_type is not one this stream carries",
    "wrong_type": "a field has the wrong type or an impossible value",
    "unknown_currency": "the currency has no rate in reference/fx_rates.csv",
    "negative_value": "an amount or quantity is negative",
    "conflicting_duplicate": "the event_id was already used with a different payload",
    "implausible_instant": "an instant that cannot be true: occurred_at before the floor or after the load's clock "
                           "plus the tolerance, effective_at or an invoice period too far from occurred_at "
                           "(docs/bad-input.md)",
    "line_too_long": "the line is longer than SUBWH_MAX_LINE_BYTES (raw keeps its beginning)",
}


def stream_fields(stream: str) -> tuple[Field, ...]:
    return COMMON_FIELDS + STREAM_FIELDS[stream]
