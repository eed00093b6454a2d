"""The churn model on synthetic snapshots: it learns a signal, learns nothing from shuffled labels, is
deterministic for a seed, calibrates, falls back when history is short, and its metrics and drivers say
what they should (hand-worked examples)."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from transforms.churn import backtest, drivers
from transforms.churn import model as churn_model
from transforms.churn.features import FEATURES, Snapshots

MONTHS = [date(2024, m, 1) for m in range(1, 13)] + [date(2025, m, 1) for m in range(1, 7)]


def synthetic(accounts: int = 1500, seed: int = 1, shuffle: bool = False) -> Snapshots:
    """Account-months whose churn follows a logistic function of three features (plus noise features)."""
    rng = np.random.default_rng(seed)
    n = accounts * len(MONTHS)
    frame = {name: rng.normal(0, 1, n).astype(np.float32) for name in FEATURES}
    logit = -3.0 + 1.5 * frame["seats_trend_1m"] - 1.2 * frame["seat_utilisation"] + 0.8 * frame["failed_payments_3m"]
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    if shuffle:
        churned = rng.permutation(churned)
    return Snapshots(pl.DataFrame({
        "account_id": np.tile([f"acc_{i:05d}" for i in range(accounts)], len(MONTHS)),
        "snapshot_month": pl.Series([m for m in MONTHS for _ in range(accounts)], dtype=pl.Date),
        **frame,
        "churned_3m": churned,
        "rules_score": np.where(frame["seats_trend_1m"] > 1.5, 40, 0),
        "mrr_usd": np.full(n, 100.0),
    }))


@pytest.fixture(scope="module")
def learned() -> dict:
    return backtest.run(synthetic(), seed=3)


def test_learns_a_real_signal_and_beats_a_one_rule_baseline(learned):
    assert learned["auc"] > 0.8, learned["auc"]
    assert learned["pr_auc"] > learned["rules_pr_auc"]
    assert learned["calibration_error"] < 0.03
    assert learned["true_hazard_auc"] is None  # no side file: real data


def test_shuffled_labels_score_no_better_than_chance():
    result = backtest.run(synthetic(accounts=3000, shuffle=True), seed=3)
    # Chance: AUC 0.5 with the Hanley-McNeil standard error for these counts; allow three of them.
    positives, negatives = result["test_churned"], result["test_rows"] - result["test_churned"]
    q1, q2 = 0.5 / 1.5, 2 * 0.25 / 1.5
    se = np.sqrt((0.25 + (positives - 1) * (q1 - 0.25) + (negatives - 1) * (q2 - 0.25)) / (positives * negatives))
    assert result["auc"] < 0.5 + 3 * se, (result["auc"], se)
    assert result["pr_auc"] < result["test_churned"] / result["test_rows"] * 1.3  # precision near the base rate


def test_the_backtest_trains_only_on_snapshots_whose_outcome_closed_before_the_test_months():
    parts = backtest.split(synthetic(accounts=10))
    assert parts.test_months == MONTHS[-3:]
    # the first test month is 2025-04: a snapshot of 2025-01 had its 3-month outcome (Feb-Apr) closed by then
    assert parts.trained_through == date(2025, 1, 1)
    assert parts.training.frame["snapshot_month"].max() == date(2025, 1, 1)
    assert parts.test.frame["snapshot_month"].min() == date(2025, 4, 1)


def test_same_seed_same_model_and_probabilities():
    data = synthetic(accounts=600)
    first, second = churn_model.train(data, seed=5), churn_model.train(data, seed=5)
    assert first.version == second.version
    assert np.array_equal(first.probability(data.matrix), second.probability(data.matrix))
    assert churn_model.train(data, seed=6).version != first.version


def test_saved_model_loads_and_becomes_current(tmp_path):
    data = synthetic(accounts=600)
    fitted = churn_model.train(data, seed=5)
    path = fitted.save(tmp_path / "models")
    assert path.name == f"churn_model_{fitted.version}.json"
    assert (tmp_path / "models" / "current.txt").read_text().strip() == path.name
    loaded = churn_model.current_model(tmp_path / "models")
    assert loaded.version == fitted.version
    assert np.allclose(loaded.probability(data.matrix), fitted.probability(data.matrix))
    assert not list((tmp_path / "models").glob("*.tmp"))  # written through temporaries renamed into place


def test_contributions_add_up_to_the_calibrated_log_odds():
    data = synthetic(accounts=300)
    fitted = churn_model.train(data, seed=5)
    matrix = data.matrix[:50]
    raw = fitted.booster.predict(matrix, pred_contrib=True)
    logit = np.log(fitted.probability(matrix) / (1 - fitted.probability(matrix)))
    assert np.allclose(fitted.contributions(matrix).sum(axis=1) + fitted.slope * raw[:, -1] + fitted.intercept,
                       logit, atol=1e-6)


def test_too_few_churns_is_not_enough_history():
    data = synthetic(accounts=40)  # about 70 churns over 18 months, too few once the months are split
    few = data.where(pl.col("snapshot_month") >= date(2025, 1, 1))  # 6 months of 40 accounts: ~25 churns
    with pytest.raises(churn_model.NotEnoughHistory, match="churns"):
        churn_model.train(few)


def test_calibration_error_by_hand():
    # two bins of two rows: predicted means 0.1 and 0.7, observed rates 0.0 and 0.5
    # error = (2 x |0.1 - 0| + 2 x |0.7 - 0.5|) / 4 = (0.2 + 0.4) / 4 = 0.15
    probability = np.array([0.1, 0.1, 0.6, 0.8])
    outcome = np.array([0, 0, 1, 0])
    assert backtest.calibration_error(probability, outcome, bins=2) == pytest.approx(0.15)


def test_precision_and_recall_at_the_rules_list_size_by_hand(monkeypatch):
    # One test month, 6 accounts; the rules flag 2 (k = 2). Churners: a, b, c.
    # Model's top 2 by probability: a (0.9) and b (0.8) -> both churn: precision 2/2, recall 2/3.
    # Rules flag a and d: one churner -> precision 1/2, recall 1/3.
    month = date(2025, 6, 1)
    test = Snapshots(pl.DataFrame({
        "account_id": list("abcdef"), "snapshot_month": [month] * 6,
        **{name: [0.0] * 6 for name in FEATURES},
        "churned_3m": [True, True, True, False, False, False],
        "rules_score": [40, 0, 0, 30, 0, 0], "mrr_usd": [100.0] * 6,
    }))

    class Fixed:
        trained_at = None

        def probability(self, matrix):
            return np.array([0.9, 0.8, 0.1, 0.5, 0.2, 0.05])

    monkeypatch.setattr(backtest, "split", lambda closed: backtest.Split(test, test, month, [month]))
    monkeypatch.setattr(churn_model, "train", lambda training, seed=0: Fixed())
    result = backtest.run(test)
    assert result["k"] == 2
    assert (result["precision_at_k"], result["recall_at_k"]) == (1.0, pytest.approx(2 / 3))
    assert (result["rules_precision"], result["rules_recall"]) == (0.5, pytest.approx(1 / 3))


def test_drivers_name_the_largest_positive_groups_in_words():
    frame = pl.DataFrame({name: [0.0] for name in FEATURES}).with_columns(
        seats_trend_1m=pl.lit(0.4), api_trend_1m=pl.lit(1.1), unpaid_failed_payments=pl.lit(2.0),
        failed_payments_3m=pl.lit(2.0), segment=pl.lit("SMB"), quantity=pl.lit(10.0), seat_utilisation=pl.lit(0.3),
    )
    contributions = np.zeros((1, len(FEATURES)))
    index = {name: i for i, name in enumerate(FEATURES)}
    contributions[0, index["seats_trend_1m"]] = 0.9   # usage trend: 0.9 + 0.3 = 1.2
    contributions[0, index["api_trend_1m"]] = 0.3
    contributions[0, index["unpaid_failed_payments"]] = 0.5  # payments: 0.5
    contributions[0, index["segment_code"]] = -0.4  # lowers the risk: never a driver
    contributions[0, index["seat_utilisation"]] = 0.004  # rounds to 0.00: not named
    named = drivers.top_drivers(frame, contributions).row(0, named=True)
    assert named["driver_1"] == "active seats down 60% and API calls up 10% on the month before"
    assert named["driver_1_contribution"] == pytest.approx(1.2)
    assert named["driver_2"] == "2 failed payments still unpaid"
    assert named["driver_3"] is None and named["driver_3_contribution"] is None
    assert named["top_drivers"] == ("active seats down 60% and API calls up 10% on the month before (+1.20); "
                                    "2 failed payments still unpaid (+0.50)")


def test_expected_mrr_at_risk_is_probability_times_mrr_rounded_half_away_from_zero(tmp_path):
    from decimal import Decimal

    from transforms.churn import pipeline
    from transforms.sql_models import connect

    con = connect(tmp_path / "warehouse.duckdb")
    frame = pl.DataFrame({
        "account_id": ["a", "b", "c", "d"],
        "mrr": [Decimal("0.05"), Decimal("100.01"), Decimal("10.00"), Decimal("250.00")],
        "churn_probability": [0.5, 0.125, 0.0005, None],
        "model_version": ["v1"] * 4,
        "top_drivers": [None] * 4,
        **{f"driver_{k}": [None] * 4 for k in (1, 2, 3)},
        **{f"driver_{k}_contribution": [None] * 4 for k in (1, 2, 3)},
        "as_of": [None] * 4,
    }, schema_overrides={"mrr": pl.Decimal(18, 2), "churn_probability": pl.Float64, "top_drivers": pl.String,
                         **{f"driver_{k}": pl.String for k in (1, 2, 3)},
                         **{f"driver_{k}_contribution": pl.Float64 for k in (1, 2, 3)}, "as_of": pl.Datetime})
    pipeline.write_predictions(con, frame)
    rows = con.sql("select account_id, expected_mrr_at_risk, rank from marts.churn_predictions order by rank").fetchall()
    # b: 100.01 x 0.125 = 12.50125 -> 12.50; a: 0.05 x 0.5 = 0.025 -> 0.03 (half away from zero);
    # c: 10.00 x 0.0005 = 0.005 -> 0.01; d: no probability -> NULL, ranked last
    assert rows == [("b", Decimal("12.50"), 1), ("a", Decimal("0.03"), 2), ("c", Decimal("0.01"), 3), ("d", None, 4)]


def test_a_model_file_of_another_feature_set_is_not_used(tmp_path):
    fitted = churn_model.train(synthetic(accounts=300), seed=5)
    path = fitted.save(tmp_path)
    path.write_text(path.read_text().replace('"mrr_usd"', '"mrr_eur"'))  # as if written by another version
    assert churn_model.current_model(tmp_path) is None
    assert churn_model.current_model(tmp_path / "nothing here") is None
