"""Serving: the last step of a run publishes the marts to the file BI tools read (docs/tables.md)."""

from collections.abc import Iterable

import dagster as dg

from orchestration.automation import follows_inputs
from orchestration.resources import Warehouse
from orchestration.settings import WAREHOUSE_POOL
from transforms import serving

GROUP = "serving"
SERVING_KEY = dg.AssetKey(["serving", "marts"])


def serving_asset(upstream: Iterable[dg.AssetKey]) -> dg.AssetsDefinition:
    """The publication asset, depending on every asset in `upstream`: Definitions passes every other asset
    key, the marts and also what only reads them (the HTML report, the CRM export), so an asset added
    later is covered without editing this file.

    That makes publishing the last step of a run, and a run where any asset, or a blocking check on one,
    failed publishes nothing: Dagster skips the steps downstream of a failed one. Between runs,
    automation publishes only once every blocking check on its inputs has passed."""
    deps = sorted({key for key in upstream if key != SERVING_KEY}, key=lambda k: k.to_user_string())

    @dg.asset(
        key=SERVING_KEY,
        group_name=GROUP,
        deps=deps,
        pool=WAREHOUSE_POOL,  # reads the warehouse: never while another run writes it
        kinds={"duckdb"},
        automation_condition=follows_inputs() & dg.AutomationCondition.all_deps_blocking_checks_passed(),
        description=(
            "The serving database BI tools read (default serving.duckdb beside the warehouse): every marts "
            "table with its table and column comments, plus meta.publication. Replaced atomically as the "
            "last step of a run in which every other asset succeeded, in a storage format DuckDB 0.10-2.x "
            "can open; never open for writing."
        ),
    )
    def serving_marts(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            publication = serving.publish_marts(con, warehouse.serving_path, run_id=context.run.run_id)
        context.log.info(
            f"published {len(publication.tables)} marts tables to {publication.serving_path} "
            f"({publication.file_bytes / 1e6:.1f} MB; updated in place: {', '.join(publication.updated) or 'none'})"
        )
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(publication.serving_path)),
                "tables": dg.MetadataValue.json(publication.tables),
                "dagster/row_count": dg.MetadataValue.int(sum(publication.tables.values())),
                "file_bytes": dg.MetadataValue.int(publication.file_bytes),
                # the incremental marts updated in a copy of the last publication rather than copied whole
                "tables_updated_in_place": dg.MetadataValue.json(list(publication.updated)),
                "storage_version": serving.SERVING_STORAGE_VERSION,
            }
        )

    return serving_marts
