"""Ingestion: landed event files and reference data into the `raw` schema (docs/input-format.md)."""


import dagster as dg

from orchestration.metadata import table_metadata
from orchestration.resources import Warehouse
from orchestration.settings import WAREHOUSE_POOL
from transforms import ingestion
from transforms.ingestion import STREAMS
from transforms.sql_models import summarize_table

GROUP = "ingestion"


def reference_data_asset(deps: tuple[dg.AssetKey, ...] = ()) -> dg.AssetsDefinition:
    """`deps`: what must run first (the Stripe pull, when configured: orchestration/assets/stripe_api.py)."""

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(["raw", "plans"], group_name=GROUP, kinds={"duckdb", "csv"}, deps=deps,
                         description="reference/plans.csv: plan tiers, seat and API-call limits, USD list price per seat."),
            dg.AssetSpec(["raw", "fx_rates"], group_name=GROUP, kinds={"duckdb", "csv"}, deps=deps,
                         description="reference/fx_rates.csv: USD per unit of each currency by month."),
        ],
        name="reference_data",
        pool=WAREHOUSE_POOL,
    )
    def reference_data(context: dg.AssetExecutionContext, warehouse: Warehouse):
        """Reload the small reference files in full every run (they may be corrected in place)."""
        with warehouse.connect() as con:
            ingestion.ensure_raw_tables(con)
            counts = ingestion.load_reference(con, warehouse.landing_dir)
            for table in ("plans", "fx_rates"):
                summary = summarize_table(con, f"raw.{table}")
                yield dg.MaterializeResult(asset_key=["raw", table], metadata=table_metadata(summary))
        context.log.info(f"reference data: {counts}")

    return reference_data


reference_data = reference_data_asset()


def event_stream_asset(stream: str, extra_deps: tuple[dg.AssetKey, ...] = ()) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", stream],
        group_name=GROUP,
        deps=[dg.AssetKey(["raw", "fx_rates"]), *extra_deps],  # the currency check needs the known currencies
        kinds={"duckdb", "json"},
        pool=WAREHOUSE_POOL,
        description=(
            f"Every accepted event of {stream}/ (docs/input-format.md), typed, UTC, with source_file and ingested_at. "
            "Only files not loaded before are read; bad rows go to raw.quarantine."
        ),
    )
    def _load(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        bounds = warehouse.instant_bounds()
        with warehouse.connect() as con:
            ingestion.ensure_raw_tables(con)
            # rows an earlier version let in that today's rules reject leave raw first (docs/bad-input.md)
            healed = ingestion.heal_stream(con, stream, bounds)
            report = ingestion.load_stream(con, warehouse.landing_dir, stream, progress=context.log.info,
                                           bounds=bounds, max_line_bytes=warehouse.max_line_bytes)
            summary = summarize_table(con, f"raw.{stream}", preview_rows=5)
            for message in report.invalid_headers.values():
                context.log.error(message)
            if report.files_changed:
                context.log.warning(f"changed since they were loaded, reloaded: {', '.join(report.files_changed[:10])}"
                                    + (" ..." if len(report.files_changed) > 10 else ""))
            if stream == "subscription_events":  # every metric starts from them
                try:
                    ingestion.require_subscription_events(con, warehouse.landing_dir, warehouse.path)
                except ingestion.NoValidEvents as error:
                    # what was loaded and quarantined is committed; nothing downstream can be computed
                    raise dg.Failure(description=str(error), allow_retries=False) from None
        for source_file, error in report.unreadable_files.items():
            context.log.error(f"cannot read {source_file}: {error}. Nothing was loaded from it; it is retried next run.")
        if healed.moved:
            context.log.warning(f"moved {healed.moved} row(s) loaded by an earlier version to raw.quarantine "
                                f"({ingestion.IMPLAUSIBLE_INSTANT}): {bounds.describe()}")
        if healed.strict_json_message:
            context.log.warning(healed.strict_json_message)
        if report.files_ignored:
            context.log.warning(f"not event files, not read: {', '.join(report.files_ignored[:10])}"
                                + (" ..." if len(report.files_ignored) > 10 else ""))
        return dg.MaterializeResult(
            metadata=table_metadata(
                summary,
                files_read=len(report.files_read),
                files_already_loaded=report.files_skipped,
                unreadable_files=dg.MetadataValue.json(report.unreadable_files),
                files_ignored=dg.MetadataValue.json(report.files_ignored),
                rows_read=report.rows_read,
                rows_loaded=report.rows_loaded,
                rows_duplicate=report.rows_duplicate,
                rows_quarantined=report.rows_quarantined,
                quarantined_by_reason=dg.MetadataValue.json(report.quarantined_by_reason),
                rows_healed=healed.moved,
                files_with_invalid_header=dg.MetadataValue.json(report.invalid_headers),
                files_changed_and_reloaded=dg.MetadataValue.json(report.files_changed),
            )
        )

    return _load


event_streams = [event_stream_asset(stream) for stream in STREAMS]
