"""The time-split backtest: train as of the first held-out month, score the held-out months, compare.

The test months are the latest TEST_MONTHS snapshot months whose 3-month outcome has closed. The model is
trained only on snapshots whose outcome had closed before the first test month's snapshot was taken
(snapshot month + 3 <= first test month), so nothing it learns comes from after the moment it would have been
used. Metrics come from scikit-learn; the same rows are scored by the three churn-risk rules and, on
generated data, by the generator's true hazard (the best achievable ranking).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from transforms.churn import model as churn_model
from transforms.churn.features import Snapshots

TEST_MONTHS = 3
HORIZON_MONTHS = 3
CALIBRATION_BINS = 10


@dataclass(frozen=True)
class Split:
    training: Snapshots
    test: Snapshots
    trained_through: date
    test_months: list[date]


def split(closed: Snapshots) -> Split:
    """Training and test snapshots of a backtest from the closed snapshots (every outcome known)."""
    months = closed.frame["snapshot_month"].unique().sort().to_list()
    if len(months) < TEST_MONTHS + HORIZON_MONTHS + churn_model.MIN_MONTHS:
        raise churn_model.NotEnoughHistory(
            f"{len(months)} closed snapshot months: a backtest needs "
            f"{TEST_MONTHS + HORIZON_MONTHS + churn_model.MIN_MONTHS}"
        )
    test_months = months[-TEST_MONTHS:]
    trained_through = months[-TEST_MONTHS - HORIZON_MONTHS]  # its outcome closed with test_months[0]
    return Split(
        training=closed.where(pl.col("snapshot_month") <= trained_through),
        test=closed.where(pl.col("snapshot_month").is_in(test_months)),
        trained_through=trained_through,
        test_months=test_months,
    )


def calibration_error(probability: np.ndarray, outcome: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Expected calibration error: over `bins` equal-count bins of the probability, the row-weighted mean of
    |mean probability - observed rate|."""
    order = np.argsort(probability, kind="stable")
    error = 0.0
    for part in np.array_split(order, bins):
        if len(part):
            error += len(part) * abs(probability[part].mean() - outcome[part].mean())
    return float(error / len(probability))


def calibration_curve(probability: np.ndarray, outcome: np.ndarray, bins: int = CALIBRATION_BINS) -> pl.DataFrame:
    """Mean predicted probability and observed churn rate per equal-count bin (the calibration chart)."""
    order = np.argsort(probability, kind="stable")
    rows = [(float(probability[p].mean()), float(outcome[p].mean()), len(p)) for p in np.array_split(order, bins) if len(p)]
    return pl.DataFrame(rows, schema=["predicted", "observed", "rows"], orient="row")


def lift_curve(score: np.ndarray, outcome: np.ndarray, steps: int = 20) -> pl.DataFrame:
    """Share of churners found (recall) against the share of accounts contacted, best-scored first."""
    order = np.argsort(-score, kind="stable")
    found = np.cumsum(outcome[order])
    total = max(int(outcome.sum()), 1)
    cut = np.unique(np.linspace(0, len(order), steps + 1).astype(int))[1:]
    return pl.DataFrame({"contacted": [0.0, *(cut / len(order))], "found": [0.0, *(found[cut - 1] / total)]})


def true_hazard_score(test: Snapshots, hazard_file: str | Path | None) -> np.ndarray | None:
    """The generator's own probability of churn for each test row, from its side file: an earlier decision
    still to play out (`leaving`) or the hazard of deciding next month, from the state at the snapshot.
    None when there is no side file (real data)."""
    if hazard_file is None or not Path(hazard_file).is_file():
        return None
    truth = pl.read_parquet(hazard_file, columns=["month", "account_id", "hazard", "leaving"])
    keys = test.frame.select(
        "account_id", month=pl.col("snapshot_month").dt.offset_by("1mo")
    ).with_row_index("row")
    joined = keys.join(truth, on=["account_id", "month"], how="left").sort("row")
    hazard = joined["hazard"].fill_null(0.0).to_numpy()
    leaving = joined["leaving"].fill_null(0.0).to_numpy()
    return 1.0 - (1.0 - leaving) * (1.0 - hazard)


def run(closed: Snapshots, seed: int = 0, hazard_file: str | Path | None = None) -> dict:
    """Train as of the first test month, score the test months; return the metrics (marts.churn_model_backtest's
    columns, without model_version) and the curves for the charts."""
    parts = split(closed)
    fitted = churn_model.train(parts.training, seed=seed)
    test = parts.test
    outcome = test.labels.astype(np.int64)
    probability = fitted.probability(test.matrix)
    rules = test.frame["rules_score"].to_numpy().astype(float)
    truth = true_hazard_score(test, hazard_file)

    # Precision and recall at the size of the rules' list, month by month.
    k_total = hits_model = hits_rules = 0
    months = test.frame["snapshot_month"].to_numpy()
    for month in np.unique(months):
        rows = np.flatnonzero(months == month)
        flagged = rules[rows] > 0
        k = int(flagged.sum())
        top = rows[np.argsort(-probability[rows], kind="stable")[:k]]
        k_total += k
        hits_model += int(outcome[top].sum())
        hits_rules += int(outcome[rows][flagged].sum())
    churned = int(outcome.sum())
    return {
        "learner": churn_model.LEARNER,
        "trained_through": parts.trained_through,
        "test_months": f"{parts.test_months[0]:%Y-%m}..{parts.test_months[-1]:%Y-%m}",
        "test_rows": len(outcome),
        "test_churned": churned,
        "auc": float(roc_auc_score(outcome, probability)),
        "pr_auc": float(average_precision_score(outcome, probability)),
        "rules_auc": float(roc_auc_score(outcome, rules)),
        "rules_pr_auc": float(average_precision_score(outcome, rules)),
        "true_hazard_auc": float(roc_auc_score(outcome, truth)) if truth is not None else None,
        "brier": float(brier_score_loss(outcome, probability)),
        "calibration_error": calibration_error(probability, outcome),
        "k": k_total,
        "precision_at_k": hits_model / k_total if k_total else None,
        "recall_at_k": hits_model / churned if churned else None,
        "rules_precision": hits_rules / k_total if k_total else None,
        "rules_recall": hits_rules / churned if churned else None,
        "trained_at": fitted.trained_at,
        "calibration_curve": calibration_curve(probability, outcome),
        "lift_curve": lift_curve(probability, outcome),
        "rules_lift_curve": lift_curve(rules, outcome),
        "true_hazard_pr_auc": float(average_precision_score(outcome, truth)) if truth is not None else None,
    }
