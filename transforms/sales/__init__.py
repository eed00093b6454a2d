"""The sales follow-up lists of docs/sales.md: upsell opportunities and churn risk, explained account by account.

DuckDB does the heavy part: the SQL models in `SALES_MODELS` reduce the last 60 days of usage, the
failed payments and the scheduled cancellations to a few rows per account. This package turns those
small frames into signals, scores, recommendations and one plain-language sentence per account, in
Polars, and writes the two marts and the CRM export. No Dagster here; docs/sales.md explains every rule.

    inputs = read_inputs(con)          # small frames from the warehouse           (inputs.py)
    lists = follow_up_lists(inputs)    # pure: signals, scores, offers, sentences  (lists.py and below)
    write_marts(con, lists)            # marts.upsell_opportunities, marts.churn_risk_accounts (output.py)

Modules, in the order a row goes through them: `reasons` (the codes), `contract` (tables and columns),
`inputs`, `signals`, `scoring`, `offers`, `sentences`, then `timing` (when to call), `retention` (the churn
model's probability and the action), `journey` (the stage), `lists`, `output`. Imports go that way only.
"""

from transforms.sales.contract import (
    CHURN_RISK_COLUMNS,
    CHURN_RISK_DESCRIPTION,
    CHURN_RISK_TABLE,
    FOLLOW_UP_COLUMNS,
    JOURNEY_COLUMNS,
    JOURNEY_DESCRIPTION,
    JOURNEY_TABLE,
    MONEY,
    PREDICTIONS_TABLE,
    SALES_MODELS,
    STAGES,
    UPSELL_COLUMNS,
    UPSELL_DESCRIPTION,
    UPSELL_TABLE,
    Column,
)
from transforms.sales.inputs import SalesInputs, read_inputs
from transforms.sales.lists import SalesLists, follow_up_lists
from transforms.sales.offers import next_plans, recommend
from transforms.sales.output import (
    action_counts,
    follow_up_frame,
    list_violations,
    reason_counts,
    stage_counts,
    top_accounts_frame,
    top_accounts_markdown,
    write_follow_up_csv,
    write_marts,
)
from transforms.sales.reasons import (
    CANCELLATION_SCHEDULED,
    CHURN_RISK_REASONS,
    PAYMENT_FAILED,
    SEAT_LIMIT_NEAR,
    UPSELL_REASONS,
    USAGE_DROP,
    USAGE_GROWTH,
    USAGE_LIMIT_NEAR,
)
from transforms.sales.scoring import CHURN_RISK_POINTS, SIGNAL_START, UPSELL_POINTS, score_expression
from transforms.sales.sentences import _seats, churn_risk_sentences, money, upsell_sentences
from transforms.sales.signals import account_signals, metric_comparisons, usage_features

__all__ = [
    "CANCELLATION_SCHEDULED", "CHURN_RISK_COLUMNS", "CHURN_RISK_DESCRIPTION", "CHURN_RISK_POINTS",
    "CHURN_RISK_REASONS", "CHURN_RISK_TABLE", "FOLLOW_UP_COLUMNS", "MONEY", "PAYMENT_FAILED", "SALES_MODELS",
    "SEAT_LIMIT_NEAR", "UPSELL_COLUMNS", "UPSELL_DESCRIPTION", "UPSELL_POINTS", "UPSELL_REASONS", "UPSELL_TABLE",
    "USAGE_DROP", "USAGE_GROWTH", "USAGE_LIMIT_NEAR", "Column", "SalesInputs", "SalesLists", "_seats",
    "account_signals", "churn_risk_sentences", "follow_up_frame", "follow_up_lists", "list_violations",
    "metric_comparisons", "money", "next_plans", "read_inputs", "reason_counts", "recommend", "score_expression",
    "top_accounts_frame", "top_accounts_markdown", "upsell_sentences", "usage_features", "write_follow_up_csv",
    "write_marts", "JOURNEY_COLUMNS", "JOURNEY_DESCRIPTION", "JOURNEY_TABLE", "PREDICTIONS_TABLE", "STAGES",
    "action_counts", "stage_counts", "SIGNAL_START",
]
