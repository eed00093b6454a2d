"""What the churn model costs and how well it does, on a built warehouse (benchmarks/RESULTS.md, "Churn model").

    .venv/bin/python benchmarks/churn_model.py --warehouse W.duckdb [--hazard-file H.parquet] [--compare]

Times, each in this process after a warm-up import: retraining as the model asset does it (read the closed
snapshots, sampled by account above 600k rows; backtest; train; save) and scoring as the daily run does it
(read the latest snapshot, probabilities for every paying account, drivers for the riskiest 10,000, write
marts.churn_predictions). `--compare` also fits scikit-learn's HistGradientBoostingClassifier on the same
backtest split with the same calibration, and prints both learners' scores and fit times. Prints `uptime`
first: the machine may be shared. Works on a copy of the warehouse (the model and marts it writes are
the run's own).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from threadpoolctl import threadpool_limits

from transforms.churn import backtest, pipeline
from transforms.churn import model as churn_model
from transforms.churn.features import Snapshots, read_snapshots
from transforms.sql_models import connect


def compare_learners(closed: Snapshots, seed: int = 0) -> list[dict]:
    """Both learners on the backtest's split; each calibrated by Platt scaling on the latest training months."""
    parts = backtest.split(closed)
    frame = parts.training.frame
    if frame.height > churn_model.MAX_TRAINING_ROWS:
        frame = frame.sample(churn_model.MAX_TRAINING_ROWS, seed=seed)
    months = frame["snapshot_month"].unique().sort()
    first_calibration = months[-churn_model.CALIBRATION_MONTHS]
    fit = Snapshots(frame.filter(frame["snapshot_month"] < first_calibration))
    calibration = Snapshots(frame.filter(frame["snapshot_month"] >= first_calibration))
    outcome = parts.test.labels
    rows = []

    started = time.perf_counter()
    lightgbm = churn_model.train(parts.training, seed=seed)
    seconds = time.perf_counter() - started
    probability = lightgbm.probability(parts.test.matrix)
    rows.append(dict(learner="lightgbm", fit_seconds=seconds, auc=roc_auc_score(outcome, probability),
                     pr_auc=average_precision_score(outcome, probability),
                     calibration_error=backtest.calibration_error(probability, outcome)))

    started = time.perf_counter()
    with threadpool_limits(1):  # as LightGBM runs (one thread: steady on a shared machine)
        hist = HistGradientBoostingClassifier(max_depth=4, max_leaf_nodes=15, learning_rate=0.08, max_iter=200,
                                              min_samples_leaf=100, l2_regularization=1.0, early_stopping=False,
                                              random_state=seed).fit(fit.matrix, fit.labels)
    raw = hist.decision_function(calibration.matrix)
    platt = LogisticRegression(C=1e6).fit(raw.reshape(-1, 1), calibration.labels)
    seconds = time.perf_counter() - started
    probability = platt.predict_proba(hist.decision_function(parts.test.matrix).reshape(-1, 1))[:, 1]
    rows.append(dict(learner="sklearn HistGradientBoosting", fit_seconds=seconds,
                     auc=roc_auc_score(outcome, probability), pr_auc=average_precision_score(outcome, probability),
                     calibration_error=backtest.calibration_error(probability, outcome)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", required=True, type=Path)
    parser.add_argument("--hazard-file", type=Path)
    parser.add_argument("--compare", action="store_true", help="also fit HistGradientBoosting on the same split")
    args = parser.parse_args()
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    with tempfile.TemporaryDirectory(dir=args.warehouse.parent, prefix=".churn-bench-") as scratch:
        warehouse = Path(scratch) / "warehouse.duckdb"
        shutil.copyfile(args.warehouse, warehouse)
        models = Path(scratch) / "models"
        con = connect(warehouse)
        paying = con.sql("select count(*) from intermediate.churn_features").fetchall()[0][0]
        latest = con.sql("select count(*) from intermediate.churn_features where is_latest_month").fetchall()[0][0]
        print(f"churn_features: {paying:,} paying account-months, {latest:,} in the latest month")

        started = time.perf_counter()
        retrained = pipeline.retrain(con, models, hazard_file=args.hazard_file)
        print(f"retrain: {time.perf_counter() - started:.1f} s  ({retrained.note})")
        started = time.perf_counter()
        scored = pipeline.score(con, models)
        print(f"score:   {time.perf_counter() - started:.1f} s  ({scored.note})")
        if retrained.backtest:
            result = retrained.backtest
            print("backtest: " + ", ".join(
                f"{k} {result[k]:.3f}" for k in ("auc", "pr_auc", "rules_auc", "rules_pr_auc", "true_hazard_auc",
                                                 "brier", "calibration_error", "precision_at_k", "recall_at_k",
                                                 "rules_precision", "rules_recall") if result[k] is not None)
                  + f", k {result['k']}, test rows {result['test_rows']}, churned {result['test_churned']}")
        if args.compare:
            closed = read_snapshots(con, "outcomes.outcome_closed", max_rows=pipeline.MAX_SNAPSHOT_ROWS)
            for row in compare_learners(closed):
                print(f"{row['learner']:<30} fit {row['fit_seconds']:5.1f} s  AUC {row['auc']:.4f}  "
                      f"PR-AUC {row['pr_auc']:.4f}  calibration error {row['calibration_error']:.4f}")
        con.close()


if __name__ == "__main__":
    main()
