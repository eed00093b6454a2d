"""The Dagster definitions load, and a full materialization runs on the committed sample."""

from pathlib import Path

import dagster as dg

from orchestration.definitions import build_definitions
from orchestration.settings import REPO_ROOT, Settings
from tests.support.dbt import dbt_materialization
from transforms.reconciliation import waterfall_breaks
from transforms.sql_models import connect

SAMPLE = REPO_ROOT / "sample_data" / "landing"

# docs/tables.md: the public interface for BI tools. Adding columns is fine; renaming one fails here.
SPEC_TABLES = {
    "marts.accounts": "account_id account_name segment country sales_owner currency plan_id mrr first_paid_month status",
    "marts.account_mrr_monthly": "account_id month mrr plan_id",
    "marts.mrr_movements": "account_id month movement prev_mrr mrr mrr_change",
    "marts.mrr_waterfall": "month opening_mrr new_mrr expansion_mrr reactivation_mrr contraction_mrr churned_mrr "
                           "fx_adjustment closing_mrr opening_customers new_customers reactivated_customers "
                           "churned_customers closing_customers",
    "marts.mrr_waterfall_by_segment": "month dimension dimension_value opening_mrr new_mrr expansion_mrr reactivation_mrr "
                                      "contraction_mrr churned_mrr fx_adjustment closing_mrr closing_customers",
    "marts.mrr_by_plan": "month plan_id mrr customers",
    "marts.saas_metrics_monthly": "month mrr arr customers arpa logo_churn_rate gross_mrr_churn_rate net_mrr_churn_rate "
                                  "nrr grr nrr_12m grr_12m quick_ratio ltv",
    "marts.cohort_retention": "cohort_month months_since_start cohort_customers active_customers logo_retention "
                              "cohort_starting_mrr mrr revenue_retention",
    "marts.cohort_ltv": "cohort_month months_since_start cumulative_revenue_per_customer",
    "marts.upsell_opportunities": "account_id as_of plan_id mrr recommended_plan_id expected_mrr_uplift score reasons "
                                  "sales_owner contact_on timing_reason",
    "marts.churn_risk_accounts": "account_id as_of mrr reasons churn_probability expected_mrr_at_risk "
                                 "recommended_action",
    # issue 16: the journey, the contact day and the churn model's figures
    "marts.account_journey": "account_id as_of stage stage_since contact_on timing_reason",
    "raw.subscription_events": "event_id event_type occurred_at account_id source_file ingested_at",
    "raw.billing_events": "event_id event_type occurred_at account_id invoice_id amount currency source_file ingested_at",
    "raw.usage_events": "event_id event_type occurred_at account_id metric quantity source_file ingested_at",
    "raw.quarantine": "source_file line_number raw reason",
}


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
    waterfall_materialization = dbt_materialization(result, "marts.mrr_waterfall")
    assert waterfall_materialization.metadata["dagster/row_count"].value >= 12
    con = connect(settings.warehouse_path, read_only=True)
    assert waterfall_breaks(con) == []
    assert con.sql("select count(*) from raw.quarantine").fetchall() == [(0,)]
    comment = con.sql("select comment from duckdb_columns() where schema_name = 'marts' and table_name = 'mrr_waterfall'"
                      " and column_name = 'fx_adjustment'").fetchall()[0][0]
    assert "FX" in comment
    for table, columns in SPEC_TABLES.items():
        schema, name = table.split(".")
        described = dict(con.execute(
            "select column_name, comment from duckdb_columns() where schema_name = ? and table_name = ?", [schema, name]
        ).fetchall())
        assert set(columns.split()) <= set(described), (table, set(columns.split()) - set(described))
        if schema == "marts":
            assert all(described.values()), (table, [c for c, text in described.items() if not text])
    money = dict(con.sql("select column_name, data_type from duckdb_columns() where schema_name = 'marts' "
                         "and table_name = 'saas_metrics_monthly'").fetchall())
    assert money["mrr"].startswith("DECIMAL") and money["arpa"].startswith("DECIMAL") and money["month"] == "DATE"
