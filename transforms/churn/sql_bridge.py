"""Transitional, until the dbt project (issue 19) runs the models: build the churn dbt models
(sql/models/intermediate/churn_*.sql) with plain DuckDB. Their Jinja is small: a config block, incremental
filters, ref(), source() and the money macro; rendered here, and built in full once, then incrementally.
Delete this module (and its asset) once dbt builds them."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

MODELS_DIR = Path(__file__).resolve().parents[2] / "sql" / "models" / "intermediate"
CHURN_MODELS = ("churn_usage_monthly", "churn_features", "churn_outcomes")
SCHEMAS = {"calendar": "staging", "subscription_events": "staging", "subscription_mrr_monthly": "intermediate",
           "subscription_periods": "intermediate", **{name: "intermediate" for name in CHURN_MODELS}}


def render(text: str, this: str | None = None) -> str:
    """Plain SQL of a model; with `this` (the existing table), its incremental filters kept."""
    text = re.sub(r"\{\{\s*config\(.*?\)\s*\}\}", "", text, flags=re.S)
    if this is None:
        text = re.sub(r"\{%\s*if is_incremental\(\)\s*%\}.*?\{%\s*endif\s*%\}", "", text, flags=re.S)
    else:
        text = re.sub(r"\{%\s*if is_incremental\(\)\s*%\}(.*?)\{%\s*endif\s*%\}", r"\1", text, flags=re.S)
        text = re.sub(r"\{\{\s*this\s*\}\}", this, text)
    text = re.sub(r"\{\{\s*ref\('(\w+)'\)\s*\}\}", lambda m: f"{SCHEMAS[m[1]]}.{m[1]}", text)
    text = re.sub(r"\{\{\s*source\('raw',\s*'(\w+)'\)\s*\}\}", lambda m: f"raw.{m[1]}", text)
    return re.sub(r'\{\{\s*monthly_usd_from_annual\("(.*?)"\)\s*\}\}', r"monthly_usd_from_annual(\1)", text)


def build_churn_models(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Build the three churn tables in order, as dbt would: in full the first time, then incrementally
    (delete+insert of the keys the model's incremental filter selects); return their row counts."""
    counts = {}
    for name in CHURN_MODELS:
        table = f"intermediate.{name}"
        text = (MODELS_DIR / f"{name}.sql").read_text(encoding="utf-8")
        exists = con.sql("select count(*) from information_schema.tables where table_schema = 'intermediate' "
                         "and table_name = $1", params=[name]).fetchall()[0][0]
        if not exists:
            con.execute(f"create table {table} as {render(text)}")
        else:
            key = re.search(r"unique_key=\['(\w+)'\]", text)[1]
            con.execute("begin transaction")
            try:
                con.execute(f"create or replace temp table churn_bridge_rows as {render(text, this=table)}")
                con.execute(f"delete from {table} where {key} in (select {key} from churn_bridge_rows)")
                con.execute(f"insert into {table} by name select * from churn_bridge_rows")
                con.execute("drop table churn_bridge_rows")
                con.execute("commit")
            except BaseException:
                con.execute("rollback")
                raise
        counts[name] = con.sql(f"select count(*) from {table}").fetchall()[0][0]
    return counts
