"""The model order for each stage, so tests and the orchestration layer build the same things."""

from __future__ import annotations

# staging -> intermediate -> marts; each list is in dependency order.
MRR_MODELS = [
    "staging/calendar",
    "staging/fx_rates_monthly",
    "staging/subscription_events",
    "intermediate/subscription_periods",
    "intermediate/subscription_mrr_monthly",
    "marts/account_mrr_monthly",
    "marts/mrr_movements",
    "marts/mrr_waterfall",
    "marts/accounts",
]

# SaaS metrics marts (docs/metrics.md): built after the MRR models.
METRICS_MODELS = [
    "intermediate/collected_revenue_monthly",
    "intermediate/cohort_months",
    "marts/mrr_waterfall_by_segment",
    "intermediate/account_plan_months",
    "marts/mrr_by_plan",
    "marts/saas_metrics_monthly",
    "marts/cohort_retention",
    "marts/cohort_ltv",
]
