"""The one Definitions object `workspace.yaml` and `subwh` load."""

from __future__ import annotations

import dagster as dg

from orchestration import assets, checks
from orchestration.assets.dbt_models import dbt_resource
from orchestration.assets.serving import serving_asset
from orchestration.assets.stripe_api import StripeApi, with_stripe_import
from orchestration.automation import for_warehouse
from orchestration.console import console_logger
from orchestration.instance import run_tags
from orchestration.resources import LockedWarehouse
from orchestration.schedules import build_daily_schedule
from orchestration.sensors import build_automation_sensor, build_landing_sensor
from orchestration.settings import Settings


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    # Holds the warehouse's writer lock for the whole run (orchestration/locking.py).
    warehouse = LockedWarehouse(
        path=str(settings.warehouse_path),
        landing_dir=str(settings.landing_dir),
        serving_path=str(settings.serving_path),
        exports_dir=str(settings.exports_dir),
        reports_dir=str(settings.reports_dir),
        gross_margin=settings.gross_margin,
        engine=settings.engine,
        memory_limit=settings.memory_limit,
        threads=settings.threads,
        temp_directory=settings.temp_directory,
        **LockedWarehouse.bad_input_fields(settings.instant_bounds, settings.max_line_bytes),
    )
    domain_assets = dg.load_assets_from_package_module(assets)
    # dbt runs the SQL models (sql/): one `dbt build` per run (orchestration/assets/dbt_models.py)
    resources: dict = {"warehouse": warehouse, "dbt": dbt_resource()}
    if settings.stripe_api_key_env:  # a Stripe key is configured: pull before the files load
        domain_assets = with_stripe_import(domain_assets)
        resources["stripe_api"] = StripeApi(api_key=dg.EnvVar(settings.stripe_api_key_env),
                                            api_base=settings.stripe_api_base, key_source=settings.stripe_api_key_env)
    # Publishing is the last step of every run: it depends on every other asset (marts, report, CRM export,
    # and whatever is added later), so a run in which any of them fails publishes nothing.
    built_keys = [key for a in domain_assets if isinstance(a, dg.AssetsDefinition) for key in a.keys]
    # Automation follows only the runs on this warehouse (orchestration/instance.py).
    bound = dg.map_asset_specs(
        lambda spec: spec if spec.automation_condition is None else spec.replace_attributes(
            automation_condition=for_warehouse(spec.automation_condition, settings.warehouse_path)),
        [*domain_assets, serving_asset(built_keys)],
    )
    return dg.Definitions(
        assets=bound,
        asset_checks=[
            *dg.load_asset_checks_from_package_module(assets),
            *dg.load_asset_checks_from_modules([checks]),
        ],
        resources=resources,
        loggers={"console": console_logger},  # failures in one line on a terminal (orchestration/console.py)
        sensors=[build_landing_sensor(settings),
                 build_automation_sensor(run_tags(settings.landing_dir, settings.warehouse_path))],
        schedules=[build_daily_schedule(settings)],
        # One process writes the DuckDB file; steps run one after another inside it.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
