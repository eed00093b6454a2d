"""Churn: the model that learns who leaves (retrained when a month closes) and the daily predictions.

`transforms.churn` does the work (docs/churn-model.md); these assets only decide when, and report."""

from pathlib import Path

import dagster as dg

from orchestration.automation import follows_inputs
from orchestration.metadata import frame_table, table_metadata
from orchestration.resources import Warehouse
from orchestration.settings import WAREHOUSE_POOL
from transforms.churn import charts, pipeline, tables
from transforms.churn import model as churn_model
from transforms.churn.features import FEATURES_TABLE, OUTCOMES_TABLE
from transforms.sql_models import summarize_table

GROUP = "churn"


def table_key(qualified_name: str) -> dg.AssetKey:
    """`marts.churn_predictions` -> AssetKey(["marts", "churn_predictions"]), as every table's asset key."""
    return dg.AssetKey(qualified_name.split("."))


MODEL = dg.AssetKey(["models", "churn_model"])
BACKTEST = table_key(tables.BACKTEST_TABLE)
PREDICTIONS = table_key(tables.PREDICTIONS_TABLE)
_INPUTS = [table_key(FEATURES_TABLE), table_key(OUTCOMES_TABLE), table_key("staging.calendar")]
SEED = 0


def _schema(columns: list[tables.Column]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(c.name, c.sql_type, description=c.description) for c in columns])


def hazard_file(warehouse: Warehouse) -> Path:
    """The generator's true hazards beside a generated landing folder (absent for real data)."""
    landing = Path(warehouse.landing_dir)
    return landing.parent / (landing.name + ".truth") / "churn_hazard.parquet"


@dg.multi_asset(
    specs=[
        dg.AssetSpec(MODEL, group_name=GROUP, deps=_INPUTS, kinds={"lightgbm"},
                     automation_condition=follows_inputs(),
                     description="The churn model file beside the warehouse (<warehouse>.churn/), trained on every "
                                 "closed snapshot month; retrained when a month closes (docs/churn-model.md)."),
        dg.AssetSpec(BACKTEST, group_name=GROUP, deps=_INPUTS, kinds={"duckdb", "lightgbm"},
                     automation_condition=follows_inputs(),
                     description=tables.BACKTEST_DESCRIPTION,
                     metadata={"dagster/column_schema": _schema(tables.BACKTEST_COLUMNS)}),
    ],
    pool=WAREHOUSE_POOL,
)
def churn_model_asset(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """Retrain when a snapshot month has closed since the last training (or there was none): backtest on the
    latest held-out months, train on all closed months, save the model, record the backtest. Otherwise keep
    the model (both assets still materialize, saying so: the assets after them in the run wait for them)."""
    models_dir = pipeline.models_dir_for(warehouse.path)
    with warehouse.connect() as con:
        latest_closed = con.sql(
            f"select max(snapshot_month) from {OUTCOMES_TABLE} where outcome_closed"
        ).fetchall()[0][0]
        last = churn_model.last_trained_through(models_dir) if models_dir.is_dir() else None
        if last is not None and latest_closed is not None and last >= latest_closed:
            current = churn_model.current_model(models_dir)
            note = (f"no month closed since the last training (through {last:%Y-%m}): "
                    + (f"model {current.version} kept" if current else "the rules keep scoring"))
            context.log.info(note)
            # both materialize every run (downstream assets in the same run wait for them), unchanged
            yield dg.MaterializeResult(asset_key=MODEL, metadata={"model": note, "retrained": False})
            yield dg.MaterializeResult(asset_key=BACKTEST, metadata={"retrained": False})
            return
        retrained = pipeline.retrain(con, models_dir, seed=SEED, hazard_file=hazard_file(warehouse))
        context.log.info(retrained.note)
        pipeline.ensure_backtest_table(con)
        backtest_summary = summarize_table(con, tables.BACKTEST_TABLE)
    metadata = {"model": retrained.note, "retrained": True}
    if retrained.model is not None:
        model = retrained.model
        metadata |= {
            "model_version": model.version,
            "path": dg.MetadataValue.path(str(retrained.path)),
            "trained_through": f"{model.trained_through:%Y-%m}",
            "training_rows": model.training_rows,
            "training_churns": model.training_churns,
        }
    result = retrained.backtest
    if result is not None:
        metadata |= {name: result[name] for name in ("test_months", "auc", "pr_auc", "rules_auc", "rules_pr_auc",
                                                     "brier", "calibration_error", "precision_at_k", "recall_at_k",
                                                     "rules_precision", "rules_recall")}
        if result["true_hazard_auc"] is not None:
            metadata["true_hazard_auc"] = result["true_hazard_auc"]
        metadata |= {name: dg.MetadataValue.md(image) for name, image in charts.backtest_charts(result).items()}
    yield dg.MaterializeResult(asset_key=MODEL, metadata=metadata)
    yield dg.MaterializeResult(asset_key=BACKTEST, metadata=table_metadata(backtest_summary))


@dg.asset(
    key=PREDICTIONS, group_name=GROUP, deps=[MODEL, *_INPUTS], kinds={"duckdb", "lightgbm"},
    automation_condition=follows_inputs(), pool=WAREHOUSE_POOL,
    description=tables.PREDICTIONS_DESCRIPTION,
    metadata={"dagster/column_schema": _schema(tables.PREDICTION_COLUMNS)},
)
def churn_predictions(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """Score every paying account with the current model (the rules when there is none)."""
    with warehouse.connect() as con:
        scored = pipeline.score(con, pipeline.models_dir_for(warehouse.path))
        summary = summarize_table(con, tables.PREDICTIONS_TABLE, order_by="rank")
    context.log.info(scored.note)
    top = scored.riskiest.select("rank", "account_id", "churn_probability", "mrr", "expected_mrr_at_risk",
                                 "top_drivers")
    return dg.MaterializeResult(metadata=table_metadata(
        summary,
        scored_by=scored.note,
        expected_mrr_at_risk_total=scored.expected_mrr_at_risk,
        riskiest_accounts=frame_table(top),
    ))
