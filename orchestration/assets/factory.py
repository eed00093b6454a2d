"""One asset per SQL model: its key is the table it builds, its inputs the tables its SQL names."""


import dagster as dg

from orchestration.metadata import declared_schema, table_metadata
from orchestration.resources import Warehouse
from orchestration.settings import WAREHOUSE_POOL
from transforms.sql_models import load_model


def table_key(qualified_name: str) -> dg.AssetKey:
    """`marts.mrr_waterfall` -> AssetKey(["marts", "mrr_waterfall"]): keys mirror where the data lives."""
    return dg.AssetKey(qualified_name.split("."))


def sql_model_asset(model_name: str, group_name: str, extra_deps: tuple[str, ...] = ()) -> dg.AssetsDefinition:
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
    )
    def _build(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        summary = warehouse.run_model(model_name)
        context.log.info(f"{summary.qualified_name}: {summary.row_count} rows")
        return dg.MaterializeResult(metadata=table_metadata(summary))

    return _build
