"""The churn features know only the past: appending later events changes no closed snapshot's features, and
the Dagster assets train, backtest and score on a generated warehouse (docs/churn-model.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from orchestration.assets import churn as churn_assets
from orchestration.resources import Warehouse
from sample_data.generator import generate
from tests.support.dbt import MRR, run_models
from tests.support.story import build, load_new_files
from transforms.churn import pipeline, tables

CHURN = ("churn_usage_monthly", "churn_features", "churn_outcomes")

CUT = "2024-10-01"  # the early landing folder holds the files of the days before


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("churn_landing")
    generate(root / "landing", accounts=400, months=14, seed=8, start_month="2024-01", progress=False)
    return root / "landing"


def copy_landing(landing: Path, target: Path, before: str | None) -> Path:
    """The landing folder with only the event files of days before `before` (all with None)."""
    shutil.copytree(landing, target, ignore=lambda folder, names: [
        n for n in names if before is not None and n[:10] >= before and n[:4].isdigit()])
    return target


def features(con, months_before: str) -> pl.DataFrame:
    return con.sql(f"""select * exclude (snapshot_at, is_latest_month) from intermediate.churn_features
                       where snapshot_month < '{months_before}' order by all""").pl()


def test_appending_later_events_leaves_every_closed_snapshot_unchanged(landing, tmp_path):
    early = copy_landing(landing, tmp_path / "landing", CUT)
    con = build(early, tmp_path / "warehouse.duckdb")
    run_models(con, CHURN)
    latest_early = con.sql("select max(snapshot_month)::varchar from intermediate.churn_features").fetchall()[0][0]
    assert latest_early == "2024-09-01"
    before = features(con, latest_early)  # every closed snapshot month of the early warehouse
    assert before.height > 500 and before["snapshot_month"].n_unique() == 8

    # The following months land in the same folder and the models run again.
    for stream in ("subscription_events", "billing_events", "usage_events"):
        for path in (landing / stream).iterdir():
            if path.name[:10] >= CUT:
                shutil.copy2(path, early / stream / path.name)
    load_new_files(con, early)
    run_models(con, (*MRR, *CHURN))  # incremental: the churn models compute their latest month again and newer
    after = features(con, latest_early)
    assert after.equals(before)

    # and a warehouse built from scratch on the whole folder agrees
    full = build(copy_landing(landing, tmp_path / "full", None), tmp_path / "full.duckdb")
    run_models(full, CHURN)
    assert features(full, latest_early).equals(before)
    assert features(full, "2025-02-01").equals(features(con, "2025-02-01"))


@pytest.fixture(scope="module")
def materialized(landing, tmp_path_factory):
    """The churn assets on a warehouse of the whole folder (14 months: a model, but too few months to backtest),
    twice: the second run finds no newly closed month."""
    root = tmp_path_factory.mktemp("churn_assets")
    folder = copy_landing(landing, root / "landing", None)
    shutil.copytree(landing.parent / "landing.truth", root / "landing.truth")
    con = build(folder, root / "warehouse.duckdb")
    run_models(con, CHURN)
    con.close()
    resource = Warehouse(path=str(root / "warehouse.duckdb"), landing_dir=str(folder),
                         serving_path=str(root / "serving.duckdb"), exports_dir=str(root / "exports"),
                         reports_dir=str(root / "reports"))
    assets = [churn_assets.churn_model_asset, churn_assets.churn_predictions]
    runs = [dg.materialize(assets, resources={"warehouse": resource}, instance=dg.DagsterInstance.ephemeral())
            for _ in range(2)]
    with resource.connect() as con:
        predictions = con.sql(f"select * from {tables.PREDICTIONS_TABLE} order by rank").pl()
        paying = con.sql("select count(*) from intermediate.churn_features where is_latest_month").fetchall()[0][0]
    return root, runs, predictions, paying


def test_the_model_asset_trains_once_and_the_predictions_score_every_paying_account(materialized):
    root, (first, second), predictions, paying = materialized
    models = root / "warehouse.duckdb.churn"
    trained = first.asset_materializations_for_node("churn_model_asset")
    assert [m.asset_key for m in trained] == [churn_assets.MODEL, churn_assets.BACKTEST]
    assert "no backtest yet" in trained[0].metadata["model"].value  # 10 closed months: too few to backtest
    assert trained[1].metadata["dagster/row_count"].value == 0
    version = trained[0].metadata["model_version"].value
    assert (models / "current.txt").read_text().strip() == f"churn_model_{version}.json"
    kept = second.asset_materializations_for_node("churn_model_asset")  # no month closed since: kept
    assert [m.metadata["retrained"].value for m in kept] == [False, False]
    assert f"model {version} kept" in kept[0].metadata["model"].value
    assert predictions.height == paying > 100
    assert predictions["model_version"].unique().to_list() == [version]
    assert predictions["churn_probability"].is_between(0, 1).all()
    assert predictions["rank"].to_list() == list(range(1, paying + 1))
    top = predictions.row(0, named=True)
    assert top["top_drivers"] and top["driver_1"] and top["driver_1_contribution"] > 0
    assert top["top_drivers"].startswith(top["driver_1"] + " (+")


def test_a_warehouse_too_young_to_train_scores_with_the_rules(landing, tmp_path):
    young = copy_landing(landing, tmp_path / "landing", "2024-06-01")  # five months: one closed outcome
    con = build(young, tmp_path / "warehouse.duckdb")
    run_models(con, CHURN)
    retrained = pipeline.retrain(con, tmp_path / "models")
    assert retrained.model is None and retrained.note.startswith("no churn model: ")
    scored = pipeline.score(con, tmp_path / "models")
    assert "rules" in scored.note
    versions = con.sql(f"select distinct model_version from {tables.PREDICTIONS_TABLE}").fetchall()
    assert versions == [("rules",)]
    flagged = con.sql(f"select count(*) from {tables.PREDICTIONS_TABLE} where top_drivers is not null").fetchall()
    assert flagged[0][0] > 0
