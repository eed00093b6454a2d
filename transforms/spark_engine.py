"""The dbt project run on Apache Spark instead of DuckDB (SUBWH_ENGINE=spark, docs/spark.md). No Dagster here.

Ingestion stays in Python and DuckDB whatever the engine: it validates every landed line and appends to the
raw tables of the warehouse file. A run on Spark then
1. exports the raw tables the models read (the `raw` source of sql/models/staging/_sources.yml) to Parquet,
   one folder per table (`export_raw`);
2. runs the same `dbt build` with `--target spark` (sql/profiles.yml) and the folder in `--vars`: the
   project's on-run-start hook (sql/macros/spark_raw_tables.sql) declares the folders as the Spark tables
   `raw.*` before any model runs; every model is rebuilt in full (restating keys is DuckDB's);
3. brings every table Spark wrote back into the warehouse file under the same schema and name
   (`import_models`), so what reads them downstream (sales lists, report, serving) runs unchanged, and
   forgets how DuckDB last built them (the next DuckDB run, and the serving file, take them whole).

With the `session` method of the profile, Spark runs inside dbt's process: in local mode on this machine, or
as the driver of a cluster named by SUBWH_SPARK_MASTER (spark://host:7077), when the Spark folder is on
storage every node sees. Spark's catalog lives in memory for the run; its tables are Parquet folders under
`<spark folder>/tables/<schema>.db/<table>`, which is all step 3 reads.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path

import duckdb

ENGINES = ("duckdb", "spark")
SPARK_TARGET = "spark"
# The raw tables the models read (the `raw` source, sql/models/staging/_sources.yml; a test holds them equal)
RAW_TABLES = ("subscription_events", "billing_events", "usage_events", "plans", "fx_rates")
MODEL_SCHEMAS = ("staging", "intermediate", "marts")


def spark_folder(warehouse_path: str | Path) -> Path:
    """Where a Spark run on this warehouse keeps its files: beside it, as its Dagster home is."""
    return Path(f"{Path(warehouse_path).resolve()}.spark")


def raw_folder(folder: Path) -> Path:
    return folder / "raw"


def tables_folder(folder: Path) -> Path:
    """Spark's warehouse directory (spark.sql.warehouse.dir): one Parquet folder per table it builds."""
    return folder / "tables"


def environment(folder: Path) -> dict[str, str]:
    """The variables the `spark` target of sql/profiles.yml reads for a run whose files live in `folder`."""
    return {"SUBWH_SPARK_WAREHOUSE_DIR": str(tables_folder(folder))}


def dbt_vars(gross_margin: str, folder: Path) -> dict[str, str]:
    """The project variables of a Spark run: the run's own (gross margin) and where the raw Parquet is."""
    return {"gross_margin": str(gross_margin), "raw_parquet_dir": str(raw_folder(folder))}


def dbt_arguments(gross_margin: str, folder: Path) -> list[str]:
    """What a `dbt build` on Spark adds to the command line. dbt's unit tests (the hand-worked stories,
    SQL logic on fixed rows) run on DuckDB only: on Spark each is a job that costs seconds, and the data
    tests still run on every table Spark builds."""
    return ["--target", SPARK_TARGET, "--vars", json.dumps(dbt_vars(gross_margin, folder)),
            "--exclude-resource-type", "unit_test"]


def prepare(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, int]:
    """Before dbt runs: the raw tables exported afresh, and no table left from an earlier Spark run (every
    model is rebuilt, and a model removed since must not come back). Returns rows exported per table."""
    shutil.rmtree(tables_folder(folder), ignore_errors=True)
    tables_folder(folder).mkdir(parents=True)
    return export_raw(con, raw_folder(folder))


def export_raw(con: duckdb.DuckDBPyConnection, folder: Path, tables: Iterable[str] = RAW_TABLES) -> dict[str, int]:
    """Each raw table to `folder/<table>/part-0.parquet` (replacing what was there); rows per table."""
    rows = {}
    for table in tables:
        target = folder / table
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        path = str(target / "part-0.parquet").replace("'", "''")
        con.execute(f"copy (select * from raw.{table}) to '{path}' (format parquet)")
        rows[table] = con.execute(f"select count(*) from raw.{table}").fetchone()[0]
    return rows


def built_tables(folder: Path) -> list[tuple[str, str, Path]]:
    """(schema, table, Parquet folder) of every model table Spark built in the run's folder."""
    found = []
    for schema in MODEL_SCHEMAS:
        schema_dir = tables_folder(folder) / f"{schema}.db"
        if schema_dir.is_dir():
            found.extend((schema, d.name, d) for d in sorted(schema_dir.iterdir())
                         if d.is_dir() and any(d.glob("*.parquet")))
    return found


def import_models(con: duckdb.DuckDBPyConnection, folder: Path,
                  descriptions: dict[str, tuple[str, dict[str, str]]] | None = None) -> list[str]:
    """Every table Spark built replaces the warehouse's table of the same schema and name, in one
    transaction. Spark writes its TIMESTAMPs as instants (Parquet's UTC-adjusted timestamps): they come back
    as the warehouse's TIMESTAMP, UTC, with no offset. `descriptions` (qualified name -> table description
    and column descriptions) are put back as comments, as dbt's persist_docs does on DuckDB. Returns the
    qualified names imported."""
    imported = []
    con.execute("begin transaction")
    try:
        for schema, table, path in built_tables(folder):
            source = "read_parquet('{}')".format(str(path / "*.parquet").replace("'", "''"))
            columns = con.execute(f"select column_name, column_type from (describe select * from {source})").fetchall()
            select = ", ".join(
                f"timezone('UTC', {_quoted(name)}) as {_quoted(name)}" if kind == "TIMESTAMP WITH TIME ZONE"
                else _quoted(name)
                for name, kind in columns
            )
            con.execute(f"create schema if not exists {schema}")
            con.execute(f"drop view if exists {schema}.{table}")
            con.execute(f"create or replace table {schema}.{table} as select {select} from {source}")
            qualified = f"{schema}.{table}"
            description, column_descriptions = (descriptions or {}).get(qualified, ("", {}))
            if description:
                con.execute(f"comment on table {qualified} is {_literal(description)}")
            for name, _ in columns:
                if column_descriptions.get(name):
                    con.execute(f"comment on column {qualified}.{_quoted(name)} is "
                                f"{_literal(column_descriptions[name])}")
            imported.append(qualified)
        forget_builds(con, imported)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return imported


def forget_builds(con: duckdb.DuckDBPyConnection, tables: list[str]) -> None:
    """The warehouse's record of how its incremental tables were built (pipeline.model_builds and
    model_changes, "schema/table") no longer describes tables Spark replaced: forgotten, so the next DuckDB
    run rebuilds them in full and the serving file copies them whole instead of updating the keys the
    record names."""
    present = {r[0] for r in con.execute(
        "select table_name from duckdb_tables() where database_name = current_database() "
        "and schema_name = 'pipeline'").fetchall()}
    models = [name.replace(".", "/", 1) for name in tables]
    for record in ("model_builds", "model_changes"):
        if record in present and models:
            con.execute(f"delete from pipeline.{record} where model in ({', '.join('?' for _ in models)})", models)


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
