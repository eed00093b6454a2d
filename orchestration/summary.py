"""The short summary `subwh run` prints: where the warehouse is and what it now says."""

from __future__ import annotations

from orchestration.settings import Settings
from transforms.core.formatting import money_cents
from transforms.ingestion import HEAL_COMMAND, STRICT_JSON_RULES
from transforms.sql_models import connect


def print_run_summary(settings: Settings) -> None:
    con = connect(settings.warehouse_path, read_only=True)
    try:
        months, first, last = con.sql("select count(*), min(month), max(month) from marts.mrr_waterfall").fetchall()[0]
        latest = con.sql(
            "select closing_mrr, closing_customers from marts.mrr_waterfall order by month desc limit 1"
        ).fetchall()
        reasons = con.sql("select reason, count(*) from raw.quarantine group by all order by 2 desc, 1").fetchall()
        accounts = con.sql("select count(*) from marts.accounts").fetchall()[0][0]
        # tables loaded before lines were held to strict JSON (transforms/ingestion/instant_bounds.py)
        stale = [f"raw.{r[0]}" for r in con.sql(
            f"select stream from raw.validation_rules where line_rules < {STRICT_JSON_RULES} order by 1"
        ).fetchall()] if _has_table(con, "raw", "validation_rules") else []
    finally:
        con.close()
    closing_mrr, customers = latest[0] if latest else (0, 0)
    print(f"months:            {months} ({first} .. {last})")
    print(f"closing MRR:       {money_cents(closing_mrr)} (USD, {last})")
    print(f"active customers:  {customers} of {accounts} accounts")
    quarantined = sum(n for _, n in reasons)
    why = "".join(f", {reason} {n:,}" for reason, n in reasons[:3]) + (", ..." if len(reasons) > 3 else "")
    print(f"rows quarantined:  {quarantined:,}{why}" + (" (meta.quarantine in the serving file)" if quarantined else ""))
    if stale:
        print(f"to heal:           {', '.join(stale)} hold rows loaded before lines were held to strict JSON; "
              f"`{HEAL_COMMAND}` reloads them under today's rules")


def _has_table(con, schema: str, table: str) -> bool:
    return con.execute("select count(*) from duckdb_tables() where schema_name = ? and table_name = ?",
                       [schema, table]).fetchall()[0][0] > 0
