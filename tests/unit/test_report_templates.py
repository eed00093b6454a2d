"""The report's rendering (transforms/report/): hostile text stays text on the page and in
the data its script reads, the page is its list of sections, and the charts are SVG the page can inline.

The formats of money and percentages (transforms/core/formatting.py) are worked out by hand below."""

import json
import re
from decimal import Decimal
from html.parser import HTMLParser

import polars as pl
import pytest

from tests.support.browser import Browser, find_chromium
from tests.support.story import Landing, account, build, build_metrics, starts, trial
from transforms import report
from transforms.core import formatting
from transforms.core.palette import COLORS, retention_color
from transforms.report import canvas, charts

# Tags, both quotes, an attribute that would run code, a closing </script>, markup-like entities, a control
# character and a line break: every one must reach the reader as the characters typed.
HOSTILE = "</script><script>alert(1)</script>\"'><img src=x onerror=alert(2)>&amp; <b>bold</b>\x07\nend"
SHOWN = HOSTILE.replace("\x07", " ").replace("\n", " ")  # control characters become spaces (layout)


class Elements(HTMLParser):
    """Every start tag and its attributes, and the text inside each <td>'s <strong>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.strong: list[str] = []
        self._in_strong = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_strong = tag == "strong" and self.tags[-2][0] == "td"
        if self._in_strong:
            self.strong.append("")

    def handle_endtag(self, tag):
        if tag == "strong":
            self._in_strong = False

    def handle_data(self, data):
        if self._in_strong:
            self.strong[-1] += data


@pytest.fixture(scope="module")
def hostile_page(tmp_path_factory):
    """A one-month warehouse's report, with a follow-up list whose every text field is hostile and a
    simulator basis (printed in the page and embedded in its JSON) that is too."""
    root = tmp_path_factory.mktemp("hostile")
    landing = Landing(root / "landing")
    landing.add(account("A", on="2025-01-02", name=HOSTILE), trial("A", on="2025-01-03"),
                starts("A", seats=3, price=20, on="2025-01-10"))
    con = build_metrics(build(landing))
    data = report.collect_report_data(con)
    con.close()
    row = {"account_id": HOSTILE, "account_name": HOSTILE, "sales_owner": HOSTILE, "plan_id": HOSTILE,
           "recommended_plan_id": HOSTILE, "mrr": 60.0, "expected_mrr_uplift": 20.0, "score": 0.5,
           "reasons": [HOSTILE, "usage_growth"], "summary": HOSTILE, "rank": 1}
    data["upsell"] = {"available": True, "total": 1, "rows": [row]}
    data["churn_risk"] = {"available": True, "total": 1, "rows": [row]}
    data["simulator"]["basis"] = HOSTILE
    page = root / "report.html"
    page.write_text(report.render_html(data))
    return page


def test_hostile_text_renders_as_text(hostile_page):
    html = hostile_page.read_text()
    parsed = Elements()
    parsed.feed(html)
    tags = [tag for tag, _ in parsed.tags]
    assert tags.count("script") == 2  # the data and the simulator: nothing a name could add
    assert "img" not in tags and "b" not in tags
    assert not [attrs for _, attrs in parsed.tags if "onerror" in attrs]
    # both tables show the name as typed (control characters as spaces), in the cell and in its title
    assert parsed.strong == [SHOWN, SHOWN]
    assert sum(attrs.get("title") == SHOWN for tag, attrs in parsed.tags if tag == "td") == 2
    # the data the script reads keeps the text exactly, and no "<" of it can close the <script> element
    embedded = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', html, re.S).group(1)
    assert "<" not in embedded and json.loads(embedded)["simulator"]["basis"] == HOSTILE


def test_a_long_name_is_cut_in_the_cell_and_whole_in_its_title():
    cell = report._account_cell({"account_name": "é" * 5000, "account_id": "A"})
    assert f"<strong>{'é' * (report.NAME_CHARS - 1)}…</strong>" in cell
    assert f'title="{"é" * report.TITLE_CHARS}"' in cell


CHROMIUM = find_chromium()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs Debian's chromium)")
def test_hostile_text_is_text_in_the_browser(hostile_page):
    with Browser.launch(CHROMIUM) as browser:
        page = browser.open(hostile_page.as_uri())
        page.wait_for("window.revenueReport !== undefined")
        assert page.errors == []
        assert page.evaluate("document.querySelectorAll('script').length") == 2
        assert page.evaluate("document.querySelectorAll('img, b').length") == 0
        names = page.evaluate("Array.from(document.querySelectorAll('table.accounts td strong'), s => s.textContent)")
        assert names == [SHOWN, SHOWN]
        assert page.evaluate("window.revenueReport.data.simulator.basis") == HOSTILE
        assert HOSTILE in page.evaluate("document.querySelector('#simulator .note').textContent")


# ------------------------------------------------------------------------------------------ sections

@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    landing = Landing(tmp_path_factory.mktemp("small") / "landing")
    landing.add(account("A", on="2025-01-02"), starts("A", seats=3, price=20, on="2025-01-10"),
                account("B", on="2025-02-02"), starts("B", seats=1, price=50, on="2025-02-03"))
    con = build_metrics(build(landing))
    yield con, report.collect_report_data(con)
    con.close()


def test_the_page_is_its_list_of_sections(small_data):
    _, data = small_data
    page = report.render_html(data)
    anchors = [s.anchor for s in report.SECTIONS]
    assert re.findall(r'<section id="([^"]+)"', page) == anchors
    assert re.findall(r'<a href="#([^"]+)">', page) == anchors  # the header links them in the same order
    without_funnel = [s for s in report.SECTIONS if s.anchor != "funnel"]
    page = report.render_html(data, sections=without_funnel)
    assert 'id="funnel"' not in page and 'href="#funnel"' not in page


def test_two_sections_may_not_claim_the_same_key(small_data):
    con, _ = small_data
    twice = report.SECTIONS + [report.Section("kpis-again", "Again", report.headline)]
    with pytest.raises(KeyError, match="kpis"):
        report.collect_report_data(con, sections=twice)


def test_every_section_has_its_template():
    for section in report.SECTIONS:
        assert (report.TEMPLATE_DIR / section.template).is_file(), section.anchor


def test_the_stylesheet_takes_its_colours_from_the_palette(small_data):
    page = report.render_html(small_data[1])
    assert f"--accent: {COLORS['line']}; --good: {COLORS['good']}; --bad: {COLORS['bad']};" in page


# ------------------------------------------------------------------------------------------ the charts as SVG

def waterfall(months: int = 3) -> pl.DataFrame:
    # Month 3: opening 1,000; +300 new, +100 expansion, -50 contraction, -150 churned, -20 FX -> 1,180.
    rows = [dict(month=f"2025-0{i + 1}-01", opening_mrr=Decimal(1000), new_mrr=Decimal(300),
                 expansion_mrr=Decimal(100), reactivation_mrr=Decimal(0), contraction_mrr=Decimal(50),
                 churned_mrr=Decimal(150), fx_adjustment=Decimal(-20), closing_mrr=Decimal(1180))
            for i in range(months)]
    return pl.DataFrame(rows).with_columns(pl.col("month").str.to_date())


def test_a_chart_is_svg_the_page_can_inline():
    svg = charts.bridge_chart(waterfall()).svg("bridge", "MRR bridge")
    assert svg.startswith('<svg class="drawn" width="563"') and 'viewBox="0 0 563 ' in svg
    assert "url(" not in svg and "clip" not in svg and "<style" not in svg and "<metadata" not in svg
    assert "font-family" not in svg  # the page's font
    # eight bars, each a rect with its exact amount as a tooltip (a $0 step too)
    assert svg.count("<rect ") == 8
    titles = re.findall(r"<title>([^<]*)</title>", svg)
    assert titles == ["Opening: $1,000", "New: $300.00", "Expansion: $100.00", "Reactivation: $0.00",
                      "Contraction: -$50.00", "Churned: -$150.00", "FX: -$20.00", "Closing: $1,180"]
    labels = re.findall(r'<text [^>]*class="x-label"[^>]*>([^<]*)</text>', svg)
    assert labels == ["Opening", "New", "Expansion", "Reactivation", "Contraction", "Churned", "FX", "Closing"]
    sizes = [float(s) for s in re.findall(r"font-size: ([\d.]+)px", svg)]
    assert sizes and min(sizes) >= 10


def test_month_labels_are_thinned_to_fit_not_shrunk():
    # 60 months across 563 px: slots of (563 - 62 - 12) / 60 = 8.15 px; the widest label, "May 21", is 38.4 px
    # at 10.5 px, 44.4 with its 6 px of room: every ceil(44.4 / 8.15) = 6th month is labelled, 10 labels (at
    # most 12, every 5th, would be the only rule without the width), all at 10.5 px, 6 slots = 48.9 px apart.
    frame = pl.DataFrame({"month": pl.date_range(pl.date(2021, 1, 1), pl.date(2025, 12, 1), "1mo", eager=True),
                          "mrr": [float(i) for i in range(60)]})
    assert canvas.text_width("May 21", canvas.X_LABEL_PX) == pytest.approx(38.4, abs=0.1)
    svg = charts.mrr_chart(frame, width=canvas.HALF).svg("mrr", "MRR")
    labels = re.findall(r'<text style="font-size: ([\d.]+)px[^>]*class="x-label"[^>]*>([^<]*)</text>', svg)
    assert [text for _, text in labels] == ["Jan 21", "Jul 21", "Jan 22", "Jul 22", "Jan 23", "Jul 23", "Jan 24",
                                            "Jul 24", "Jan 25", "Jul 25"]
    assert {size for size, _ in labels} == {"10.5"}


def test_two_charts_on_one_page_share_no_id():
    first = charts.mrr_chart(waterfall().rename({"closing_mrr": "mrr"})).svg("mrr", "MRR")
    second = charts.movements_chart(waterfall()).svg("movements", "Movements")
    ids = re.findall(r' id="([^"]+)"', first + second)
    assert ids and len(ids) == len(set(ids))
    for svg in (first, second):
        assert all(href[1:] in ids for href in re.findall(r' href="([^"]+)"', svg))


# ------------------------------------------------------------------------------------------ formatting

def test_money_rounds_half_away_from_zero():
    # $0.005 is half a cent: up to $0.01; -$0.005 down to -$0.01; $999.995 crosses to $1,000.00 (cents
    # below $1,000, whole dollars from there: $1,000.50 is $1,001, -$1,234.50 is -$1,235).
    assert formatting.money(Decimal("0.005")) == "$0.01"
    assert formatting.money(Decimal("-0.005")) == "-$0.01"
    assert formatting.money(Decimal("999.995")) == "$1,000.00"
    assert formatting.money(Decimal("1000.50")) == "$1,001"
    assert formatting.money(Decimal("-1234.50")) == "-$1,235"
    assert formatting.money(60) == "$60.00"
    # the trend lines: whole dollars, half away from zero ($950.50 is $951, where Python's format says $950)
    assert formatting.money_whole(Decimal("950.50")) == "$951"
    assert formatting.money_whole(Decimal("372302.37")) == "$372,302"
    assert formatting.money_cents(Decimal("372302.375")) == "$372,302.38"


def test_short_money_and_percentages():
    assert [formatting.money_short(v) for v in (950, 1234, 28_100, 1_234_567, -704)] == [
        "$950", "$1.2k", "$28k", "$1.23M", "−$704"]
    assert formatting.percent(0.8512) == "85.1%" and formatting.percent(0.05, 2) == "5.00%"
    assert formatting.points(-0.206) == "20.6 pts"
    assert formatting.count(1234) == "1,234" and formatting.ratio(0.3456) == "0.35"


def test_the_sales_sentences_write_money_exactly():
    frame = pl.DataFrame({"amount": [Decimal("1234.50"), Decimal("1234"), Decimal("-5.05"), Decimal("0")]})
    shown = frame.select(formatting.money_expr(pl.col("amount"))).to_series().to_list()
    assert shown == ["$1,234.50", "$1,234", "$-5.05", "$0"]


def test_the_heatmap_scale_runs_from_pale_red_to_deep_green():
    # top 1.0: 0 is the first stop, 1 the last, 0.5 half way between the 2nd (#ffcc80) and 3rd (#a5d6a7):
    # (255+165)/2 = 210 = d2, (204+214)/2 = 209 = d1, (128+167)/2 = 147.5 -> 148 = 94.
    assert retention_color(0.0, 1.0) == "#fbe9e7"
    assert retention_color(1.0, 1.0) == "#1b5e20"
    assert retention_color(0.5, 1.0) == "#d2d194"
    assert retention_color(None, 1.0) == ""
