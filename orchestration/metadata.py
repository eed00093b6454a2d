"""Turn what a model or load left behind into Dagster metadata (row counts, previews, column schemas)."""

from __future__ import annotations

import math
from collections.abc import Callable

import dagster as dg
import duckdb
import polars as pl

from transforms.sql_models import TableSummary

# Extra metadata an asset attaches after its table was built (charts, headline numbers): connection -> metadata.
MetadataHook = Callable[[duckdb.DuckDBPyConnection], dict]


def table_key(qualified_name: str) -> dg.AssetKey:
    """`marts.mrr_waterfall` -> AssetKey(["marts", "mrr_waterfall"]): keys mirror where the data lives."""
    return dg.AssetKey(qualified_name.split("."))


def column_schema(columns: list[tuple[str, str, str | None]]) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(name, data_type.lower(), description=comment or None) for name, data_type, comment in columns]
    )


def table_metadata(summary: TableSummary, **extra) -> dict:
    preview = (frame_table(summary.preview) if summary.preview is not None
               else dg.MetadataValue.md(summary.preview_markdown))
    return {
        "dagster/row_count": dg.MetadataValue.int(summary.row_count),
        "dagster/column_schema": column_schema(summary.columns),
        "dagster/table_name": summary.qualified_name,
        "preview": preview,
        **extra,
    }


def frame_table(frame: pl.DataFrame) -> dg.TableMetadataValue:
    """Rows as a table metadata value: the Dagster UI shows it inline on the asset's page, where Markdown
    longer than 1,000 characters (a preview of ten rows, a chart) hides behind "[Show Markdown]". Money
    and dates are shown as text, exactly as stored (no float rounding of cents)."""
    def cell(value):
        if value is None or isinstance(value, bool | int | str):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else str(value)
        return str(value)  # Decimal, date, datetime, lists

    return dg.MetadataValue.table(
        records=[dg.TableRecord({name: cell(value) for name, value in row.items()})
                 for row in frame.iter_rows(named=True)],
        schema=dg.TableSchema(columns=[dg.TableColumn(name, str(dtype).lower())
                                       for name, dtype in frame.schema.items()]),
    )
