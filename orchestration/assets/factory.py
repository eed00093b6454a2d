"""One asset per SQL model: its key is the table it builds, its inputs the tables its SQL names."""


from collections.abc import Callable

import dagster as dg
import duckdb

from orchestration.automation import follows_inputs
from orchestration.metadata import declared_schema, table_metadata
from orchestration.resources import Warehouse
from orchestration.settings import WAREHOUSE_POOL
from transforms.sql_models import load_model, run_model, summarize_table


def table_key(qualified_name: str) -> dg.AssetKey:
    """`marts.mrr_waterfall` -> AssetKey(["marts", "mrr_waterfall"]): keys mirror where the data lives."""
    return dg.AssetKey(qualified_name.split("."))


# Extra metadata an asset attaches after its model ran (charts, reconciliation results): connection -> metadata.
MetadataHook = Callable[[duckdb.DuckDBPyConnection], dict]


def sql_model_asset(
    model_name: str,
    group_name: str,
    extra_deps: tuple[str, ...] = (),
    metadata_hook: MetadataHook | None = None,
    preview_order_by: str | None = None,
) -> dg.AssetsDefinition:
    model = load_model(model_name)

    @dg.asset(
        key=table_key(model.qualified_name),
        name=None,
        group_name=group_name,
        deps=[table_key(t) for t in (*model.upstream_tables, *extra_deps)],
        description=model.description,
        metadata={"dagster/column_schema": declared_schema(model_name), "sql_model": f"sql/{model_name}.sql"},
        kinds={"duckdb", "sql"},
        pool=WAREHOUSE_POOL,
        # Rebuilt once its inputs update and ingestion has finished, so a sensor-started ingestion run
        # flows on to the marts and the serving file without a hand-wired job (orchestration/automation.py).
        automation_condition=follows_inputs(),
    )
    def _build(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            # an incremental model says whether it restated some keys or rebuilt in full, and why
            build = run_model(con, model_name)
            summary = summarize_table(con, model.qualified_name, order_by=preview_order_by or latest_first(model))
            extra = metadata_hook(con) if metadata_hook else {}
            if build:
                extra["build"] = dg.MetadataValue.text(build)
        context.log.info(f"{summary.qualified_name}: {summary.row_count} rows" + (f"; {build}" if build else ""))
        return dg.MaterializeResult(metadata=table_metadata(summary, **extra))

    return _build


# Time columns an analyst reads newest first, with what orders rows within one value of them.
LATEST_FIRST = (("month", "month desc"), ("cohort_month", "cohort_month desc, months_since_start"),
                ("as_of", "as_of desc"))


def latest_first(model) -> str | None:
    """The preview's order when the asset names none: the latest month first (a preview of ten rows that
    shows the oldest ten months tells an analyst nothing about today)."""
    columns = model.column_descriptions
    return next((order for column, order in LATEST_FIRST if column in columns), None)
