"""The report's HTML: the Jinja2 environment (autoescape on), the page's parts as macros, and the files
written. Nothing here assembles HTML by hand: it is all in templates/, and every value they print is escaped."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import duckdb
import jinja2
from markupsafe import Markup

from transforms.core import formatting
from transforms.core.files import replace_atomically
from transforms.core.palette import retention_color, retention_ink
from transforms.report.marts import TOP_ACCOUNTS, format_value
from transforms.report.sections import SECTIONS, Section, collect_report_data

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
LATEST_NAME = "revenue_report_latest.html"


# ------------------------------------------------------------------------------------------ template helpers

# A limit reason's tag says where the account is against its limit, as its sentence does (the code stays).
LIMIT_UTILISATION = {"seat_limit_near": ("seat_utilisation", "seat limit"),
                     "usage_limit_near": ("api_utilisation", "usage limit")}


def reason_label(code: str, row: dict) -> str:
    if code in LIMIT_UTILISATION:
        column, name = LIMIT_UTILISATION[code]
        used = row.get(column)
        if used is not None and used > 1:
            return f"over {name}"
        if used is not None and used == 1:
            return f"at {name}"
    return code.replace("_", " ")


def reason_codes(value) -> list[str]:
    """A list's reasons, held as a list or as comma-separated codes."""
    codes = value if isinstance(value, list) else [c for c in str(value or "").split(",") if c]
    return [c.strip() for c in codes]


# A name is the customer's text: its control characters made spaces, and cut to this many characters (the
# whole name, up to 2,000 characters, is in the title) so that a runaway name cannot break the page's layout.
NAME_CHARS = 120
TITLE_CHARS = 2000


def display_name(value: object) -> dict[str, str]:
    """{"shown", "title"} for a name: plain text (the template escapes it); shown cut at NAME_CHARS."""
    text = re.sub(r"[\x00-\x1f\x7f-\x9f]", " ", str(value))
    shown = text if len(text) <= NAME_CHARS else text[: NAME_CHARS - 1] + "…"
    return {"shown": shown, "title": text[:TITLE_CHARS]}


def _month_name(iso: str | None) -> str:
    return date.fromisoformat(iso).strftime("%B %Y") if iso else "—"


def _short_month(iso: str) -> str:
    return date.fromisoformat(iso).strftime("%b %Y")


# ------------------------------------------------------------------------------------------ HTML

@cache
def environment() -> jinja2.Environment:
    """The templates in templates/, every printed value escaped (autoescape), undefined names an error."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    # `tojson` writes the data the page's script reads: "<", ">", "&" and "'" as \u escapes, so a value
    # can never close the <script> element it sits in.
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "allow_nan": False, "sort_keys": False}
    env.filters.update(money=lambda value: format_value(value, "money"), percent=formatting.percent,
                       month_name=_month_name, short_month=_short_month)
    env.globals.update(retention_color=retention_color, retention_ink=retention_ink, reason_label=reason_label,
                       reason_codes=reason_codes, display_name=display_name)
    return env


def render_html(data: dict, sections: list[Section] | None = None) -> str:
    """The page: templates/report.html with each section's template, the CSS and the simulator's
    script inlined, and the data the script needs embedded as JSON."""
    env = environment()
    script = Markup((TEMPLATE_DIR / "report.js").read_text())  # our own static file, inlined as it is
    page_data = {key: data[key] for key in ("as_of_date", "latest_month", "simulator", "colors")}
    return env.get_template("report.html").render(data, sections=sections or SECTIONS, page_data=page_data,
                                                  script=script)


def _macro(name: str):
    return getattr(environment().get_template("parts.html").module, name)


# The page's parts, as the templates render them (tests read them one by one).
def _kpi_cards(kpis: list[dict]) -> str:
    return str(_macro("kpi_cards")(kpis))


def _account_cell(row: dict) -> str:
    return str(_macro("account_cell")(row))


def _reasons(value, row: dict | None = None) -> str:
    return str(_macro("reasons")(value, row or {}))


# ------------------------------------------------------------------------------------------ files

@dataclass(frozen=True)
class ReportFiles:
    dated: Path  # revenue_report_<as_of date>.html
    latest: Path  # revenue_report_latest.html


def write_report(page: str, reports_dir: str | Path, as_of_date: str | date) -> ReportFiles:
    """Write the page twice (dated and latest), each atomically: a browser or a file share never sees half
    a file. A re-run on the same data day replaces that day's file."""
    folder = Path(reports_dir)
    folder.mkdir(parents=True, exist_ok=True)
    day = as_of_date if isinstance(as_of_date, str) else as_of_date.isoformat()
    files = ReportFiles(folder / f"revenue_report_{day}.html", folder / LATEST_NAME)
    for target in (files.dated, files.latest):
        replace_atomically(target, lambda out: out.write(page))
    return files


def build_report(con: duckdb.DuckDBPyConnection, reports_dir: str | Path, top: int = TOP_ACCOUNTS
                 ) -> tuple[ReportFiles, dict]:
    """Read the marts, render the page and write both files; returns the files and the data shown."""
    data = collect_report_data(con, top=top)
    return write_report(render_html(data), reports_dir, data["as_of_date"]), data
