"""Transitional, until the dbt project (issue 19) runs the models: build the churn dbt models
(sql/models/intermediate/churn_*.sql) with plain DuckDB. Their Jinja is small: a config block, incremental
filters, ref(), source() and the money macro; rendered here for a full rebuild of each table.
Delete this module (and its asset) once dbt builds them."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

MODELS_DIR = Path(__file__).resolve().parents[2] / "sql" / "models" / "intermediate"
CHURN_MODELS = ("churn_usage_monthly", "churn_features", "churn_outcomes")
SCHEMAS = {"calendar": "staging", "subscription_events": "staging", "subscription_mrr_monthly": "intermediate",
           "subscription_periods": "intermediate", **{name: "intermediate" for name in CHURN_MODELS}}


def render(text: str) -> str:
    text = re.sub(r"\{\{\s*config\(.*?\)\s*\}\}", "", text, flags=re.S)
    text = re.sub(r"\{%\s*if is_incremental\(\)\s*%\}.*?\{%\s*endif\s*%\}", "", text, flags=re.S)
    text = re.sub(r"\{\{\s*ref\('(\w+)'\)\s*\}\}", lambda m: f"{SCHEMAS[m[1]]}.{m[1]}", text)
    text = re.sub(r"\{\{\s*source\('raw',\s*'(\w+)'\)\s*\}\}", lambda m: f"raw.{m[1]}", text)
    return re.sub(r'\{\{\s*monthly_usd_from_annual\("(.*?)"\)\s*\}\}', r"monthly_usd_from_annual(\1)", text)


def build_churn_models(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rebuild the three churn tables in order; return their row counts."""
    counts = {}
    for name in CHURN_MODELS:
        sql = render((MODELS_DIR / f"{name}.sql").read_text(encoding="utf-8"))
        con.execute(f"create or replace table intermediate.{name} as {sql}")
        counts[name] = con.sql(f"select count(*) from intermediate.{name}").fetchall()[0][0]
    return counts
