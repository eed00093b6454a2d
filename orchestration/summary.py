"""The short summary `subwh run` prints: where the warehouse is and what it now says."""

from __future__ import annotations

from orchestration.settings import Settings
from transforms.sql_models import connect


def print_run_summary(settings: Settings) -> None:
    con = connect(settings.warehouse_path, read_only=True)
    try:
        months, first, last = con.sql("select count(*), min(month), max(month) from marts.mrr_waterfall").fetchall()[0]
        latest = con.sql(
            "select closing_mrr, closing_customers from marts.mrr_waterfall order by month desc limit 1"
        ).fetchall()
        quarantined = con.sql("select count(*) from raw.quarantine").fetchall()[0][0]
        accounts = con.sql("select count(*) from marts.accounts").fetchall()[0][0]
    finally:
        con.close()
    closing_mrr, customers = latest[0] if latest else (0, 0)
    print(f"months:            {months} ({first} .. {last})")
    print(f"closing MRR:       ${closing_mrr:,.2f} (USD, {last})")
    print(f"active customers:  {customers} of {accounts} accounts")
    print(f"rows quarantined:  {quarantined} (see raw.quarantine)")
