"""The SQL models as Dagster assets (orchestration/assets/dbt_models.py): the keys, groups and inputs the rest
of the pipeline names, and a failed model reported in one line."""

import dagster as dg

from orchestration.assets.dbt_models import dbt_models, dbt_resource
from orchestration.resources import Warehouse
from transforms.dbt_project import model_docs
from transforms.sql_models import connect


def test_every_model_is_an_asset_keyed_by_its_table_reading_raw_by_the_ingestion_keys():
    specs = {spec.key: spec for spec in dbt_models.specs}
    assert set(specs) == {dg.AssetKey(name.split(".")) for name in model_docs()}
    calendar = specs[dg.AssetKey(["staging", "calendar"])]
    assert {dep.asset_key for dep in calendar.deps} == {dg.AssetKey(["raw", s]) for s in
                                                        ("subscription_events", "billing_events", "usage_events")}
    assert calendar.group_name == "mrr" and calendar.description == model_docs()["staging.calendar"].description
    assert specs[dg.AssetKey(["marts", "cohort_ltv"])].group_name == "metrics"
    assert specs[dg.AssetKey(["intermediate", "account_usage_windows"])].group_name == "sales"
    columns = specs[dg.AssetKey(["marts", "mrr_waterfall"])].metadata["dagster/column_schema"].columns
    assert {c.name: c.description for c in columns} == model_docs()["marts.mrr_waterfall"].columns


def test_a_failed_model_names_itself_and_dbts_error(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    connect(path).close()  # no raw tables: the calendar cannot be built
    resource = Warehouse(path=str(path), landing_dir=str(tmp_path), serving_path=str(tmp_path / "serving.duckdb"),
                         exports_dir=str(tmp_path / "exports"), reports_dir=str(tmp_path / "reports"))
    result = dg.materialize([dbt_models], selection=[dg.AssetKey(["staging", "calendar"])],
                            resources={"warehouse": resource, "dbt": dbt_resource()}, raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "dbt build failed: staging.calendar: " in message and "subscription_events does not exist" in message
