"""Turn what a model or load left behind into Dagster metadata (row counts, previews, column schemas)."""

from __future__ import annotations

import dagster as dg

from transforms.sql_models import TableSummary, load_model


def column_schema(columns: list[tuple[str, str, str | None]]) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(name, data_type.lower(), description=comment or None) for name, data_type, comment in columns]
    )


def table_metadata(summary: TableSummary, **extra) -> dict:
    return {
        "dagster/row_count": dg.MetadataValue.int(summary.row_count),
        "dagster/column_schema": column_schema(summary.columns),
        "dagster/table_name": summary.qualified_name,
        "preview": dg.MetadataValue.md(summary.preview_markdown),
        **extra,
    }


def declared_schema(model_name: str) -> dg.TableSchema:
    """The column schema a model's header declares: shown in the UI before the first materialization."""
    model = load_model(model_name)
    return dg.TableSchema(
        columns=[dg.TableColumn(name, "", description=text) for name, text in model.column_descriptions.items()]
    )
