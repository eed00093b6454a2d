"""The Dagster definitions load, and a full materialization runs on the committed sample."""

from pathlib import Path

import dagster as dg

from orchestration.definitions import build_definitions
from orchestration.settings import REPO_ROOT, Settings
from transforms.reconciliation import waterfall_breaks
from transforms.sql_models import connect

SAMPLE = REPO_ROOT / "sample_data" / "landing"


def settings_for(tmp_path: Path, landing: Path = SAMPLE) -> Settings:
    warehouse = tmp_path / "warehouse.duckdb"
    return Settings(landing_dir=landing, warehouse_path=warehouse, serving_path=tmp_path / "serving.duckdb",
                    exports_dir=tmp_path / "exports", reports_dir=tmp_path / "reports")


def test_definitions_load_with_groups_and_descriptions(tmp_path):
    defs = build_definitions(settings_for(tmp_path))
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for expected in ["raw/subscription_events", "raw/billing_events", "raw/usage_events", "raw/plans", "raw/fx_rates",
                     "marts/accounts", "marts/account_mrr_monthly", "marts/mrr_movements", "marts/mrr_waterfall"]:
        assert expected in keys
    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    assert specs["raw/usage_events"].group_name == "ingestion"
    assert specs["marts/mrr_waterfall"].group_name == "mrr"
    assert all(spec.description for spec in specs.values()), [k for k, s in specs.items() if not s.description]
    schema = specs["marts/mrr_waterfall"].metadata["dagster/column_schema"]
    assert {c.name for c in schema.columns} >= {"month", "opening_mrr", "fx_adjustment", "closing_mrr"}
    assert all(c.description for c in schema.columns)


def test_full_materialization_on_the_committed_sample(tmp_path):
    settings = settings_for(tmp_path)
    defs = build_definitions(settings)
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    checks = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
              for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert checks["mrr_waterfall_reconciles"] is True
    waterfall_materialization = result.asset_materializations_for_node("marts__mrr_waterfall")[0]
    assert waterfall_materialization.metadata["dagster/row_count"].value >= 12
    con = connect(settings.warehouse_path, read_only=True)
    assert waterfall_breaks(con) == []
    assert con.sql("select count(*) from raw.quarantine").fetchall() == [(0,)]
    comment = con.sql("select comment from duckdb_columns() where schema_name = 'marts' and table_name = 'mrr_waterfall'"
                      " and column_name = 'fx_adjustment'").fetchall()[0][0]
    assert "FX" in comment
