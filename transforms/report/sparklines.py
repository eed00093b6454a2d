"""Trend lines small enough for the Dagster UI to show inline (no Dagster here).

The UI shows a Markdown metadata value on the asset's page only when it is shorter than 1,000
characters; anything longer (a chart as a PNG) sits behind "[Show Markdown]". So each charted mart also
gets a one-line trend: the latest value in words and the last 24 months as a tiny SVG line drawn with
integer coordinates (`![](data:image/svg+xml;base64,...)`), well under that limit. The full charts stay
in the metadata for a closer look, and in the HTML report.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from decimal import Decimal

import duckdb

from transforms.core import formatting
from transforms.core.palette import COLORS

# The UI's limit for showing Markdown inline (ui-core MetadataEntry.tsx: mdStr.length < 1000).
INLINE_LIMIT = 1000
MONTHS = 24
WIDTH, HEIGHT, PAD = 240, 40, 3
LINE = COLORS["line"]


def svg_line(values: Sequence[float]) -> str:
    """An SVG polyline through `values` (oldest first), the latest marked with a dot."""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = (WIDTH - 2 * PAD) / max(len(values) - 1, 1)

    def point(i: int, v: float) -> tuple[int, int]:
        return round(PAD + i * step), round(HEIGHT - PAD - (v - low) / span * (HEIGHT - 2 * PAD))

    points = [point(i, v) for i, v in enumerate(values)]
    x, y = points[-1]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}">'
            f'<polyline fill="none" stroke="{LINE}" stroke-width="2" points="'
            + " ".join(f"{px},{py}" for px, py in points)
            + f'"/><circle cx="{x}" cy="{y}" r="3" fill="{LINE}"/></svg>')


def trend_markdown(label: str, months: Sequence, values: Sequence, text: Callable[[Decimal | float], str]) -> str:
    """`**label**: latest (month), from first (month): line`, over the last MONTHS months with a value."""
    pairs = [(m, v) for m, v in zip(months, values, strict=True) if v is not None][-MONTHS:]
    if not pairs:
        return f"**{label}**: no months yet"
    (first_month, first), (last_month, last) = pairs[0], pairs[-1]
    words = f"**{label}**: {text(last)} in {last_month:%Y-%m}, from {text(first)} in {first_month:%Y-%m}"
    if len(pairs) < 2:
        return words
    image = base64.b64encode(svg_line([float(v) for _, v in pairs]).encode()).decode("ascii")
    return f"{words}\n\n![{label}, last {len(pairs)} months](data:image/svg+xml;base64,{image})"


# The trend lines' formats (transforms/core/formatting.py): whole dollars, one-decimal percentages, counts.
usd = formatting.money_whole
percent = formatting.percent
count = formatting.count


# mart -> (metadata key, label, column, format)
TRENDS = {
    "marts/mrr_waterfall": [("trend_closing_mrr", "Closing MRR", "closing_mrr", usd),
                            ("trend_customers", "Customers", "closing_customers", count)],
    "marts/saas_metrics_monthly": [("trend_nrr_12m", "NRR, 12 months", "nrr_12m", percent),
                                   ("trend_logo_churn", "Logo churn", "logo_churn_rate", percent)],
}


def trends(con: duckdb.DuckDBPyConnection, model_name: str) -> dict[str, str]:
    """The inline trend lines of a mart: {metadata key: Markdown}."""
    wanted = TRENDS.get(model_name, [])
    if not wanted:
        return {}
    table = model_name.replace("/", ".")
    columns = ", ".join(column for _, _, column, _ in wanted)
    rows = con.sql(f"select month, {columns} from {table} order by month").fetchall()
    months = [r[0] for r in rows]
    return {key: trend_markdown(label, months, [r[i] for r in rows], fmt)
            for i, (key, label, _, fmt) in enumerate(wanted, start=1)}
