"""Both follow-up lists, ranked, with a sentence per account, and the customer journey they place each account
in: the pure heart of the sales domain."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import polars as pl

from transforms.sales.contract import CHURN_RISK_COLUMNS, JOURNEY_COLUMNS, UPSELL_COLUMNS, conform
from transforms.sales.inputs import SalesInputs
from transforms.sales.journey import account_journey, at_risk_since
from transforms.sales.offers import recommend
from transforms.sales.retention import recommended_actions, with_predictions
from transforms.sales.sentences import churn_risk_sentences, upsell_sentences
from transforms.sales.signals import account_signals
from transforms.sales.timing import contact_timing


@dataclass(frozen=True)
class SalesLists:
    upsell: pl.DataFrame  # UPSELL_COLUMNS, by rank
    churn_risk: pl.DataFrame  # CHURN_RISK_COLUMNS, by rank
    journey: pl.DataFrame  # JOURNEY_COLUMNS, by account_id
    # Upsell opportunities with nothing more to sell at list price (top tier with seats to spare, or a next
    # tier no dearer per seat): listed with an uplift of 0.00, counted for the asset's metadata.
    upsell_without_uplift: int = 0
    notes: dict[str, int] = field(default_factory=dict)


def follow_up_lists(inputs: SalesInputs) -> SalesLists:
    """Both lists, ranked, with a sentence per account, and the journey. Only active accounts are listed;
    churn risk wins over upsell."""
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
    timing = contact_timing(upsell, inputs.milestones, inputs.usage, inputs.latest_data_day)
    upsell = upsell.with_columns(summary=upsell_sentences(upsell)).join(
        timing, on="account_id", how="left", maintain_order="left")

    # ranked by the MRR the model puts at risk; without a probability (no model) by the rules' score
    churn_risk = with_predictions(
        signals.filter(at_risk).join(inputs.milestones.select("account_id", "renewal_months"),
                                     on="account_id", how="left"),
        inputs.predictions,
    ).sort(["expected_mrr_at_risk", "churn_risk_score", "mrr", "account_id"],
           descending=[True, True, True, False], nulls_last=True)
    churn_risk = churn_risk.with_columns(
        rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int32),
        score=pl.col("churn_risk_score"),
        reason_codes=pl.col("churn_risk_codes"),
        reasons=pl.col("churn_risk_codes").list.join(","),
        unpaid_failed_payments=pl.col("unpaid_failed_payments").fill_null(0),
        **{k: pl.lit(v) for k, v in context.items()},
    )
    churn_risk = churn_risk.with_columns(summary=churn_risk_sentences(churn_risk),
                                         recommended_action=recommended_actions(churn_risk, inputs.plans))

    journey = account_journey(
        inputs.accounts, inputs.milestones, inputs.movements,
        at_risk_since(churn_risk, inputs.cancellations, inputs.latest_data_day - timedelta(days=29)),
        timing, inputs.latest_data_day, inputs.latest_month,
    ).with_columns(**{k: pl.lit(v) for k, v in context.items()})
    return SalesLists(
        upsell=conform(upsell, UPSELL_COLUMNS),
        churn_risk=conform(churn_risk, CHURN_RISK_COLUMNS),
        journey=conform(journey, JOURNEY_COLUMNS),
        upsell_without_uplift=offers.filter(pl.col("expected_mrr_uplift") == 0).height,
        notes={
            "active_accounts": signals.height,
            "accounts_with_upsell_signal_and_churn_risk": signals.filter(
                at_risk & (pl.col("upsell_codes").list.len() > 0)).height,
        },
    )
