"""The one Definitions object `workspace.yaml` and `subwh` load."""

from __future__ import annotations

import dagster as dg

from orchestration import assets, checks
from orchestration.resources import Warehouse
from orchestration.settings import Settings


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    warehouse = Warehouse(
        path=str(settings.warehouse_path),
        landing_dir=str(settings.landing_dir),
        serving_path=str(settings.serving_path),
        exports_dir=str(settings.exports_dir),
        reports_dir=str(settings.reports_dir),
        gross_margin=settings.gross_margin,
        memory_limit=settings.memory_limit,
        threads=settings.threads,
        temp_directory=settings.temp_directory,
    )
    return dg.Definitions(
        assets=dg.load_assets_from_package_module(assets),
        asset_checks=[
            *dg.load_asset_checks_from_package_module(assets),
            *dg.load_asset_checks_from_modules([checks]),
        ],
        resources={"warehouse": warehouse},
        # One process writes the DuckDB file; steps run one after another inside it.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
