"""The churn model's two jobs, as the Dagster assets call them (no Dagster here):

    outcome = retrain(con, models_dir, seed=0, hazard_file=None)   # when a month closes: backtest, train, save
    predictions = score(con, models_dir)                            # every run: the current model scores

A warehouse too small or too young to train (model.NotEnoughHistory) never fails a run: `retrain` says so
and keeps no model, and `score` falls back to the three churn-risk rules (model_version 'rules').
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from transforms.churn import backtest, drivers, tables
from transforms.churn import model as churn_model
from transforms.churn.features import Snapshots, read_snapshots

RULES_VERSION = "rules"
DRIVER_ROWS = 10_000  # accounts whose drivers are named: those with the most MRR at risk
# Closed snapshots read to backtest and train: about 30,000 accounts' histories (a sample by account above)
MAX_SNAPSHOT_ROWS = 600_000
RULE_WORDS = {  # the rules' reasons, in the drivers' words, when the rules score
    "unpaid_failed_payments": "a failed payment still unpaid",
    "cancellation_scheduled": "cancellation scheduled",
    "usage_drop": "usage down 50% or more on the month before",
}


def models_dir_for(warehouse_path: str | Path) -> Path:
    """The model files of a warehouse live beside it: `<warehouse>.churn/`."""
    path = Path(warehouse_path)
    return path.parent / (path.name + ".churn")


@dataclass(frozen=True)
class Retrained:
    model: churn_model.ChurnModel | None  # None: not enough history, or no better than the rules: the rules score
    backtest: dict | None  # backtest.run's result (None when there was too little history for one)
    note: str  # one sentence for the run's log and the asset's metadata
    path: Path | None = None


def retrain(con: duckdb.DuckDBPyConnection, models_dir: str | Path, seed: int = 0,
            hazard_file: str | Path | None = None) -> Retrained:
    """Backtest the pipeline on held-out months, train the model on every closed snapshot, save it as the
    current model and record the backtest in marts.churn_model_backtest."""
    closed = read_snapshots(con, "outcomes.outcome_closed", max_rows=MAX_SNAPSHOT_ROWS, seed=seed)
    try:
        fitted = churn_model.train(closed, seed=seed)
    except churn_model.NotEnoughHistory as reason:
        return Retrained(None, None, f"no churn model: {reason}")
    try:
        result = backtest.run(closed, seed=seed, hazard_file=hazard_file)
    except churn_model.NotEnoughHistory as reason:
        result, note = None, f"model {fitted.version} trained; no backtest yet: {reason}"
    else:
        note = (f"model {fitted.version} trained through {fitted.trained_through:%Y-%m} on {fitted.training_rows:,} "
                f"account-months; backtest {result['test_months']}: AUC {result['auc']:.3f} "
                f"(rules {result['rules_auc']:.3f}), PR-AUC {result['pr_auc']:.3f} (rules {result['rules_pr_auc']:.3f})")
        record_backtest(con, fitted.version, result)
        if result["pr_auc"] < result["rules_pr_auc"]:
            # a model that found churners less well than the rules on months it never saw is kept on file
            # for the record, not used: the rules score until a later month's model does better
            path = fitted.save(models_dir, current=False)
            return Retrained(None, result, note + "; worse than the rules on PR-AUC: the rules score instead", path)
    path = fitted.save(models_dir)
    return Retrained(fitted, result, note, path)


def ensure_backtest_table(con: duckdb.DuckDBPyConnection) -> None:
    """An empty marts.churn_model_backtest when no backtest has been recorded yet (too little history)."""
    if not _backtest_table_exists(con):
        empty = pl.DataFrame({c.name: [] for c in tables.BACKTEST_COLUMNS}, schema={c.name: pl.String
                                                                                  for c in tables.BACKTEST_COLUMNS})
        tables.write_table(con, tables.BACKTEST_TABLE, empty, tables.BACKTEST_COLUMNS, tables.BACKTEST_DESCRIPTION)


def _backtest_table_exists(con: duckdb.DuckDBPyConnection) -> bool:
    return con.sql(
        "select count(*) from information_schema.tables where table_schema = 'marts' "
        "and table_name = 'churn_model_backtest'"
    ).fetchall()[0][0] > 0


def record_backtest(con: duckdb.DuckDBPyConnection, version: str, result: dict) -> None:
    """Add (or replace) this model version's row of marts.churn_model_backtest; earlier rows stay."""
    names = [col.name for col in tables.BACKTEST_COLUMNS]
    row = pl.DataFrame([{**{name: result.get(name) for name in names}, "model_version": version}])
    row = row.with_columns(pl.col(name).cast(pl.Float64) for name in names
                           if name not in ("model_version", "learner", "trained_through", "test_months",
                                           "test_rows", "test_churned", "k", "trained_at"))
    if _backtest_table_exists(con):
        earlier = con.sql(f"select * from {tables.BACKTEST_TABLE} where model_version <> $1", params=[version]).pl()
        row = pl.concat([earlier, row.cast(earlier.schema)], how="vertical") if earlier.height else row
    tables.write_table(con, tables.BACKTEST_TABLE, row, tables.BACKTEST_COLUMNS, tables.BACKTEST_DESCRIPTION,
                       order_by="trained_at, model_version")


@dataclass(frozen=True)
class Scored:
    note: str  # one sentence for the log: how many accounts, scored by what
    riskiest: pl.DataFrame  # the first ten rows of marts.churn_predictions
    expected_mrr_at_risk: float  # their total over all accounts, USD


def score(con: duckdb.DuckDBPyConnection, models_dir: str | Path) -> Scored:
    """Score every paying account at the latest snapshot with the current model (or the rules when there
    is none) and write marts.churn_predictions."""
    latest = read_snapshots(con, "features.is_latest_month", with_outcomes=False)
    model = churn_model.current_model(models_dir)
    if model is not None:
        frame = _model_scores(latest, model)
        note = f"{frame.height:,} accounts scored by model {model.version}"
    else:
        frame = _rules_scores(latest, read_snapshots(con, "outcomes.outcome_closed", max_rows=MAX_SNAPSHOT_ROWS))
        note = f"{frame.height:,} accounts scored by the three churn-risk rules (no model in use)"
    as_of = con.sql("select max(as_of) from staging.calendar").fetchall()[0][0]
    frame = frame.with_columns(as_of=pl.lit(as_of))
    write_predictions(con, frame)
    riskiest = con.sql(f"select * from {tables.PREDICTIONS_TABLE} order by rank limit 10").pl()
    total = con.sql(f"select coalesce(sum(expected_mrr_at_risk), 0)::double from {tables.PREDICTIONS_TABLE}")
    return Scored(note, riskiest, total.fetchall()[0][0])


def _model_scores(latest: Snapshots, model: churn_model.ChurnModel) -> pl.DataFrame:
    """Probabilities for every account; drivers for the DRIVER_ROWS accounts with the most MRR at risk (the
    per-row contributions cost about a millisecond a row: all of a million accounts would take minutes)."""
    matrix = latest.matrix
    probability = model.probability(matrix) if len(matrix) else np.empty(0)
    at_risk = probability * latest.frame["mrr_usd"].fill_null(0).to_numpy()
    explained = np.sort(np.argsort(-at_risk, kind="stable")[:DRIVER_ROWS])
    named = drivers.top_drivers(latest.frame[explained], model.contributions(matrix[explained]) if len(explained)
                                else np.empty((0, len(model.features))), tables.TOP_DRIVERS)
    named = (named.with_columns(row=pl.Series(explained, dtype=pl.Int64))
             .join(pl.DataFrame({"row": np.arange(len(matrix), dtype=np.int64)}), on="row", how="right")
             .sort("row").drop("row"))
    return pl.concat(
        [latest.frame.select("account_id", "mrr"), named,
         pl.DataFrame({"churn_probability": probability, "model_version": [model.version] * len(probability)},
                      schema={"churn_probability": pl.Float64, "model_version": pl.String})],
        how="horizontal",
    )


def _rules_scores(latest: Snapshots, closed: Snapshots) -> pl.DataFrame:
    """Without a model: each account gets the churn rate that closed snapshots showed for its rules score
    band (flagged or not); NULL when no outcome has closed yet. The rules' reasons are the drivers."""
    flagged = pl.col("rules_score") > 0
    rates = closed.frame.group_by(flagged.alias("flagged")).agg(rate=pl.col("churned_3m").cast(pl.Float64).mean())
    frame = latest.frame.with_columns(flagged=flagged).join(rates, on="flagged", how="left")
    reasons = [
        pl.when(condition).then(pl.lit(text))
        for condition, text in (
            (pl.col("unpaid_failed_payments") > 0, RULE_WORDS["unpaid_failed_payments"]),
            (pl.col("cancellation_scheduled") > 0, RULE_WORDS["cancellation_scheduled"]),
            ((pl.col("seats_trend_1m") <= 0.5) | (pl.col("api_trend_1m") <= 0.5), RULE_WORDS["usage_drop"]),
        )
    ]
    said = pl.concat_list(reasons).list.drop_nulls()
    return frame.select(
        "account_id", "mrr",
        churn_probability=pl.col("rate"),
        top_drivers=said.list.join("; ").replace("", None),
        **{f"driver_{k + 1}": said.list.get(k, null_on_oob=True) for k in range(tables.TOP_DRIVERS)},
        **{f"driver_{k + 1}_contribution": pl.lit(None, dtype=pl.Float64) for k in range(tables.TOP_DRIVERS)},
        model_version=pl.lit(RULES_VERSION),
    )


def write_predictions(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> None:
    """marts.churn_predictions, ranked by MRR at risk; the money product in DECIMAL, rounded half away from
    zero to the cent (DuckDB rounds DECIMAL half away from zero)."""
    derive = """
        select *, row_number() over (
            order by expected_mrr_at_risk desc nulls last, churn_probability desc nulls last, account_id
        ) as rank
        from (
            select *,
                round(mrr::decimal(18, 2) * churn_probability::decimal(20, 18), 2)::decimal(18, 2)
                    as expected_mrr_at_risk
            from frame
        )
    """
    tables.write_table(con, tables.PREDICTIONS_TABLE, frame, tables.PREDICTION_COLUMNS,
                       tables.PREDICTIONS_DESCRIPTION, order_by="rank", derive=derive)
