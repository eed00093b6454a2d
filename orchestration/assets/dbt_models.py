"""The SQL models: the dbt project in sql/, one Dagster asset per model, built by one `dbt build` per run.

Asset keys mirror where the data lives (`[schema, table]`, as the Python assets name them), sources map to
the ingestion assets (`raw.*`), the groups are the models' `meta.dagster.group` (sql/dbt_project.yml), and
the description and column schema come from each model's `.yml`. dbt tests show as asset checks.

While dbt runs, the run's own DuckDB connection is closed (DuckDB lets one process at a time open the file
for writing); the run keeps the warehouse's writer lock throughout (orchestration/resources.py). Once
dbt has finished, each model's materialization gets what the other assets' do: row count, a preview, the
column types, and the charts and headline numbers of the marts that have them.
"""

import contextlib
import io
from collections.abc import Mapping
from functools import cached_property
from importlib import metadata
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtProjectPreparer,
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from packaging import version

from orchestration.automation import follows_inputs
from orchestration.metadata import table_metadata
from orchestration.resources import Warehouse
from orchestration.settings import WAREHOUSE_POOL, Settings
from transforms import dbt_project, spark_engine
from transforms.model_builds import latest_outcomes
from transforms.sql_models import summarize_table


class WarehouseDbt(DbtCliResource):
    """dagster-dbt's dbt command-line resource, without two costs a run does not need: `dbt --version` in a
    subprocess to learn which dbt it runs (about 1.6 s of CPU, and a look on PyPI for a newer one; the
    installed dbt-core is pinned, so its version is read from the package instead), and a dbt adapter set up
    in this process for metadata queries the models' asset makes itself, on the warehouse (row counts,
    column types)."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        return None


def dbt_resource(project: DbtProject | None = None) -> DbtCliResource:
    """The `dbt` resource the models' asset runs dbt with (Definitions and tests)."""
    return WarehouseDbt(project_dir=project or DBT_PROJECT, dbt_executable=dbt_project.DBT_EXECUTABLE,
                        global_config_flags=list(dbt_project.GLOBAL_FLAGS))


class ProjectPreparer(DagsterDbtProjectPreparer):
    """dagster-dbt's preparer (`dbt parse`), with the dbt installed beside this Python, on PATH or not."""

    def _prepare_manifest(self, project: DbtProject) -> None:
        # the variables a run on the default warehouse passes: the run reuses this parse (partial parsing)
        dbt_vars = dbt_project.dbt_vars(Settings.from_env().gross_margin)
        dbt_resource(project).cli(["parse", "--quiet", *dbt_vars], target_path=project.target_path).wait()


DBT_PROJECT = DbtProject(project_dir=dbt_project.PROJECT_DIR, profiles_dir=dbt_project.PROJECT_DIR,
                         target_path=dbt_project.TARGET_DIR)


def prepare_manifest(project: DbtProject = DBT_PROJECT) -> None:
    """Parse the project when its manifest is missing or older than a project file (a fresh clone, an
    edited model); `dagster dev` reparses on every load, as dagster-dbt does in development.

    The parse is made with the profile of the default warehouse (or $SUBWH_WAREHOUSE_PATH's): the first
    run on it starts from this parse state instead of parsing the whole project again (dbt reparses in
    full when the profile differs)."""
    preparer = ProjectPreparer()
    if preparer.using_dagster_dev() or dbt_project.manifest_is_stale(project.manifest_path):
        with dbt_project.environment(dbt_project.dbt_environment(Settings.from_env().warehouse_path)):
            preparer.prepare(project)


prepare_manifest()


class WarehouseTranslator(DagsterDbtTranslator):
    """dbt nodes as the warehouse's assets: keys `[schema, table]`, sources as the raw tables ingestion loads."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["alias"] or dbt_resource_props["name"]])

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        # the model's description alone (dagster-dbt's default appends the SQL, which the UI shows anyway)
        return dbt_resource_props.get("description") or super().get_description(dbt_resource_props)

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]) -> dg.AutomationCondition | None:
        # Rebuilt once its inputs update and ingestion has finished (orchestration/automation.py).
        return follows_inputs()


TRANSLATOR = WarehouseTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


# Time columns an analyst reads newest first, with what orders rows within one value of them.
LATEST_FIRST = (("month", "month desc"), ("cohort_month", "cohort_month desc, months_since_start"),
                ("as_of", "as_of desc"))


def latest_first(columns) -> str | None:
    """The preview's order: the latest month first (a preview of ten rows that shows the oldest ten months
    tells an analyst nothing about today)."""
    return next((order for column, order in LATEST_FIRST if column in columns), None)


@dbt_assets(manifest=DBT_PROJECT.manifest_path, project=DBT_PROJECT, dagster_dbt_translator=TRANSLATOR,
            name="dbt_models", pool=WAREHOUSE_POOL)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse):
    """One `dbt build` for every selected model and test; then each model's table metadata and charts. On
    Spark (SUBWH_ENGINE=spark, docs/spark.md) the raw tables go to Spark as Parquet first, and the tables
    Spark built come back into the warehouse before their metadata is read."""
    arguments, spark_env = dbt_project.dbt_vars(warehouse.gross_margin), {}
    if warehouse.engine == "spark":
        folder = spark_engine.spark_folder(warehouse.path)
        with warehouse.connect() as con:
            spark_engine.prepare(con, folder)
        arguments, spark_env = spark_engine.dbt_arguments(warehouse.gross_margin, folder), spark_engine.environment(folder)
    with warehouse.handed_to_dbt() as env:
        # the subprocess inherits this environment: the warehouse's path and DuckDB settings
        with dbt_project.environment({**env, **spark_env}):
            invocation = dbt.cli(["build", *arguments], context=context, target_path=warehouse.dbt_target_dir())
        events, failure, output = [], None, io.StringIO()
        # dagster-dbt echoes every dbt line to stdout: kept out of the console (`subwh run` prints one line
        # per failure); they are in the warehouse's dbt.log and in the run's events
        with contextlib.redirect_stdout(output):
            try:
                events.extend(invocation.stream())
            except Exception as error:  # a model or test failed: what succeeded is still reported
                failure = error
    with warehouse.connect() as con:
        if warehouse.engine == "spark":
            spark_engine.import_models(con, spark_engine.spark_folder(warehouse.path), {
                doc.qualified_name: (doc.description, doc.columns) for doc in dbt_project.model_docs().values()})
        builds = latest_outcomes(con)  # what each keyed_incremental model did: restated keys, or why in full
        for event in events:
            yield _with_table_metadata(context, con, event, builds)
    if failure is not None:
        raise dg.Failure(description=f"dbt build failed: {dbt_project.failures(warehouse.dbt_target_dir(), output.getvalue())} "
                                     f"(dbt's log: {warehouse.dbt_target_dir() / 'dbt.log'})") from failure


def _with_table_metadata(context: dg.AssetExecutionContext, con, event, builds: Mapping[str, str]):
    """A model's Output with its table's row count, preview, column types and (for some marts) charts."""
    if not isinstance(event, dg.Output):
        return event
    qualified = ".".join(context.asset_key_for_output(event.output_name).path)
    from orchestration.assets.metrics import model_metadata_hook, preview_order

    columns = [r[0] for r in con.execute(
        "select column_name from duckdb_columns() where database_name = current_database() and schema_name = ? "
        "and table_name = ?", qualified.split(".")).fetchall()]
    if not columns:  # a view built on Spark stays there (docs/spark.md): nothing here to describe
        return event
    summary = summarize_table(con, qualified, order_by=preview_order(qualified) or latest_first(columns))
    hook = model_metadata_hook(qualified)
    extra = hook(con) if hook else {}
    if qualified in builds:
        extra["build"] = dg.MetadataValue.text(builds[qualified])
    metadata = {**(event.metadata or {}), **table_metadata(summary, **extra)}
    return event.with_metadata(metadata)
