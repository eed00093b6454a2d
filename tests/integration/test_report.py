"""The revenue report on generated data: the numbers it shows, the files it writes, the Dagster asset and
the waterfall's chart hook, and the page itself in a real headless Chromium (no console error, KPIs that
match the warehouse, sliders that recompute, the page's JS projection equal to transforms/simulator.py).

A screenshot of the page is written to build/report_screenshot.png (ignored by git) for review."""

import fcntl
import itertools
import json
import math
import re
import shutil
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest

from orchestration.assets.dbt_models import dbt_models, dbt_resource
from orchestration.assets.report import revenue_report
from orchestration.resources import Warehouse
from orchestration.settings import REPO_ROOT
from tests.support.browser import Browser, find_chromium
from tests.support.dbt import SALES, dbt_materialization, run_models
from tests.support.story import Landing, account, build, build_metrics, rows, starts, trial
from transforms import report, sales
from transforms.simulator import Assumptions, project
from transforms.sql_models import connect

generator = pytest.importorskip("sample_data.generator")

SCREENSHOT = REPO_ROOT / "build" / "report_screenshot.png"  # build/ is ignored; never the user's data/


@pytest.fixture(scope="module")
def warehouse_file(request, tmp_path_factory) -> Path:
    """A warehouse file with every mart the report reads, built from generated events. Under xdist the
    workers share one (built once, under a lock) and only open it read-only; tests that write copy it."""
    worker = getattr(request.config, "workerinput", None)
    root = tmp_path_factory.getbasetemp().parent / "report-warehouse" if worker else tmp_path_factory.mktemp("report")
    root.mkdir(exist_ok=True)
    path = root / "warehouse.duckdb"
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "built").exists():
            generator.generate(root / "landing", accounts=120, months=15, seed=11, progress=False)
            con = build_metrics(build(root / "landing", path))
            run_models(con, SALES)
            sales.write_marts(con, sales.follow_up_lists(sales.read_inputs(con)))
            con.close()
            (root / "built").touch()
    return path


def writable_warehouse(warehouse_file: Path, tmp_path: Path) -> Warehouse:
    """A Warehouse resource on a private copy (Dagster opens it for writing)."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(warehouse_file, copy)
    return Warehouse(path=str(copy), landing_dir=str(tmp_path), serving_path=str(tmp_path / "serving.duckdb"),
                     exports_dir=str(tmp_path / "exports"), reports_dir=str(tmp_path / "reports"))


@pytest.fixture(scope="module")
def built(warehouse_file, tmp_path_factory):
    """The report written by transforms.report, plus the warehouse's own latest numbers to compare with."""
    con = connect(warehouse_file, read_only=True)
    try:
        files, data = report.build_report(con, tmp_path_factory.mktemp("reports"))
        latest = rows(con, "select * from marts.saas_metrics_monthly order by month desc limit 2")
    finally:
        con.close()
    return files, data, latest


def test_both_files_are_written_and_identical(built):
    files, data, _ = built
    assert files.dated.name == f"revenue_report_{data['as_of_date']}.html"
    assert files.latest.name == "revenue_report_latest.html"
    assert files.dated.read_bytes() == files.latest.read_bytes()
    assert not list(files.dated.parent.glob(".*.tmp"))  # no temp file left behind


def test_the_page_is_self_contained(built):
    page = built[0].dated.read_text()
    # No external script, stylesheet, image or font: every src/href is a same-page anchor.
    assert re.findall(r'\b(?:src|href)\s*=\s*"(?!#)[^"]*"', page) == []
    assert "@import" not in page and "url(" not in page
    embedded = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', page, re.S)
    assert json.loads(embedded.group(1))["as_of_date"] == built[1]["as_of_date"]


def test_kpis_are_the_warehouse_latest_month_with_the_change(built):
    _, data, (latest, previous) = built
    kpis = {k["key"]: k for k in data["kpis"]}
    assert list(kpis) == ["mrr", "arr", "customers", "arpa", "nrr", "nrr_12m", "grr", "logo_churn_rate",
                          "quick_ratio", "ltv"]
    if latest["ltv"] is not None:  # the gross margin LTV assumes is stated on its card
        assert kpis["ltv"]["note"].startswith("at 100% gross margin")
    assert data["latest_month"] == latest["month"].isoformat()
    for key, kpi in kpis.items():
        if latest[key] is None:
            assert kpi["exact"] is None and kpi["text"] == "—"
            continue
        assert Decimal(kpi["exact"]) == latest[key], key
        if previous[key] is not None:
            assert kpi["change"] == pytest.approx(float(latest[key] - previous[key]), abs=1e-9), key


def test_simulator_starts_from_the_company_figures(built, warehouse_file):
    _, data, (latest, _) = built
    defaults = data["simulator"]
    assert defaults["starting_mrr"] == float(latest["mrr"])
    assert defaults["price"] == float(latest["arpa"])
    # The flows come from the 3 full months before the latest (partial) month, pooled.
    con = connect(warehouse_file, read_only=True)
    try:
        basis = rows(con, "select * from marts.mrr_waterfall where month < (select max(month) from "
                          "marts.mrr_waterfall) order by month desc limit 3")
        pooled_nrr = con.sql("""
            with basis as (select * from marts.mrr_waterfall where month < (select max(month) from marts.mrr_waterfall)
                           order by month desc limit 3)
            select sum(opening_mrr + expansion_mrr - contraction_mrr - churned_mrr) / sum(opening_mrr) from basis
        """).fetchall()[0][0]
    finally:
        con.close()
    assert defaults["basis_months"] == sorted(r["month"].isoformat() for r in basis)
    assert defaults["new_customers"] == pytest.approx(sum(r["new_customers"] for r in basis) / 3)
    lost = sum(r["churned_mrr"] + r["contraction_mrr"] for r in basis) / sum(r["opening_mrr"] for r in basis)
    assert defaults["churn"] == pytest.approx(float(lost))
    # churn = gross MRR churn and expansion = expansion / opening: the model's monthly NRR is the warehouse's.
    assert 1 - defaults["churn"] + defaults["expansion"] == pytest.approx(float(pooled_nrr))


def test_funnel_counts_are_nested(built, warehouse_file):
    funnel = built[1]["funnel"]
    assert funnel, "the generator starts trials: the funnel cannot be empty"
    for stage in funnel:
        assert stage["trials_started"] >= stage["converted"] >= stage["expanded"]
        assert stage["converted"] >= stage["retention_measurable"] >= stage["retained_12m"]
    con = connect(warehouse_file, read_only=True)
    try:
        trials = con.sql("select count(distinct account_id) from raw.subscription_events "
                         "where event_type = 'trial_started'").fetchall()[0][0]
    finally:
        con.close()
    assert sum(stage["trials_started"] for stage in funnel) == trials


def test_sales_lists_are_the_top_of_each_mart(built):
    data = built[1]
    for listing in (data["upsell"], data["churn_risk"]):
        assert listing["available"]
        assert len(listing["rows"]) == min(report.TOP_ACCOUNTS, listing["total"])
        assert [r["rank"] for r in listing["rows"]] == sorted(r["rank"] for r in listing["rows"])
        assert all(r["reasons"] for r in listing["rows"])


# ------------------------------------------------------------------------------------------ Dagster

def test_report_asset_writes_the_files_and_links_them(warehouse_file, tmp_path):
    resource = writable_warehouse(warehouse_file, tmp_path)
    result = dg.materialize([revenue_report], resources={"warehouse": resource})
    assert result.success
    metadata = result.asset_materializations_for_node("reports__revenue_report")[0].metadata
    path = Path(metadata["path"].value)
    assert path.exists() and path.parent == tmp_path / "reports"
    assert Path(metadata["latest_path"].value).name == "revenue_report_latest.html"
    assert metadata["open"].value == (tmp_path / "reports" / "revenue_report_latest.html").as_uri()
    con = connect(warehouse_file, read_only=True)
    try:
        mrr = con.sql("select mrr from marts.saas_metrics_monthly order by month desc limit 1").fetchall()[0][0]
    finally:
        con.close()
    assert metadata["kpi_mrr"].value == float(mrr)
    # a table, which the UI shows inline (Markdown this long would hide behind "[Show Markdown]")
    assert [r.data["kpi"] for r in metadata["kpis"].records][0] == "MRR"
    kpi_rows = {r.data["kpi"]: r.data for r in metadata["kpis"].records}
    assert "at 100% gross margin" in kpi_rows["LTV"]["base"]  # LTV's card note, in the UI's table too


def test_waterfall_asset_attaches_its_charts(warehouse_file, tmp_path):
    resource = writable_warehouse(warehouse_file, tmp_path)
    result = dg.materialize([dbt_models], selection=[dg.AssetKey(["marts", "mrr_waterfall"])],
                            resources={"warehouse": resource, "dbt": dbt_resource()})
    metadata = dbt_materialization(result, "marts.mrr_waterfall").metadata
    for key in ("chart_bridge", "chart_movements"):
        image = metadata[key].value
        assert image.startswith("![") and "data:image/png;base64," in image
        assert len(image) < 60_000 * 4 / 3 + 100  # base64 of a PNG of at most 60 KB
    # the trend lines the UI shows inline, latest month first in words (under its 1,000-character limit)
    for key in ("trend_closing_mrr", "trend_customers"):
        assert len(metadata[key].value) < 1000 and "data:image/svg+xml;base64," in metadata[key].value
    preview = metadata["preview"]
    assert [r.data["month"] for r in preview.records] == sorted((r.data["month"] for r in preview.records),
                                                                reverse=True)


def test_metrics_and_cohort_assets_attach_their_charts(warehouse_file, tmp_path):
    resource = writable_warehouse(warehouse_file, tmp_path)
    wanted = [dg.AssetKey(["marts", "saas_metrics_monthly"]), dg.AssetKey(["marts", "cohort_retention"])]
    result = dg.materialize([dbt_models], selection=wanted, resources={"warehouse": resource, "dbt": dbt_resource()})
    metrics = dbt_materialization(result, "marts.saas_metrics_monthly").metadata
    cohorts = dbt_materialization(result, "marts.cohort_retention").metadata
    assert "latest_month" in metrics  # the metrics asset's own metadata is kept beside the chart
    for metadata, key in ((metrics, "chart_metrics"), (cohorts, "chart_logo_retention"),
                          (cohorts, "chart_revenue_retention")):
        assert metadata[key].value.startswith("![") and "data:image/png;base64," in metadata[key].value
        assert "chart_error" not in metadata


# ------------------------------------------------------------------------------------------ in the browser

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs Debian's "
                                                              "chromium through .ci/run)")


@pytest.fixture(scope="module")
def browser():
    with Browser.launch(CHROMIUM) as launched:
        yield launched


@pytest.fixture(scope="module")
def page(browser, built):
    opened = browser.open(built[0].dated.as_uri(), width=1280, height=900)
    opened.wait_for("window.revenueReport !== undefined")
    return opened


@needs_chromium
def test_page_renders_without_console_errors_or_network(page):
    assert page.errors == []
    assert all(url.startswith(("file:", "data:", "about:")) for url in page.requests), page.requests
    # Every chart was drawn: 8 bars in the bridge, both heatmaps, the simulator's two lines.
    assert page.evaluate("document.querySelectorAll('#chart-bridge svg rect').length") == 8
    for chart in ("chart-movements", "chart-mrr", "chart-nrr", "chart-churn", "chart-sim"):
        assert page.evaluate(f"document.querySelector('#{chart} svg') !== null"), chart
    assert page.evaluate("document.querySelectorAll('table.heatmap').length") == 2
    assert page.evaluate("document.querySelectorAll('#chart-sim svg polyline').length") == 2


@needs_chromium
def test_kpis_in_the_page_match_the_warehouse(page, built):
    _, _, (latest, _) = built
    shown = page.evaluate("""Array.from(document.querySelectorAll('[data-kpi]')).map(card => ({
        key: card.dataset.kpi, value: card.dataset.value,
        text: card.querySelector('.kpi-value').textContent}))""")
    assert [card["key"] for card in shown] == [k for k, *_ in report.KPIS]
    for card in shown:
        key, kind = card["key"], next(kind for k, _, kind, _ in report.KPIS if k == card["key"])
        expected = latest[key]
        assert card["text"] == report.format_value(expected, kind), key
        if expected is not None:
            assert Decimal(card["value"]) == expected, key
    mrr_text = next(card["text"] for card in shown if card["key"] == "mrr")
    assert mrr_text == f"${Decimal(latest['mrr']).quantize(Decimal('1'), rounding='ROUND_HALF_UP'):,}"


JS_CASES = [
    dict(price=100, new_customers=10, churn=0.03, expansion=0.01, horizon=36, starting_mrr=50_000, one_time_multiple=12),
    dict(price=100, new_customers=0, churn=0, expansion=0, horizon=24, starting_mrr=50_000, one_time_multiple=1),
    dict(price=49.5, new_customers=7, churn=0.9, expansion=0.0, horizon=60, starting_mrr=0, one_time_multiple=1),
    dict(price=1788.5, new_customers=13, churn=0.010983, expansion=0.028677, horizon=13, starting_mrr=296_891.37,
         one_time_multiple=24),
]


@needs_chromium
@pytest.mark.parametrize("case", JS_CASES, ids=range(len(JS_CASES)))
def test_the_page_projection_is_the_python_projection(page, case):
    in_page = page.evaluate(f"window.revenueReport.project({json.dumps(case)})")
    in_python = project(Assumptions(**case)).as_dict()
    for model in ("subscription", "one_time"):
        for key, expected in in_python[model].items():
            actual = in_page[model][key]
            if isinstance(expected, list):
                assert len(actual) == len(expected)
                assert all(math.isclose(a, e, rel_tol=1e-12, abs_tol=1e-9) for a, e in zip(actual, expected, strict=True)), (model, key)
            else:
                assert math.isclose(actual, expected, rel_tol=1e-12, abs_tol=1e-9), (model, key)


@needs_chromium
def test_moving_a_slider_recomputes_the_projection(page, built):
    defaults = built[1]["simulator"]
    start = page.evaluate("document.getElementById('sim-mrr').textContent")
    expected = project(Assumptions(**{k: defaults[k] for k in ("price", "new_customers", "churn", "expansion",
                                                                 "horizon", "starting_mrr", "one_time_multiple")}))
    assert start == page.evaluate(f"new Intl.NumberFormat('en-US', {{style: 'currency', currency: 'USD', "
                                  f"maximumFractionDigits: 0}}).format({expected.subscription.mrr_at_horizon})")
    before_chart = page.evaluate("document.querySelector('#chart-sim svg polyline').getAttribute('points')")

    def move(slider: str, value: float) -> None:
        page.evaluate(f"""(() => {{ const input = document.getElementById('{slider}');
            input.value = '{value}'; input.dispatchEvent(new Event('input', {{bubbles: true}})); }})()""")

    move("sim-new", page.evaluate("document.getElementById('sim-new').max"))
    more_customers = page.evaluate("document.getElementById('sim-mrr').textContent")
    assert more_customers != start
    assert _dollars(more_customers) > _dollars(start)
    assert page.evaluate("document.querySelector('#chart-sim svg polyline').getAttribute('points')") != before_chart

    # Churn above expansion: NRR below 100%, and the reading says so.
    move("sim-expansion", 0.5)
    move("sim-churn", 5)
    assert page.evaluate("window.revenueReport.state.churn") == pytest.approx(0.05)
    assert page.evaluate("document.getElementById('sim-nrr').textContent") == f"{0.955**12 * 100:.1f}%"
    assert "NRR below 100%" in page.evaluate("document.getElementById('sim-reading').textContent")
    move("sim-expansion", 8)
    assert "NRR above 100%: expansion (8.00% a month) outweighs churn (5.00%)" in page.evaluate(
        "document.getElementById('sim-reading').textContent")
    assert page.evaluate("document.getElementById('sim-reading').textContent") == page.evaluate(
        "window.revenueReport.reading(window.revenueReport.state)")

    # The toggle: one-time sales have no NRR beyond what is left of the old subscriptions.
    page.evaluate("document.getElementById('sim-model-one-time').click()")
    assert page.evaluate("window.revenueReport.state.model") == "one_time"
    assert page.evaluate("document.getElementById('sim-nrr').textContent") == f"{0.95**12 * 100:.1f}%"
    assert page.evaluate("document.getElementById('sim-reading').textContent").startswith("One-time sales")
    assert page.errors == []

    page.evaluate("document.getElementById('sim-reset').click()")
    assert page.evaluate("document.getElementById('sim-mrr').textContent") == start


CHART_TEXT = """Array.from(document.querySelectorAll('.chart svg')).flatMap(svg => {
    const scale = svg.getScreenCTM().a;  // CSS px per SVG unit, as the page is laid out
    return Array.from(svg.querySelectorAll('text')).map(t => {
        const box = t.getBoundingClientRect();
        return {chart: svg.parentElement.id, text: t.textContent, xLabel: t.classList.contains('x-label'),
                slanted: t.hasAttribute('transform'), left: box.left, right: box.right,
                px: parseFloat(getComputedStyle(t).fontSize) * scale};
    });
})"""


@needs_chromium
@pytest.mark.parametrize("width", [1280, 800, 390])
def test_every_chart_label_is_readable(browser, built, width):
    # 10 px is the smallest text the page draws; month labels that do not fit are thinned out, never shrunk
    # (they were 5.5 px on 24 months), and the bridge's step names slant instead.
    opened = browser.open(built[0].dated.as_uri(), width=width, height=900)
    opened.wait_for("window.revenueReport !== undefined")
    texts = opened.evaluate(CHART_TEXT)
    charts = {t["chart"] for t in texts}
    assert {"chart-bridge", "chart-movements", "chart-mrr", "chart-nrr", "chart-churn", "chart-sim"} <= charts
    small = [(t["chart"], t["text"], round(t["px"], 2)) for t in texts if t["px"] < 10]
    assert small == []
    for chart in charts:
        labels = [t for t in texts if t["chart"] == chart and t["xLabel"]]
        assert len(labels) >= 2, chart
        flat = sorted((t for t in labels if not t["slanted"]), key=lambda t: t["left"])
        overlapping = [(a["text"], b["text"]) for a, b in itertools.pairwise(flat) if a["right"] > b["left"]]
        assert overlapping == [], chart
    # every step of the bridge is named, however narrow the chart
    assert [t["text"] for t in texts if t["chart"] == "chart-bridge" and t["xLabel"]] == [
        "Opening", "New", "Expansion", "Reactivation", "Contraction", "Churned", "FX", "Closing"]
    assert opened.errors == []


# The what-if sentences, at the edges. Amounts are formatted by the page's own `money` to compare with the text.
ISSUE_CASE = dict(price=100, new_customers=10, churn=0.0114, expansion=0.0, horizon=12, starting_mrr=50_000,
                  one_time_multiple=12, model="subscription")


def _reading(page, **changes):
    assumptions = ISSUE_CASE | changes
    text = page.evaluate(f"window.revenueReport.reading({json.dumps(assumptions)})")
    figures = project(Assumptions(**{k: v for k, v in assumptions.items() if k != "model"}))
    return text, figures, lambda v: page.evaluate(f"window.revenueReport.money({v!r})")


@needs_chromium
def test_reading_explains_one_time_sales_ahead_at_the_horizon_with_the_amounts_that_make_it(page):
    # 1.14% churn, no expansion, 12 months, one-time at 12 months' price: the old text said a subscriber
    # "stays 88 months on average, fewer than the 12 months' price". One-time sales are ahead in month 12 because
    # that month's 10 sales x $1,200 = $12,000 outweigh what 12 months of subscribers pay then:
    # $1,000 x (1 + r + ... + r^11) with r = 0.9886, i.e. month-12 subscription revenue minus 50,000 x r^12.
    text, figures, money = _reading(page)
    sub, one = figures.subscription.revenue_at_horizon, figures.one_time.revenue_at_horizon
    won = sub - 50_000 * 0.9886**12
    assert one > sub
    assert "fewer" not in text and "88" not in text
    assert (f"In month 12 the subscription brings {money(sub)} a month, less than the {money(one)} of one-time "
            f"sales: that month's new customers pay $12,000 up front (12 months' price each), more than the "
            f"{money(won)} a month the subscribers won over 12 months pay by then.") in text
    assert "today's customers pay 12.9% less a year from now" in text  # NRR 12m 0.9886^12 = 87.1%


@needs_chromium
def test_reading_of_one_time_sales_compares_a_subscribers_lifetime_with_one_sale(page):
    # 8% churn: a subscriber stays 1 / 0.08 = 12.5 months and pays 12.5 x $100 = $1,250, more than one sale's
    # $1,200 (the old text rounded to "13" and said "fewer than 12").
    text, _, _ = _reading(page, churn=0.08, model="one_time")
    assert "stays 12.5 months on average and pays about $1,250 in all, more than one sale's $1,200." in text
    # 100% churn: one month, $100, less than $1,200; nothing is left of the old subscriptions.
    text, _, _ = _reading(page, churn=1.0, model="one_time")
    assert "stays 1 month on average and pays about $100.00 in all, less than one sale's $1,200." in text
    assert "run off at 100.00% a month ($0.00 left)" in text
    # no churn: nothing runs off, and no lifetime to compare
    text, _, _ = _reading(page, churn=0.0, model="one_time")
    assert "with no churn the subscriptions already sold keep paying $50,000" in text
    assert "With no churn a subscriber pays for ever" in text and "run off" not in text


@needs_chromium
@pytest.mark.parametrize(("multiple", "expected"), [
    # month 12: subscription $54,848; one-time $43,573 + 10 x $100 x multiple
    (13, "less than the $56,573 of one-time sales"),  # 54,848 / 56,573 = 0.97: never "1.0x"
    (9.7, "(3.0% more than the $53,273 of one-time sales)"),  # 1.03
    (1, "(23.1% more than the $44,573 of one-time sales)"),
])
def test_reading_ratio_never_rounds_to_one(page, multiple, expected):
    text, figures, _ = _reading(page, one_time_multiple=multiple)
    assert expected in text
    assert "×" not in text


@needs_chromium
def test_reading_at_the_edges(page):
    # 0% churn and 0% expansion: NRR exactly 100%, MRR grows by $1,000 a month to 50,000 + 12 x 1,000 = $62,000;
    # one-time sales bring the old 50,000 + that month's 1,000: 62,000 / 51,000 = 1.216.
    text, _, _ = _reading(page, churn=0.0, one_time_multiple=1)
    assert text.startswith("No churn and no expansion: today's customers pay the same a year from now (NRR 100%)")
    assert "In month 12 the subscription brings $62,000 a month (21.6% more than the $51,000 of one-time sales)." in text
    # 50% churn, horizon 1, multiple 1: both bring 50,000 x 0.5 + 1,000 = $26,000 in month 1
    text, _, _ = _reading(page, churn=0.5, horizon=1, one_time_multiple=1)
    assert "In month 1 the subscription brings $26,000 a month, about as much as one-time sales ($26,000)." in text
    # 100% churn: NRR 0, MRR falls to each month's $1,000 of new sales
    text, _, _ = _reading(page, churn=1.0)
    assert "today's customers pay 100.0% less a year from now" in text
    assert "MRR falls towards $1,000" in text
    # no new customers: MRR shrinks towards nothing
    text, _, _ = _reading(page, new_customers=0, churn=0.03)
    assert "With no new sales, MRR shrinks towards $0.00." in text and "rises" not in text
    # expansion above churn: 1.02^12 = 1.268 -> 26.8% more; the subscription is 2.0x or more at 60 months
    text, figures, money = _reading(page, churn=0.01, expansion=0.03, horizon=60, one_time_multiple=1)
    ratio = figures.subscription.revenue_at_horizon / figures.one_time.revenue_at_horizon
    assert "today's customers alone pay 26.8% more a year from now" in text
    assert f"In month 60 the subscription brings {money(figures.subscription.revenue_at_horizon)} a month ({ratio:.1f}× the" in text
    assert ratio >= 1.95
    # horizon 1: the month's own new subscribers
    text, figures, money = _reading(page, horizon=1)
    assert "In month 1 the subscription brings $50,430 a month, less than the $61,430 of one-time sales" in text
    assert "more than the $1,000 a month that month's new subscribers pay." in text


@needs_chromium
def test_reading_has_no_broken_numbers_anywhere_on_the_grid(page):
    for churn, expansion, horizon, multiple, model, new in itertools.product(
            (0, 0.0114, 0.08, 1.0), (0, 0.01, 0.08), (1, 12, 60), (1, 12, 36), ("subscription", "one_time"), (0, 10)):
        text, figures, money = _reading(page, churn=churn, expansion=expansion, horizon=horizon,
                                        one_time_multiple=multiple, model=model, new_customers=new)
        case = (churn, expansion, horizon, multiple, model, new)
        assert not re.search(r"NaN|Infinity|undefined|(?<!\d)1\.0×|fewer|−\$|-\$", text), (case, text)
        if model == "subscription":
            sub, one = figures.subscription.revenue_at_horizon, figures.one_time.revenue_at_horizon
            assert f"In month {horizon} the subscription brings {money(sub)} a month" in text, (case, text)
            for shown in re.findall(r"\(([\d.]+)× the", text):
                assert shown == f"{sub / one:.1f}" and sub / one >= 1.95, (case, text)
            if money(sub) == money(one):
                assert "about as much as one-time sales" in text, (case, text)
            elif sub < one:
                assert f"less than the {money(one)} of one-time sales" in text, (case, text)
            else:
                assert "less than the" not in text, (case, text)


@needs_chromium
def test_screenshot_for_review(page):
    page.evaluate("document.getElementById('sim-reset').click()")
    path = page.screenshot(SCREENSHOT)
    assert path.read_bytes().startswith(b"\x89PNG")
    assert page.errors == []


def _dollars(text: str) -> float:
    return float(text.replace("$", "").replace(",", ""))


@needs_chromium
def test_a_one_month_warehouse_without_sales_lists_still_renders(browser, tmp_path):
    # The first day of a new customer base: one month, one account, no sales marts yet.
    landing = Landing(tmp_path / "landing")
    landing.add(account("A", on="2025-01-02"), trial("A", on="2025-01-03"), starts("A", seats=3, price=20, on="2025-01-10"))
    con = build_metrics(build(landing))
    files, data = report.build_report(con, tmp_path / "reports")
    page_text = files.dated.read_text()
    assert "The upsell list was not built in this run." in page_text
    assert data["kpis"][0]["text"] == "$60.00" and data["kpis"][0]["change_text"] == "no previous month"
    opened = browser.open(files.dated.as_uri())
    opened.wait_for("window.revenueReport !== undefined")
    assert opened.evaluate("document.getElementById('sim-mrr').textContent") != ""
    assert opened.errors == []
