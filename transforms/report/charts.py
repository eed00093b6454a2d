"""The charts of the marts, drawn once with matplotlib: inline SVG in the HTML report, PNG in the Dagster UI.

    chart = bridge_chart(waterfall)      # a Chart: one matplotlib Figure, laid out in CSS pixels
    chart.svg("bridge")                  # the report's inline <svg>: text stays text, bars are <rect>s with
                                         # their amount as a tooltip, no clip path, no external reference
    chart.png()                          # the UI's palette PNG (a few dozen KB, MAX_PNG_BYTES at most)

A chart is laid out for the width it has in the report at full width (HALF or FULL, the page's columns):
one SVG unit is one CSS pixel, so its text is the size it is drawn at (never under 10 px) and month labels
that do not fit their slot are thinned out (every 2nd, 3rd … month) instead of shrunk; the bridge's step
names, which must all show, slant instead. On a narrower window the report scrolls a chart sideways rather
than shrinking its text. The UI's PNGs are the same figures with a caption, at DPI.

`waterfall_charts(con)`, `metrics_charts(con)` and `cohort_charts(con)` give the UI's Markdown images
(`![](data:image/png;base64,...)`); the cohort heatmaps are UI pictures only (the report shows the same
colours as a table, transforms/core/palette.py). matplotlib is used through its object API with the Agg and SVG
canvases (no pyplot): no global state, no display.
"""


from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import duckdb
import polars as pl
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from transforms.core.formatting import money as money_text
from transforms.core.formatting import money_short, percent
from transforms.core.palette import COLORS, RETENTION_INK, RETENTION_STOPS
from transforms.report.canvas import (
    FULL,
    HALF,
    Chart,
    _bar,
    _dots,
    _floats,
    _legend,
    frame,
    markdown_image,
    month_label,
    png_bytes,
)

MAX_PNG_BYTES = 60_000
money = money_short  # the charts' money labels: $950, $1.2k, $28k, $1.23M (transforms/core/formatting.py)

MOVEMENTS = [  # (column, label, sign in the bridge, colour key)
    ("new_mrr", "New", 1, "new"),
    ("expansion_mrr", "Expansion", 1, "expansion"),
    ("reactivation_mrr", "Reactivation", 1, "reactivation"),
    ("contraction_mrr", "Contraction", -1, "contraction"),
    ("churned_mrr", "Churned", -1, "churned"),
    ("fx_adjustment", "FX", 1, "fx"),
]
RETENTION_CMAP = LinearSegmentedColormap.from_list("retention", RETENTION_STOPS)


# ------------------------------------------------------------------------------------------ the charts

def bridge_steps(row: dict) -> list[tuple[str, float, float, str, float]]:
    """(label, bottom, height, colour key, signed value) for each bar of the bridge; heights are ≥ 0."""
    opening = float(row["opening_mrr"])
    steps = [("Opening", 0.0, opening, "total", opening)]
    level = opening
    for column, label, sign, color in MOVEMENTS:
        value = sign * float(row[column] or 0)
        bottom = level if value >= 0 else level + value
        steps.append((label, bottom, abs(value), color, value))
        level += value
    closing = float(row["closing_mrr"])
    steps.append(("Closing", 0.0, closing, "total", closing))
    return steps


def bridge_axis_floor(steps: list[tuple[str, float, float, str, float]]) -> float:
    """Where the bridge's value axis starts: zero, unless the movements are small next to the totals, in
    which case it starts below the lowest running level so the movements stay readable."""
    movement_levels = [b for _, b, *_ in steps[1:-1]] + [b + h for _, b, h, *_ in steps[1:-1]]
    totals = [h for _, _, h, *_ in (steps[0], steps[-1])]
    if not movement_levels or min(totals) <= 0:
        return 0.0
    low, high = min(movement_levels + totals), max(movement_levels + totals)
    floor = low - max(high - low, 0.05 * high) * 1.5
    return 0.0 if floor < 0.3 * min(totals) else floor


def bridge_chart(waterfall: pl.DataFrame, month=None, width: int = HALF, caption: bool = False) -> Chart:
    """The bridge for one month (default: the latest): opening → each movement → FX → closing."""
    frame_ = waterfall.sort("month")
    row = frame_.row(-1, named=True) if month is None else frame_.filter(pl.col("month") == month).row(0, named=True)
    steps = bridge_steps(row)
    floor = bridge_axis_floor(steps)
    top = max(bottom + height for _, bottom, height, *_ in steps)
    title = f"MRR bridge, {row['month']:%B %Y}" + (f" (axis starts at {money(floor)})" if floor > 0 else "")
    chart = frame(width=width, height=270, slots=len(steps), y_min=floor, y_max=top * 1.04, y_format=money,
                  y_floor=floor if floor > 0 else None, x_labels=[s[0] for s in steps], all_x_labels=True,
                  caption=title if caption else None)
    ax = chart.ax
    for i, (label, bottom, height, color, value) in enumerate(steps):
        base = max(bottom, chart.lo)
        bar_top = max(bottom + height, chart.lo)
        plot_px = chart.height - chart.margin["top"] - chart.margin["bottom"]
        visible = max(bar_top - base, 0.8 * (chart.hi - chart.lo) / plot_px)  # a $0 step still shows
        _bar(chart, i, base, visible, 0.64, COLORS[color], f"{label}: {money_text(value)}", radius=2)
        sign = "+" if value > 0 and 0 < i < len(steps) - 1 else ""
        ax.annotate(sign + money(value), (i, bar_top), xytext=(0, 4), textcoords="offset points", ha="center",
                    va="baseline", fontsize=10.5, color=COLORS["text"])
        if i < len(steps) - 1:  # connectors: where the running total stands between bars
            level = bottom + height if i == 0 or value >= 0 else bottom
            ax.plot([i + 0.32, i + 0.68], [level, level], color=COLORS["reference"], linewidth=1,
                    dashes=(2, 2), zorder=1)
    if floor > 0 and not caption:
        chart.figure.text(1 - chart.margin["right"] / chart.width, 1 - (chart.margin["top"] - 2) / chart.height,
                          f"axis starts at {money(chart.lo)}", ha="right", va="baseline", fontsize=10,
                          color=COLORS["muted"])
    return chart


def movements_chart(waterfall: pl.DataFrame, width: int = HALF, caption: bool = False) -> Chart:
    """Each month's movements as stacked bars (gains up, losses down) with the net change as a line."""
    frame_ = waterfall.sort("month")
    months = [month_label(m) for m in frame_["month"].to_list()]
    stacks, lo, hi = [], 0.0, 0.0
    for row in frame_.iter_rows(named=True):
        up = down = 0.0
        parts = []
        for column, label, sign, color in MOVEMENTS:
            v = sign * float(row[column] or 0)
            parts.append((label, color, v, up if v >= 0 else down))
            if v >= 0:
                up += v
            else:
                down += v
        lo, hi = min(lo, down), max(hi, up)
        stacks.append((parts, up + down))
    chart = frame(width=width, height=270, slots=len(stacks), y_min=lo, y_max=hi * 1.12 or 1, y_format=money,
                  x_labels=months, margin={"top": 26}, caption="MRR by movement, every month" if caption else None)
    ax = chart.ax
    for i, (parts, _) in enumerate(stacks):
        for label, color, v, base in parts:
            if v:
                _bar(chart, i, base, v, 0.76, COLORS[color], f"{months[i]} · {label}: {money_text(v)}")
    ax.axhline(0, color=COLORS["zero"], linewidth=1, zorder=3)
    net = [n for _, n in stacks]
    ax.plot(range(len(net)), net, color=COLORS["net"], linewidth=1.5, zorder=4, solid_joinstyle="round")
    _dots(chart, net, COLORS["net"], lambda i, v: f"{months[i]} · net change: {money_text(v)}")
    _legend(chart, [{"label": label, "color": COLORS[color]} for _, label, _, color in MOVEMENTS]
            + [{"label": "Net change", "color": COLORS["net"], "line": True}])
    return chart


def lines_chart(*, months: Sequence[str], series: list[dict], y_format: Callable[[float], str],
                tip_format: Callable[[float], str], height: int, width: int, zero: bool = False,
                reference: float | None = None, caption: str | None = None) -> Chart:
    """Lines over the months: each series {name, values, color, width, dash, area}; a dashed reference line."""
    finite = [v for s in series for v in s["values"] if math.isfinite(v)] or [0.0]
    extra = [] if reference is None else [reference]
    lo = min(0.0, *finite) if zero else min(finite + extra)
    hi = max(finite + extra)
    legend = len(series) > 1
    chart = frame(width=width, height=height, slots=len(months), y_min=lo, y_max=hi, y_format=y_format,
                  x_labels=list(months), margin={"top": 26} if legend else None, caption=caption)
    ax = chart.ax
    x = list(range(len(months)))
    if reference is not None:
        ax.axhline(reference, color=COLORS["reference"], linewidth=1, dashes=(4, 3), zorder=1)
    for s in series:
        if s.get("area"):
            floor = max(chart.lo, 0.0)
            ax.fill_between(x, [floor if not math.isfinite(v) else v for v in s["values"]], floor,
                            color=s["color"], alpha=0.12, linewidth=0, zorder=1)
        ax.plot(x, s["values"], color=s["color"], linewidth=s.get("width", 2), dashes=s.get("dash", ()),
                zorder=3, solid_joinstyle="round", dash_joinstyle="round")
        _dots(chart, s["values"], s["color"], lambda i, v, name=s["name"]: f"{months[i]} · {name}: {tip_format(v)}")
    if legend:
        _legend(chart, [{"label": s["name"], "color": s["color"], "line": True, "width": s.get("width", 2),
                         "dash": s.get("dash", ())} for s in series])
    return chart


def mrr_chart(metrics: pl.DataFrame, width: int = FULL, caption: bool = False) -> Chart:
    frame_ = metrics.sort("month")
    return lines_chart(months=[month_label(m) for m in frame_["month"]], width=width, height=220, zero=True,
                       y_format=money, tip_format=money_text, caption="MRR" if caption else None,
                       series=[{"name": "MRR", "values": _floats(frame_["mrr"]), "color": COLORS["line"],
                                "width": 2.2, "area": True}])


def nrr_chart(metrics: pl.DataFrame, width: int = HALF, caption: bool = False) -> Chart:
    frame_ = metrics.sort("month")
    series = [{"name": "NRR (month)", "values": _floats(frame_["nrr"]), "color": COLORS["new"], "width": 1.8}]
    if "nrr_12m" in frame_.columns:
        series.append({"name": "NRR (12 months)", "values": _floats(frame_["nrr_12m"]),
                       "color": COLORS["reactivation"], "width": 1.8, "dash": (5, 3)})
    return lines_chart(months=[month_label(m) for m in frame_["month"]], width=width, height=240, reference=1.0,
                       y_format=lambda v: percent(v, 0), tip_format=percent, series=series,
                       caption="Net revenue retention" if caption else None)


def churn_chart(metrics: pl.DataFrame, width: int = HALF, caption: bool = False) -> Chart:
    frame_ = metrics.sort("month")
    months = [month_label(m) for m in frame_["month"]]
    values = _floats(frame_["logo_churn_rate"])
    shown = [0.0 if not math.isfinite(v) else v for v in values]
    chart = frame(width=width, height=240, slots=len(months), y_min=0, y_max=max(*shown, 0.01),
                  y_format=lambda v: percent(v, 1), x_labels=months, caption="Logo churn rate" if caption else None)
    for i, v in enumerate(values):
        if math.isfinite(v):
            _bar(chart, i, 0, max(v, 0.5 * chart.hi / chart.height), 0.7, COLORS["churned"],
                 f"{months[i]}: {percent(v, 2)}", radius=1.5)
    return chart


def _empty_chart(title: str, message: str) -> bytes:
    figure = Figure(figsize=(HALF / 72, 40 / 72), dpi=72, facecolor="white")
    figure.text(0.5, 0.5, f"{title}: {message}", ha="center", va="center", fontsize=11, color=COLORS["muted"])
    return png_bytes(figure)

# ------------------------------------------------------------------------------------------ the UI's PNGs

def waterfall_bridge(waterfall: pl.DataFrame, month=None) -> bytes:
    if waterfall.is_empty():
        return _empty_chart("MRR bridge", "no months yet")
    return bridge_chart(waterfall, month, caption=True).png()


def mrr_movements(waterfall: pl.DataFrame) -> bytes:
    if waterfall.is_empty():
        return _empty_chart("MRR by movement", "no months yet")
    return movements_chart(waterfall, caption=True).png()


def saas_metrics(metrics: pl.DataFrame) -> bytes:
    """MRR, NRR (month and 12 months) and logo churn over time: the report's three charts, one under another."""
    if metrics.is_empty():
        return _empty_chart("SaaS metrics", "no months yet")
    return png_bytes(*(draw(metrics, width=HALF, caption=True).figure for draw in (mrr_chart, nrr_chart, churn_chart)))


def cohort_heatmap(cohorts: pl.DataFrame, value: str = "logo_retention", title: str | None = None) -> bytes:
    """Cohort (rows, by first paid month) × months since start (columns), coloured by retention."""
    if cohorts.is_empty():
        return _empty_chart(title or "Cohort retention", "no cohorts yet")
    matrix, cohort_months, width = retention_matrix(cohorts, value)
    finite = [v for row in matrix for v in row if not math.isnan(v)]
    top = max(1.0, min(2.0, max(finite, default=1.0)))

    rows = len(matrix)
    # Margins in inches, fixed (a constrained layout measured every label again on each draw): room for the
    # title above, the cohort months left, the months-since axis below and the colour bar right.
    width_in, height_in = 7.0, min(1.6 + 0.2 * rows, 6.5)
    left, right, bottom, top_margin = 0.5, 0.55, 0.42, 0.3
    figure = Figure(figsize=(width_in, height_in), dpi=72, facecolor="white")
    ax = figure.add_axes((left / width_in, bottom / height_in, 1 - (left + right) / width_in,
                          1 - (bottom + top_margin) / height_in))
    colour_bar = figure.add_axes((1 - (right - 0.08) / width_in, bottom / height_in, 0.1 / width_in,
                                  1 - (bottom + top_margin) / height_in))
    image = ax.imshow(matrix, cmap=RETENTION_CMAP, vmin=0, vmax=top, aspect="auto", interpolation="nearest")
    if rows <= 16 and width <= 16:
        for r, row in enumerate(matrix):
            for k, v in enumerate(row):
                if not math.isnan(v):
                    ax.text(k, r, f"{v:.0%}", ha="center", va="center", fontsize=5.5,
                            color=RETENTION_INK[1] if v > 0.75 * top else RETENTION_INK[0])
    ax.set_yticks(range(rows))
    ax.set_yticklabels([m.strftime("%b %y") for m in cohort_months], fontsize=6)
    step = max(1, math.ceil(width / 24))
    ax.set_xticks(range(0, width, step), [str(k) for k in range(0, width, step)], fontsize=7)
    ax.set_xlabel("months since first payment", fontsize=7)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    bar = figure.colorbar(image, cax=colour_bar, format=PercentFormatter(1.0, decimals=0))
    bar.ax.tick_params(labelsize=6)
    label = title or ("Logo retention by cohort" if value == "logo_retention" else "Revenue retention by cohort")
    ax.set_title(label, fontsize=9, loc="left")
    return png_bytes(figure)


def retention_matrix(cohorts: pl.DataFrame, value: str) -> tuple[list[list[float]], list, int]:
    """Rows per cohort month, columns k = 0 … max; NaN where the month is still to come (or undefined)."""
    frame_ = cohorts.sort("cohort_month", "months_since_start")
    cohort_months = frame_["cohort_month"].unique(maintain_order=True).to_list()
    width = int(frame_["months_since_start"].max()) + 1
    index = {m: i for i, m in enumerate(cohort_months)}
    matrix = [[math.nan] * width for _ in cohort_months]
    for cohort_month, k, v in frame_.select("cohort_month", "months_since_start", value).iter_rows():
        if v is not None:
            matrix[index[cohort_month]][int(k)] = float(v)
    return matrix, cohort_months, width


# ------------------------------------------------------------------------------------------ from the warehouse

def waterfall_charts(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Markdown images for marts.mrr_waterfall: the latest month's bridge and every month's movements."""
    waterfall = con.sql("select * from marts.mrr_waterfall order by month").pl()
    return {
        "chart_bridge": markdown_image(waterfall_bridge(waterfall), "MRR bridge, latest month"),
        "chart_movements": markdown_image(mrr_movements(waterfall), "MRR by movement"),
    }


def metrics_charts(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Markdown image for marts.saas_metrics_monthly: MRR, NRR and logo churn over time."""
    metrics = con.sql("select * from marts.saas_metrics_monthly order by month").pl()
    return {"chart_metrics": markdown_image(saas_metrics(metrics), "MRR, NRR and logo churn")}


def cohort_charts(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Markdown images for marts.cohort_retention: logo and revenue retention heatmaps."""
    cohorts = con.sql("select * from marts.cohort_retention order by cohort_month, months_since_start").pl()
    return {
        "chart_logo_retention": markdown_image(cohort_heatmap(cohorts, "logo_retention"), "Logo retention"),
        "chart_revenue_retention": markdown_image(cohort_heatmap(cohorts, "revenue_retention"),
                                                  "Revenue retention"),
    }
