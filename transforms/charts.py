"""Charts of the marts as small PNGs, for the Dagster UI (no Dagster here).

Each chart function takes the mart's rows as a Polars frame and returns PNG bytes; `*_charts(con)` read
the mart from a warehouse connection and return Markdown images (`![](data:image/png;base64,...)`), which
the assets attach to their materialization metadata. The PNGs live in Dagster's event log, so they are
drawn small and saved as palette PNGs: each stays well under 60 KB (tests/unit/test_charts.py).

matplotlib is used through its object API with the Agg canvas (no pyplot): no global state, no display.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence

import duckdb
import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter
from PIL import Image

MAX_PNG_BYTES = 60_000
DPI = 90

# One colour per movement, shared with the HTML report (transforms/report_template/report.css).
COLORS = {
    "total": "#455a64",
    "new": "#2e7d32",
    "expansion": "#66bb6a",
    "reactivation": "#00897b",
    "contraction": "#ef6c00",
    "churned": "#c62828",
    "fx": "#7e57c2",
    "line": "#1565c0",
    "grid": "#e0e0e0",
}
MOVEMENTS = [  # (column, label, sign in the bridge)
    ("new_mrr", "New", 1),
    ("expansion_mrr", "Expansion", 1),
    ("reactivation_mrr", "Reactivation", 1),
    ("contraction_mrr", "Contraction", -1),
    ("churned_mrr", "Churned", -1),
    ("fx_adjustment", "FX", 1),
]
_COLOR_OF = {"new_mrr": "new", "expansion_mrr": "expansion", "reactivation_mrr": "reactivation",
             "contraction_mrr": "contraction", "churned_mrr": "churned", "fx_adjustment": "fx"}
RETENTION_CMAP = LinearSegmentedColormap.from_list("retention", ["#fbe9e7", "#ffcc80", "#a5d6a7", "#1b5e20"])


# ------------------------------------------------------------------------------------------ formatting

def money(value: float) -> str:
    """$1.23M, $281k, $950: short enough for a bar label."""
    sign = "−" if value < 0 else ""
    value = abs(value)
    if value >= 1e6:
        return f"{sign}${value / 1e6:.2f}M"
    if value >= 1e4:
        return f"{sign}${value / 1e3:.0f}k"
    if value >= 1e3:
        return f"{sign}${value / 1e3:.1f}k"
    return f"{sign}${value:.0f}"


def _money_axis(ax) -> None:
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: money(v)))


def _month_labels(months: Sequence) -> list[str]:
    return [m.strftime("%b %y") for m in months]


def _style(ax) -> None:
    ax.grid(axis="y", color=COLORS["grid"], linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=7)


def _thin_ticks(ax, labels: list[str], max_labels: int = 12) -> None:
    step = max(1, math.ceil(len(labels) / max_labels))
    positions = list(range(0, len(labels), step))
    ax.set_xticks(positions)
    ax.set_xticklabels([labels[i] for i in positions], rotation=0, fontsize=7)


def png_bytes(fig: Figure, colors: int = 96) -> bytes:
    """Render a figure to a palette PNG (a few dozen KB instead of a few hundred)."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    palette = image.convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    return out.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _empty_chart(title: str, message: str) -> bytes:
    fig = _figure(6, 1.2)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, f"{title}: {message}", ha="center", va="center", fontsize=9, color="#555")
    return png_bytes(fig)


# ------------------------------------------------------------------------------------------ charts

def waterfall_bridge(waterfall: pl.DataFrame, month=None) -> bytes:
    """The bridge for one month (default: the latest): opening → each movement → FX → closing."""
    if waterfall.is_empty():
        return _empty_chart("MRR bridge", "no months yet")
    frame = waterfall.sort("month")
    row = frame.row(-1, named=True) if month is None else frame.filter(pl.col("month") == month).row(0, named=True)
    steps = bridge_steps(row)

    fig = _figure(7, 3.2)
    ax = fig.add_subplot()
    labels = [label for label, *_ in steps]
    for i, (_, bottom, height, kind, value) in enumerate(steps):
        ax.bar(i, height, bottom=bottom, color=COLORS[kind], width=0.62)
        top = bottom + max(height, 0)
        ax.annotate(money(value), (i, top), xytext=(0, 2), textcoords="offset points", ha="center",
                    va="bottom", fontsize=7)
    for i in range(len(steps) - 1):  # connectors: where the running total stands between bars
        _, bottom, height, _, value = steps[i]
        level = bottom + height if i == 0 or value >= 0 else bottom
        ax.plot([i + 0.31, i + 0.69], [level, level], color="#9e9e9e", linewidth=0.7)
    ax.set_xticks(range(len(steps)))
    ax.set_xticklabels(labels, fontsize=7)
    _money_axis(ax)
    _style(ax)
    floor = bridge_axis_floor(steps)
    title = f"MRR bridge, {row['month'].strftime('%B %Y')}"
    if floor > 0:
        ax.set_ylim(bottom=floor)
        title += f" (axis starts at {money(floor)})"
    ax.set_title(title, fontsize=9, loc="left")
    return png_bytes(fig)


def bridge_steps(row: dict) -> list[tuple[str, float, float, str, float]]:
    """(label, bottom, height, colour key, signed value) for each bar of the bridge; heights are ≥ 0."""
    opening = float(row["opening_mrr"])
    steps = [("Opening", 0.0, opening, "total", opening)]
    level = opening
    for column, label, sign in MOVEMENTS:
        value = sign * float(row[column] or 0)
        bottom = level if value >= 0 else level + value
        steps.append((label, bottom, abs(value), _COLOR_OF[column], value))
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


def mrr_movements(waterfall: pl.DataFrame) -> bytes:
    """Each month's movements as stacked bars (gains up, losses down) with net new MRR as a line."""
    if waterfall.is_empty():
        return _empty_chart("MRR by movement", "no months yet")
    frame = waterfall.sort("month")
    months = _month_labels(frame["month"].to_list())
    x = list(range(frame.height))
    fig = _figure(7, 3.2)
    ax = fig.add_subplot()
    up = [0.0] * frame.height
    down = [0.0] * frame.height
    for column, label, sign in MOVEMENTS:
        values = [sign * float(v or 0) for v in frame[column].to_list()]
        bottoms = [up[i] if v >= 0 else down[i] for i, v in enumerate(values)]
        ax.bar(x, values, bottom=bottoms, color=COLORS[_COLOR_OF[column]], width=0.75, label=label)
        for i, v in enumerate(values):
            if v >= 0:
                up[i] += v
            else:
                down[i] += v
    net = [u + d for u, d in zip(up, down, strict=True)]
    ax.plot(x, net, color="#212121", linewidth=1.2, marker="o", markersize=2.5, label="Net change")
    ax.axhline(0, color="#616161", linewidth=0.6)
    _thin_ticks(ax, months)
    _money_axis(ax)
    _style(ax)
    ax.legend(fontsize=6.5, ncol=7, loc="upper left", frameon=False, bbox_to_anchor=(0, 1.0))
    ax.margins(y=0.18)
    ax.set_title("MRR by movement, every month", fontsize=9, loc="left")
    return png_bytes(fig)


def saas_metrics(metrics: pl.DataFrame) -> bytes:
    """MRR, NRR (month and 12 months) and logo churn over time, three panels sharing the months."""
    if metrics.is_empty():
        return _empty_chart("SaaS metrics", "no months yet")
    frame = metrics.sort("month")
    months = _month_labels(frame["month"].to_list())
    x = list(range(frame.height))

    def series(column: str) -> list[float]:
        return [math.nan if v is None else float(v) for v in frame[column].to_list()]

    fig = _figure(7, 5.0)
    mrr_ax, nrr_ax, churn_ax = fig.subplots(3, 1, sharex=True, height_ratios=[1.3, 1, 1])
    mrr = series("mrr")
    mrr_ax.fill_between(x, mrr, color=COLORS["line"], alpha=0.15)
    mrr_ax.plot(x, mrr, color=COLORS["line"], linewidth=1.5)
    _money_axis(mrr_ax)
    mrr_ax.set_title("MRR", fontsize=8.5, loc="left")

    nrr_ax.plot(x, series("nrr"), color=COLORS["new"], linewidth=1.2, marker="o", markersize=2, label="NRR (month)")
    if "nrr_12m" in frame.columns:
        nrr_ax.plot(x, series("nrr_12m"), color=COLORS["reactivation"], linewidth=1.2, linestyle="--",
                    label="NRR (12 months)")
    nrr_ax.axhline(1.0, color="#9e9e9e", linewidth=0.8, linestyle=":")
    nrr_ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    nrr_ax.legend(fontsize=6.5, frameon=False, loc="best")
    nrr_ax.set_title("Net revenue retention", fontsize=8.5, loc="left")

    churn_ax.bar(x, series("logo_churn_rate"), color=COLORS["churned"], width=0.7)
    churn_ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    churn_ax.set_title("Logo churn rate", fontsize=8.5, loc="left")
    for ax in (mrr_ax, nrr_ax, churn_ax):
        _style(ax)
    _thin_ticks(churn_ax, months)
    return png_bytes(fig)


def cohort_heatmap(cohorts: pl.DataFrame, value: str = "logo_retention", title: str | None = None) -> bytes:
    """Cohort (rows, by first paid month) × months since start (columns), coloured by retention."""
    if cohorts.is_empty():
        return _empty_chart(title or "Cohort retention", "no cohorts yet")
    matrix, cohort_months, width = retention_matrix(cohorts, value)
    finite = [v for row in matrix for v in row if not math.isnan(v)]
    top = max(1.0, min(2.0, max(finite, default=1.0)))

    rows = len(matrix)
    fig = _figure(7, min(1.6 + 0.2 * rows, 6.5))
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap=RETENTION_CMAP, vmin=0, vmax=top, aspect="auto", interpolation="nearest")
    if rows <= 16 and width <= 16:
        for r, row in enumerate(matrix):
            for k, v in enumerate(row):
                if not math.isnan(v):
                    ax.text(k, r, f"{v:.0%}", ha="center", va="center", fontsize=5.5,
                            color="white" if v > 0.75 * top else "#212121")
    ax.set_yticks(range(rows))
    ax.set_yticklabels([m.strftime("%b %y") for m in cohort_months], fontsize=6)
    _thin_ticks(ax, [str(k) for k in range(width)], max_labels=24)
    ax.set_xlabel("months since first payment", fontsize=7)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    bar = fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01, format=PercentFormatter(1.0, decimals=0))
    bar.ax.tick_params(labelsize=6)
    label = title or ("Logo retention by cohort" if value == "logo_retention" else "Revenue retention by cohort")
    ax.set_title(label, fontsize=9, loc="left")
    return png_bytes(fig)


def retention_matrix(cohorts: pl.DataFrame, value: str) -> tuple[list[list[float]], list, int]:
    """Rows per cohort month, columns k = 0 … max; NaN where the month is still to come (or undefined)."""
    frame = cohorts.sort("cohort_month", "months_since_start")
    cohort_months = frame["cohort_month"].unique(maintain_order=True).to_list()
    width = int(frame["months_since_start"].max()) + 1
    index = {m: i for i, m in enumerate(cohort_months)}
    matrix = [[math.nan] * width for _ in cohort_months]
    for cohort_month, k, v in frame.select("cohort_month", "months_since_start", value).iter_rows():
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
