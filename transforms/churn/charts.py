"""The backtest's two charts for the model asset's metadata, drawn with the report's stack (matplotlib's object
API, the shared palette, transforms/report/canvas.py's palette PNGs): calibration (predicted against observed churn, per bin) and lift
(the share of churners found against the share of accounts contacted, model and rules)."""

from __future__ import annotations

import polars as pl
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from transforms.core.palette import COLORS
from transforms.report.canvas import DPI, markdown_image, png_bytes


def _axes(title: str):
    fig = Figure(figsize=(4.2, 3.2), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    ax.grid(color=COLORS["grid"], linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=9)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    return fig, ax


def calibration_chart(curve: pl.DataFrame) -> bytes:
    """Mean predicted probability against the observed churn rate per bin; the diagonal is perfect."""
    fig, ax = _axes("Calibration on held-out months")
    top = max(float(curve["predicted"].max() or 0), float(curve["observed"].max() or 0), 0.05) * 1.05
    ax.plot([0, top], [0, top], color=COLORS["reference"], linewidth=1, linestyle="--", label="perfect")
    ax.plot(curve["predicted"], curve["observed"], marker="o", markersize=3, color=COLORS["line"], label="model")
    ax.set_xlabel("predicted churn within 3 months", fontsize=7)
    ax.set_ylabel("observed", fontsize=7)
    ax.legend(fontsize=7, frameon=False)
    return png_bytes(fig)


def lift_chart(model_curve: pl.DataFrame, rules_curve: pl.DataFrame) -> bytes:
    """Churners found against accounts contacted, riskiest first: the model, the rules, and random order."""
    fig, ax = _axes("Churners found on held-out months")
    ax.plot([0, 1], [0, 1], color=COLORS["reference"], linewidth=1, linestyle="--", label="random")
    ax.plot(rules_curve["contacted"], rules_curve["found"], color=COLORS["contraction"], linewidth=1.2, label="rules")
    ax.plot(model_curve["contacted"], model_curve["found"], color=COLORS["line"], linewidth=1.5, label="model")
    ax.set_xlabel("accounts contacted", fontsize=7)
    ax.set_ylabel("churners found", fontsize=7)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    return png_bytes(fig)


def backtest_charts(result: dict) -> dict[str, str]:
    """Markdown images for the model asset's metadata."""
    return {
        "chart_calibration": markdown_image(calibration_chart(result["calibration_curve"]),
                                            "Calibration on held-out months"),
        "chart_lift": markdown_image(lift_chart(result["lift_curve"], result["rules_lift_curve"]),
                                     "Churners found: model against rules"),
    }
