"""Build the dbt models (sql/) on a test's warehouse, in this process.

    con = connect(tmp_path / "warehouse.duckdb")
    ...load raw tables...
    run_models(con, MRR)          # dbt builds the models on the file `con` has open

dbt runs in this process (dbt's programmatic runner) rather than as the subprocess a Dagster run starts, so
that it opens the test's DuckDB file through the same database instance as `con` (DuckDB shares one
instance per file within a process): the test keeps its connection and sees what dbt built. The project is
parsed once per process and database name; the SQL, macros, materializations and persisted docs are the
ones `subwh run` uses (tests/integration runs those through Dagster's `dbt build`).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import duckdb

from transforms import dbt_project

REPO = Path(__file__).resolve().parents[2]
# dbt's artefacts and logs: the ignored build/ folder, one per process (xdist workers run side by side)
WORK_DIR = REPO / "build" / "dbt-tests" / str(os.getpid())

# The models each stage of a story builds (dbt orders them).
MRR = ("calendar", "fx_rates_monthly", "subscription_events", "subscription_periods", "subscription_mrr_monthly",
       "account_mrr_monthly", "mrr_movements", "mrr_waterfall", "accounts")
METRICS = ("collected_revenue_monthly", "cohort_months", "mrr_waterfall_by_segment", "account_plan_months",
           "mrr_by_plan", "saas_metrics_monthly", "cohort_retention", "cohort_ltv")
SALES = ("account_usage_windows", "unresolved_payment_failures", "subscriptions_in_force", "scheduled_cancellations",
         "account_plan_seats", "account_milestones")
ALL = MRR + METRICS + SALES
# the churn model's features (docs/churn-model.md): built by the churn tests and the whole-project tests
CHURN = ("churn_usage_monthly", "churn_features", "churn_outcomes")

_manifests: dict[str, object] = {}
_lock = threading.Lock()


def qualified(models=ALL) -> list[str]:
    """The models' tables as schema.table ("marts.mrr_waterfall")."""
    docs = {doc.table: doc for doc in dbt_project.model_docs().values()}
    return [docs[name].qualified_name for name in models]


class DbtFailed(AssertionError):
    """dbt did not build what a test asked for; the message holds dbt's own errors."""


def warehouse_path(con: duckdb.DuckDBPyConnection) -> Path:
    found = con.sql("select path from duckdb_databases() where database_name = current_database()").fetchall()
    if not found or not found[0][0]:
        raise ValueError("dbt builds a warehouse file, not an in-memory database: connect to tmp_path / 'warehouse.duckdb'")
    return Path(found[0][0])


def _invoke(args: list[str], path: Path, manifest=None, gross_margin: str = "1.0", variables: dict | None = None):
    from dbt.cli.main import dbtRunner

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    try:
        with dbt_project.environment(dbt_project.dbt_environment(path)):
            return dbtRunner(manifest=manifest).invoke([
                *args, "--project-dir", str(dbt_project.PROJECT_DIR), "--profiles-dir", str(dbt_project.PROJECT_DIR),
                "--target-path", str(WORK_DIR / path.stem), "--log-path", str(WORK_DIR), "--quiet",
                *dbt_project.GLOBAL_FLAGS, *dbt_project.dbt_vars(gross_margin, **(variables or {})),
            ])
    finally:
        _close_dbt_connection()


def _close_dbt_connection() -> None:
    """dbt-duckdb keeps its connection to the last file between invocations in one process; closed, so that
    closing the test's own connection closes the file (a read-only reopen, a copy, another process)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    if DuckDBConnectionManager._ENV is not None:
        DuckDBConnectionManager._ENV.close()
        DuckDBConnectionManager._ENV = None


def _manifest(path: Path):
    """The parsed project for warehouses named like `path` (dbt names the database after the file)."""
    with _lock:
        if path.stem not in _manifests:
            result = _invoke(["parse", "--no-partial-parse"], path)
            if not result.success:
                raise DbtFailed(f"dbt parse failed: {result.exception}")
            _manifests[path.stem] = result.result
        return _manifests[path.stem]


def run_models(con: duckdb.DuckDBPyConnection, models=ALL, *, gross_margin: str = "1.0", dbt_args=(),
               variables: dict | None = None) -> None:
    """Build `models` (names or dbt selectors; dbt orders them) on the warehouse `con` has open; `dbt_args`
    (`--full-refresh`) and `variables` (project vars) are passed to `dbt run`."""
    path = warehouse_path(con)
    select = [models] if isinstance(models, str) else list(models)
    result = _invoke(["run", *dbt_args, "--select", *select], path, _manifest(path), gross_margin, variables)
    if not result.success:
        errors = [f"{r.node.name}: {r.message}" for r in (result.result or []) if r.status in ("error", "fail")]
        raise DbtFailed("dbt run failed: " + ("; ".join(errors) or str(result.exception)))


def render(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """`sql` with the project's macros expanded (`{{ annualized('1', '7') }}`), as dbt compiles a model."""
    path = warehouse_path(con)
    result = _invoke(["compile", "--inline", sql], path, _manifest(path))
    if not result.success:
        raise DbtFailed(f"dbt compile failed: {result.exception}")
    return result.result.results[0].node.compiled_code


def dbt_materialization(result, table: str):
    """The materialization of model `table` ("marts.mrr_waterfall") in a Dagster run's result: every model is
    built by the one dbt step (orchestration/assets/dbt_models.py)."""
    found = [m for m in result.asset_materializations_for_node("dbt_models") if ".".join(m.asset_key.path) == table]
    assert len(found) == 1, f"{table}: {len(found)} materializations"
    return found[0]
