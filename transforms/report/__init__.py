"""The offline revenue report: one self-contained HTML file per run, read from the marts (no Dagster here).

    data = collect_report_data(con)       # what each section shows, read from the marts (charts drawn)
    html = render_html(data)              # the page: Jinja2 templates, CSS and JS inlined, autoescaped
    files = write_report(html, reports_dir, data["as_of_date"])     # or build_report(con, reports_dir)

    marts.py       what the page shows, read from the marts (KPI cards, simulator defaults, cohorts, funnel, lists)
    sections.py    the page as a list of SECTIONS: each one template and one data function
    page.py        the Jinja2 environment, render_html, the files
    charts.py      the charts, drawn once with matplotlib: inline SVG here, PNG in the Dagster UI
    canvas.py      a chart's frame, and its SVG and PNG output
    sparklines.py  the one-line trends the Dagster UI shows inline
    templates/     report.html (the page), sections/*.html, parts.html (macros), report.css, report.js

Every value a template prints is escaped by Jinja2's autoescape: a customer's name is text, never markup;
nothing here assembles HTML by hand. The page's script (templates/report.js) only runs the what-if
simulator, whose formulas are those of transforms/simulator.py (tests/integration/test_report.py compares
them). Money and percentages are written by transforms/core/formatting.py, colours come from
transforms/core/palette.py. docs/report.md describes every section and decision.
"""

from transforms.report.marts import (
    CHURN_RISK_TABLE,
    DEFINITIONS,
    KPIS,
    TOP_ACCOUNTS,
    UPSELL_TABLE,
    customer_funnel,
    format_change,
    format_value,
    funnel_stages,
    headline_kpis,
    retention_grid,
    simulator_defaults,
)
from transforms.report.page import (
    LATEST_NAME,
    NAME_CHARS,
    TEMPLATE_DIR,
    TITLE_CHARS,
    ReportFiles,
    _account_cell,
    _kpi_cards,
    _reasons,
    build_report,
    display_name,
    reason_label,
    render_html,
    write_report,
)
from transforms.report.sections import SECTIONS, Basis, Section, collect_report_data, headline

__all__ = [
    "CHURN_RISK_TABLE", "DEFINITIONS", "KPIS", "LATEST_NAME", "NAME_CHARS", "SECTIONS", "TEMPLATE_DIR",
    "TITLE_CHARS", "TOP_ACCOUNTS", "UPSELL_TABLE", "Basis", "ReportFiles", "Section", "_account_cell",
    "_kpi_cards", "_reasons", "build_report", "collect_report_data", "customer_funnel", "display_name",
    "format_change", "format_value", "funnel_stages", "headline", "headline_kpis", "reason_label",
    "render_html", "retention_grid", "simulator_defaults", "write_report",
]
