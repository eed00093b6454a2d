"""What the Dagster UI shows on an asset's page without a click: tables (previews, top-10 lists, KPIs),
the latest months first, and trend lines short enough to be shown inline (under 1,000 characters of
Markdown, the UI's limit; longer Markdown hides behind "[Show Markdown]")."""

import base64
import re
from datetime import date
from decimal import Decimal

import dagster as dg
import polars as pl

from orchestration.assets.dbt_models import latest_first
from orchestration.metadata import frame_table, table_metadata
from transforms.dbt_project import model_doc
from transforms.report import sparklines
from transforms.sql_models import summarize_table

MONTHS = [date(2023 + (m // 12), m % 12 + 1, 1) for m in range(36)]


def test_trend_lines_stay_under_the_inline_limit_and_end_at_the_latest_month():
    values = [Decimal("1234567890.12") * (m + 1) for m in range(36)]  # large amounts, 36 months
    text = sparklines.trend_markdown("Closing MRR", MONTHS, values, sparklines.usd)
    assert len(text) < sparklines.INLINE_LIMIT
    # latest value in words, from the first of the last 24 months (36 - 24 = month 13: 2024-01)
    assert text.startswith("**Closing MRR**: $44,444,444,044 in 2025-12, from $16,049,382,572 in 2024-01")
    svg = base64.b64decode(re.search(r"base64,([^)]+)\)", text).group(1)).decode()
    points = [tuple(map(int, p.split(","))) for p in re.search(r'points="([^"]+)"', svg).group(1).split()]
    assert len(points) == 24
    assert points[-1] == (sparklines.WIDTH - sparklines.PAD, sparklines.PAD)  # the highest, latest, at the top right
    assert points[0] == (sparklines.PAD, sparklines.HEIGHT - sparklines.PAD)


def test_a_trend_skips_months_without_a_value():
    text = sparklines.trend_markdown("NRR", MONTHS[:3], [None, 0.9, 1.1], sparklines.percent)
    assert text.startswith("**NRR**: 110.0% in 2023-03, from 90.0% in 2023-02")
    assert sparklines.trend_markdown("NRR", MONTHS[:2], [None, None], sparklines.percent) == "**NRR**: no months yet"


def test_previews_are_tables_latest_month_first():
    import duckdb
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.mrr_waterfall as select (date '2024-01-01' + to_months(m))::date as month, "
                "(100 + m)::decimal(18, 2) as closing_mrr from range(30) t(m)")
    columns = model_doc("marts.mrr_waterfall").columns
    assert latest_first(columns) == "month desc"
    summary = summarize_table(con, "marts.mrr_waterfall", order_by=latest_first(columns))
    preview = table_metadata(summary)["preview"]
    assert isinstance(preview, dg.TableMetadataValue)
    assert [r.data["month"] for r in preview.records][:2] == ["2026-06-01", "2026-05-01"]
    assert preview.records[0].data["closing_mrr"] == "129.00"  # exact, as text


def test_top_accounts_are_a_table():
    frame = pl.DataFrame({"rank": [1, 2], "account_id": ["A", "B"], "mrr": [Decimal("10.50"), None]})
    value = frame_table(frame)
    assert [c.name for c in value.schema.columns] == ["rank", "account_id", "mrr"]
    assert [r.data for r in value.records] == [{"rank": 1, "account_id": "A", "mrr": "10.50"},
                                                {"rank": 2, "account_id": "B", "mrr": None}]
