"""Charts for the Dagster UI (transforms/report/charts.py): the bridge's arithmetic, small PNGs, empty marts."""

import base64
import math
from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from tests.support.story import Landing, account, build, build_metrics, changes, starts
from transforms.report import charts

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def month(i: int) -> date:
    return date(2023 + i // 12, i % 12 + 1, 1)


def waterfall_frame(months: int) -> pl.DataFrame:
    """A reconciling waterfall with every movement in every month (values vary so the bars differ)."""
    rows, closing = [], Decimal("0")
    for i in range(months):
        opening = closing
        new, expansion, reactivation = Decimal(1000 + 37 * i), Decimal(400 + 11 * (i % 7)), Decimal(50 * (i % 3))
        contraction = Decimal(120 + 9 * (i % 5)) if opening else Decimal(0)
        churned = Decimal(200 + 13 * (i % 4)) if opening else Decimal(0)
        fx = Decimal(((i % 5) - 2) * 15)
        closing = opening + new + expansion + reactivation - contraction - churned + fx
        rows.append(dict(month=month(i), opening_mrr=opening, new_mrr=new, expansion_mrr=expansion,
                         reactivation_mrr=reactivation, contraction_mrr=contraction, churned_mrr=churned,
                         fx_adjustment=fx, closing_mrr=closing))
    return pl.DataFrame(rows)


def metrics_frame(months: int) -> pl.DataFrame:
    return pl.DataFrame([dict(month=month(i), mrr=Decimal(1000 * (i + 1)), nrr=1 + 0.01 * math.sin(i),
                              nrr_12m=None if i < 12 else 1.05, logo_churn_rate=0.02 + 0.01 * (i % 3))
                         for i in range(months)])


def cohort_frame(cohorts: int) -> pl.DataFrame:
    rows = []
    for c in range(cohorts):
        for k in range(cohorts - c):
            rows.append(dict(cohort_month=month(c), months_since_start=k, logo_retention=0.97**k,
                             revenue_retention=1.02**k * 0.98 ** (k % 4)))
    return pl.DataFrame(rows)


def test_bridge_steps_walk_from_opening_to_closing():
    # Opening 1000; +300 new, +100 expansion, +0 reactivation, -50 contraction, -150 churned, -20 FX
    # -> closing 1180. Losses hang down from the running level: contraction spans 1350..1400.
    row = dict(opening_mrr=Decimal(1000), new_mrr=Decimal(300), expansion_mrr=Decimal(100),
               reactivation_mrr=Decimal(0), contraction_mrr=Decimal(50), churned_mrr=Decimal(150),
               fx_adjustment=Decimal(-20), closing_mrr=Decimal(1180))
    steps = charts.bridge_steps(row)
    assert [s[0] for s in steps] == ["Opening", "New", "Expansion", "Reactivation", "Contraction", "Churned",
                                     "FX", "Closing"]
    assert [(s[1], s[2]) for s in steps] == [(0, 1000), (1000, 300), (1300, 100), (1400, 0), (1350, 50),
                                             (1200, 150), (1180, 20), (0, 1180)]
    assert [s[4] for s in steps][1:-1] == [300, 100, 0, -50, -150, -20]


def test_bridge_axis_starts_at_zero_unless_the_movements_would_be_invisible():
    big_moves = charts.bridge_steps(dict(opening_mrr=100, new_mrr=80, expansion_mrr=0, reactivation_mrr=0,
                                         contraction_mrr=0, churned_mrr=30, fx_adjustment=0, closing_mrr=150))
    assert charts.bridge_axis_floor(big_moves) == 0
    small_moves = charts.bridge_steps(dict(opening_mrr=100_000, new_mrr=800, expansion_mrr=200, reactivation_mrr=0,
                                           contraction_mrr=100, churned_mrr=300, fx_adjustment=0,
                                           closing_mrr=100_600))
    floor = charts.bridge_axis_floor(small_moves)
    assert 30_000 < floor < 100_000  # below every bar's foot, above zero


@pytest.mark.parametrize("months", [1, 60])
def test_every_chart_is_a_small_png(months):
    pngs = {
        "bridge": charts.waterfall_bridge(waterfall_frame(months)),
        "movements": charts.mrr_movements(waterfall_frame(months)),
        "metrics": charts.saas_metrics(metrics_frame(months)),
        "logo": charts.cohort_heatmap(cohort_frame(months), "logo_retention"),
        "revenue": charts.cohort_heatmap(cohort_frame(months), "revenue_retention"),
    }
    for name, png in pngs.items():
        assert png.startswith(PNG_SIGNATURE), name
        assert 1_000 < len(png) <= charts.MAX_PNG_BYTES, (name, len(png))


def test_small_heatmaps_are_annotated_and_still_small():
    # Up to 16 cohorts every cell carries its percentage: the largest of the PNGs.
    png = charts.cohort_heatmap(cohort_frame(16), "revenue_retention")
    assert png.startswith(PNG_SIGNATURE) and len(png) <= charts.MAX_PNG_BYTES


def test_empty_marts_give_a_placeholder_not_an_error():
    empty_waterfall = waterfall_frame(1).clear()
    for png in (charts.waterfall_bridge(empty_waterfall), charts.mrr_movements(empty_waterfall),
                charts.saas_metrics(metrics_frame(1).clear()), charts.cohort_heatmap(cohort_frame(1).clear())):
        assert png.startswith(PNG_SIGNATURE)


def test_retention_matrix_leaves_months_to_come_empty():
    matrix, cohort_months, width = charts.retention_matrix(cohort_frame(3), "logo_retention")
    assert cohort_months == [month(0), month(1), month(2)] and width == 3
    assert matrix[0] == pytest.approx([1, 0.97, 0.97**2])
    assert matrix[2][0] == 1 and math.isnan(matrix[2][1]) and math.isnan(matrix[2][2])


def test_money_labels():
    assert [charts.money(v) for v in (950, 1234, 28_100, 1_234_567, -704)] == ["$950", "$1.2k", "$28k", "$1.23M",
                                                                               "−$704"]


def test_chart_hooks_read_the_marts(tmp_path):
    landing = Landing(tmp_path)
    landing.add(account("A", on="2025-01-02"), starts("A", seats=5, price=10, on="2025-01-05"),
                account("B", on="2025-01-03"), starts("B", seats=2, price=20, on="2025-02-05"),
                changes("A", seats=8, on="2025-03-10"))
    con = build_metrics(build(landing))
    images = {**charts.waterfall_charts(con), **charts.metrics_charts(con), **charts.cohort_charts(con)}
    assert set(images) == {"chart_bridge", "chart_movements", "chart_metrics", "chart_logo_retention",
                           "chart_revenue_retention"}
    for image in images.values():
        assert image.startswith("![") and "](data:image/png;base64," in image
        png = base64.b64decode(image.split("base64,", 1)[1].rstrip(")"))
        assert png.startswith(PNG_SIGNATURE) and len(png) <= charts.MAX_PNG_BYTES
