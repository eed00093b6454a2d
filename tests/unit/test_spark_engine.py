"""What a Spark run does around dbt, without Spark (transforms/spark_engine.py, docs/spark.md): the raw tables
out to Parquet, the tables Spark wrote back into the warehouse, and the SUBWH_ENGINE setting."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import duckdb
import pytest
import yaml

from orchestration.settings import Settings, SettingsError
from transforms import dbt_project, spark_engine


def test_the_raw_tables_exported_are_the_models_raw_source():
    sources = yaml.safe_load((dbt_project.PROJECT_DIR / "models" / "staging" / "_sources.yml").read_text())
    raw = next(s for s in sources["sources"] if s["name"] == "raw")
    assert sorted(spark_engine.RAW_TABLES) == sorted(t["name"] for t in raw["tables"])


def test_export_raw_writes_one_parquet_folder_per_table(tmp_path):
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute("create table raw.plans as select 'pro' as plan_id, 2 as tier_rank")
    con.execute("create table raw.fx_rates as select date '2024-01-01' as month, 'EUR' as currency, "
                "1.0850000000::decimal(18, 10) as usd_per_unit")
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "stale.parquet").write_text("left by an earlier run")

    rows = spark_engine.export_raw(con, tmp_path, tables=("plans", "fx_rates"))

    assert rows == {"plans": 1, "fx_rates": 1}
    assert sorted(p.name for p in (tmp_path / "plans").iterdir()) == ["part-0.parquet"]
    assert con.execute(f"select * from read_parquet('{tmp_path}/fx_rates/*.parquet')").fetchall() == [
        (datetime(2024, 1, 1).date(), "EUR", Decimal("1.0850000000"))]


def _spark_output(folder, schema, table, sql):
    """A table as Spark leaves it: a folder of Parquet part files under <schema>.db/."""
    path = spark_engine.tables_folder(folder) / f"{schema}.db" / table
    path.mkdir(parents=True)
    writer = duckdb.connect()
    writer.execute("set TimeZone = 'UTC'")
    writer.execute(f"copy ({sql}) to '{path / 'part-00000.parquet'}' (format parquet)")
    (path / "_SUCCESS").write_text("")


def test_import_models_replaces_the_warehouse_tables_with_spark_s(tmp_path):
    folder = tmp_path / "warehouse.duckdb.spark"
    # Spark writes its TIMESTAMPs as instants: read back as TIMESTAMP WITH TIME ZONE
    _spark_output(folder, "intermediate", "scheduled_cancellations",
                  "select 'acc_1' as account_id, timestamptz '2025-03-01 00:00:00+00' as cancels_at, "
                  "12.34::decimal(18, 2) as mrr")
    _spark_output(folder, "marts", "mrr_waterfall", "select date '2025-03-01' as month, 5 as new_customers")
    _spark_output(folder, "default", "scratch", "select 1 as x")  # not a model schema: left alone
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("set TimeZone = 'America/New_York'")  # the session's time zone plays no part
    con.execute("create schema marts")
    con.execute("create view marts.mrr_waterfall as select 1 as month")  # what a DuckDB run left

    imported = spark_engine.import_models(con, folder, descriptions={
        "marts.mrr_waterfall": ("The monthly MRR waterfall.", {"new_customers": "Accounts with a new movement."})})

    assert imported == ["intermediate.scheduled_cancellations", "marts.mrr_waterfall"]
    assert con.execute("select * from intermediate.scheduled_cancellations").fetchall() == [
        ("acc_1", datetime(2025, 3, 1), Decimal("12.34"))]
    assert con.execute("select data_type from duckdb_columns() where table_name = 'scheduled_cancellations' "
                       "and column_name = 'cancels_at'").fetchone() == ("TIMESTAMP",)
    assert con.execute("select table_type, comment from information_schema.tables t join duckdb_tables() d "
                       "on d.table_name = t.table_name where t.table_name = 'mrr_waterfall'").fetchall() == [
        ("BASE TABLE", "The monthly MRR waterfall.")]
    assert con.execute("select comment from duckdb_columns() where table_name = 'mrr_waterfall' "
                       "and column_name = 'new_customers'").fetchone() == ("Accounts with a new movement.",)
    assert con.execute("select count(*) from duckdb_tables() where schema_name = 'default'").fetchone() == (0,)


def test_import_models_forgets_how_duckdb_built_the_tables_spark_replaced(tmp_path):
    """A serving file updated key by key from DuckDB's record would keep rows Spark's tables no longer have."""
    folder = tmp_path / "w.duckdb.spark"
    _spark_output(folder, "marts", "accounts", "select 'acc_1' as account_id")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema pipeline")
    con.execute("create table pipeline.model_builds as select * from (values ('marts/accounts', 1), "
                "('marts/mrr_movements', 1)) as t(model, build_id)")
    con.execute("create table pipeline.model_changes as select * from (values ('marts/accounts', 'acc_9'), "
                "('marts/mrr_movements', 'acc_9')) as t(model, key_value)")

    spark_engine.import_models(con, folder)

    assert con.execute("select model from pipeline.model_builds").fetchall() == [("marts/mrr_movements",)]
    assert con.execute("select model from pipeline.model_changes").fetchall() == [("marts/mrr_movements",)]


def test_prepare_empties_what_an_earlier_spark_run_built(tmp_path):
    folder = tmp_path / "w.duckdb.spark"
    _spark_output(folder, "marts", "a_model_since_removed", "select 1 as x")
    con = duckdb.connect()
    con.execute("create schema raw")
    for table in spark_engine.RAW_TABLES:
        con.execute(f"create table raw.{table} (x integer)")

    spark_engine.prepare(con, folder)

    assert spark_engine.built_tables(folder) == []
    assert sorted(p.name for p in spark_engine.raw_folder(folder).iterdir()) == sorted(spark_engine.RAW_TABLES)


def test_the_engine_setting():
    assert Settings.from_env({}).engine == "duckdb"
    assert Settings.from_env({"SUBWH_ENGINE": "DuckDB"}).engine == "duckdb"
    with pytest.raises(SettingsError, match=r"^SUBWH_ENGINE='presto' must be duckdb or spark$"):
        Settings.from_env({"SUBWH_ENGINE": "presto"})


def test_spark_arguments_name_the_target_and_the_raw_folder(tmp_path):
    arguments = spark_engine.dbt_arguments("0.8", tmp_path)
    assert arguments[:2] == ["--target", "spark"]
    assert arguments[4:] == ["--exclude-resource-type", "unit_test"]
    assert yaml.safe_load(arguments[3]) == {"gross_margin": "0.8", "raw_parquet_dir": str(tmp_path / "raw")}
    assert spark_engine.environment(tmp_path) == {"SUBWH_SPARK_WAREHOUSE_DIR": str(tmp_path / "tables")}
