"""The raw schema's tables: one per event stream (the contract's columns plus where each row came from),
the quarantine, the log of loaded files, and the two reference tables; created, upgraded and described."""

from __future__ import annotations

import duckdb

from transforms.core.sql_text import sql_string
from transforms.core.sql_types import FX_RATE
from transforms.ingestion import landed_state
from transforms.ingestion.event_schema import QUARANTINE_REASONS, STREAMS, stream_fields


def ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    for stream in STREAMS:
        columns = ",\n".join(f"{f.name} {f.sql_type}" for f in stream_fields(stream))
        con.execute(
            f"""create table if not exists raw.{stream} (
                {columns},
                source_file varchar,
                line_number bigint,
                ingested_at timestamp
            )"""
        )
        _add_missing_columns(con, stream)
    con.execute(
        """create table if not exists raw.quarantine (
            source_file varchar, line_number bigint, raw varchar, reason varchar, detail varchar,
            stream varchar, quarantined_at timestamp
        )"""
    )
    con.execute(
        """create table if not exists raw.loaded_files (
            source_file varchar, stream varchar, rows_read bigint, rows_loaded bigint,
            rows_duplicate bigint, rows_quarantined bigint, loaded_at timestamp
        )"""
    )
    landed_state.ensure_signature_columns(con)
    con.execute(
        """create table if not exists raw.plans (
            plan_id varchar, plan_name varchar, tier_rank integer, seat_limit bigint,
            api_call_limit bigint, list_price_monthly decimal(18, 6), source_file varchar, ingested_at timestamp
        )"""
    )
    con.execute(
        f"""create table if not exists raw.fx_rates (
            month date, currency varchar, usd_per_unit {FX_RATE}, source_file varchar, ingested_at timestamp
        )"""
    )
    _document_raw_tables(con)


def _add_missing_columns(con: duckdb.DuckDBPyConnection, stream: str) -> None:
    """A warehouse made before a field joined the contract (discount_amount, interval_count) gains it: NULL
    in the rows loaded before, as in an event that left it out. The table is copied once in the contract's
    column order, so an upgraded warehouse has the same columns in the same order as a new one."""
    have = {r[0] for r in con.execute(
        "select column_name from duckdb_columns() where database_name = current_database() "
        "and schema_name = 'raw' and table_name = ?", [stream]).fetchall()}
    fields = stream_fields(stream)
    if all(f.name in have for f in fields):
        return
    columns = ", ".join(
        (f.name if f.name in have else f"null::{f.sql_type} as {f.name}") for f in fields)
    con.execute("begin transaction")
    try:
        con.execute(f"create table raw.{stream}__upgraded as select {columns}, source_file, line_number, "
                    f"ingested_at from raw.{stream}")
        con.execute(f"drop table raw.{stream}")
        con.execute(f"alter table raw.{stream}__upgraded rename to {stream}")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _document_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    provenance = {
        "source_file": "Landed file the row came from, relative to the landing folder.",
        "line_number": "Line of the row in its file (1-based; for CSV the header is line 1).",
        "ingested_at": "When the row was loaded, UTC.",
    }
    for stream in STREAMS:
        table = f"raw.{stream}"
        con.execute(f"comment on table {table} is 'Every accepted {stream[:-1].replace('_', ' ')}, as landed (docs/input-format.md), typed; UTC.'")
        for f in stream_fields(stream):
            if f.description:
                con.execute(f"comment on column {table}.{f.name} is {sql_string(f.description)}")
        for column, text in provenance.items():
            con.execute(f"comment on column {table}.{column} is {sql_string(text)}")
    con.execute("comment on table raw.quarantine is 'Rows rejected at load with the reason; nothing is dropped silently.'")
    reasons = "; ".join(f"{k}: {v}" for k, v in QUARANTINE_REASONS.items())
    con.execute(f"comment on column raw.quarantine.reason is {sql_string(reasons)}")
    con.execute("comment on column raw.quarantine.raw is 'The rejected line exactly as landed.'")
    con.execute("comment on column raw.quarantine.detail is 'Which field was wrong and how.'")
    con.execute("comment on table raw.loaded_files is 'Files already loaded: a later run skips them.'")
    con.execute("comment on table raw.plans is 'reference/plans.csv: plan tiers with seat and API-call limits per month.'")
    con.execute("comment on column raw.plans.list_price_monthly is 'USD per seat per month.'")
    con.execute("comment on table raw.fx_rates is 'reference/fx_rates.csv: USD per unit of each currency, by month.'")

