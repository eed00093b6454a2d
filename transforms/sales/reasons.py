"""The reason codes of both lists and the usage metrics they read (docs/sales.md)."""

# Reason codes, in the order they are listed.
SEAT_LIMIT_NEAR, USAGE_LIMIT_NEAR, USAGE_GROWTH = "seat_limit_near", "usage_limit_near", "usage_growth"
PAYMENT_FAILED, CANCELLATION_SCHEDULED, USAGE_DROP = "payment_failed", "cancellation_scheduled", "usage_drop"
UPSELL_REASONS = (SEAT_LIMIT_NEAR, USAGE_LIMIT_NEAR, USAGE_GROWTH)
CHURN_RISK_REASONS = (PAYMENT_FAILED, CANCELLATION_SCHEDULED, USAGE_DROP)

SEATS_METRIC, API_METRIC = "active_seats", "api_calls"
# Metrics that measure a level (how many at once) rather than a flow: compared as daily means, not sums.
LEVEL_METRICS = (SEATS_METRIC,)
METRIC_LABELS = {SEATS_METRIC: "active seats", API_METRIC: "API calls"}
