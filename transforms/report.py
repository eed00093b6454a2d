"""The offline revenue report: one self-contained HTML file per run, read from the marts (no Dagster here).

    data = collect_report_data(con)       # what each section shows, read from the marts (charts drawn)
    html = render_html(data)              # the page: Jinja2 templates, CSS and JS inlined, autoescaped
    files = write_report(html, reports_dir, data["as_of_date"])

The page is a list of SECTIONS. Each is one template, `report_template/sections/<anchor>.html`, and one data
function, `(con, basis) -> dict`, whose keys its template reads (docs/report.md: adding a section). Every
value a template prints is escaped by Jinja2's autoescape: a customer's name is text, never markup; nothing
here assembles HTML by hand. The charts are drawn once, in Python (transforms/charts.py: inline SVG here,
PNG in the Dagster UI); the page's script (`report_template/report.js`) only runs the what-if simulator,
whose formulas are those of `transforms/simulator.py` (tests/integration/test_report.py compares them).
Money and percentages are written by transforms/core/formatting.py, colours come from transforms/core/palette.py.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

import duckdb
import jinja2
import polars as pl
from markupsafe import Markup

from transforms import charts
from transforms.core import formatting
from transforms.core.files import replace_atomically
from transforms.core.palette import COLORS, retention_color, retention_ink
from transforms.metric_bases import Base, metric_bases
from transforms.simulator import Assumptions

TEMPLATE_DIR = Path(__file__).resolve().parent / "report_template"
LATEST_NAME = "revenue_report_latest.html"
TOP_ACCOUNTS = 10
FLOW_MONTHS = 3  # full months the simulator's flows (new customers, churn, expansion) start from
UPSELL_TABLE = "marts.upsell_opportunities"
CHURN_RISK_TABLE = "marts.churn_risk_accounts"

# The headline cards: column of marts.saas_metrics_monthly, label, format, and whether up is good.
KPIS = [
    ("mrr", "MRR", "money", True),
    ("arr", "ARR", "money", True),
    ("customers", "Customers", "count", True),
    ("arpa", "ARPA", "money", True),
    ("nrr", "NRR (month)", "percent", True),
    ("nrr_12m", "NRR (12 months)", "percent", True),
    ("grr", "GRR (month)", "percent", True),
    ("logo_churn_rate", "Logo churn", "percent", False),
    ("quick_ratio", "Quick ratio", "ratio", True),
    ("ltv", "LTV", "money", True),
]

# One line each (docs/metrics.md and docs/sales.md have the long form).
DEFINITIONS = [
    ("MRR", "Monthly recurring revenue at the month's end: price × seats × (1 − discount %) less any fixed "
            "discount, per month of the billing period, of every active subscription, in USD at that month's FX "
            "rate. Trials, paused and canceled subscriptions count 0."),
    ("ARR", "Annual run rate: MRR × 12."),
    ("Customers", "Accounts with MRR above 0 at the month's end."),
    ("ARPA", "Average revenue per account: MRR / customers."),
    ("NRR (month)", "(Opening MRR + expansion − contraction − churned) / opening MRR; new and reactivated "
                    "customers are left out."),
    ("GRR (month)", "(Opening MRR − contraction − churned) / opening MRR: what is kept without any upsell; at most 100%."),
    ("NRR (12 months)", "MRR this month of the accounts that paid 12 months ago / their MRR then."),
    ("Logo churn", "Customers lost this month / customers at the end of last month."),
    ("Gross MRR churn", "(Churned + contraction MRR) / opening MRR."),
    ("Quick ratio", "(New + expansion + reactivation MRR) / (churned + contraction MRR): above 1, more MRR comes "
                    "in than goes out (Baremetrics leaves reactivation out)."),
    ("LTV", "Lifetime value: ARPA × gross margin / mean logo churn rate of the 6 months before this one. The gross "
            "margin is the setting SUBWH_GROSS_MARGIN (default 100%: LTV in revenue); the LTV card states it."),
    ("New", "MRR of accounts paying for the first time."),
    ("Expansion", "MRR added by accounts that paid last month and pay more now (upgrades, seats)."),
    ("Reactivation", "MRR of accounts paying again after a month or more at zero."),
    ("Contraction", "MRR lost by accounts that still pay, but less (downgrades, fewer seats)."),
    ("Churned", "Last month's MRR of accounts that stopped paying."),
    ("FX", "Change in last month's MRR from valuing it at this month's exchange rates."),
    ("Logo retention (cohort)", "Share of a cohort's customers (grouped by first paid month) paying k months later."),
    ("Revenue retention (cohort)", "A cohort's MRR k months later / its MRR in its first month; above 100% when "
                                   "expansion outweighs churn."),
    ("Funnel", "By month of an account's first trial: trials started → converted (paid after the trial) → "
               "expanded (at least one expansion) → retained (still paying 12 months after the first payment)."),
    ("Upsell opportunity", "An active account near its plan's seat or API limit, or whose usage grew 1.5× in 30 "
                           "days, with no churn risk."),
    ("Churn risk", "An active account with an unpaid failed payment, a scheduled cancellation, or usage down 50% "
                   "in the last 30 days."),
]


# ------------------------------------------------------------------------------------------ the sections

@dataclass(frozen=True)
class Basis:
    """What every section may use, read once: the data's as-of instant and the two monthly marts."""

    as_of: datetime
    metrics: list[dict]  # marts.saas_metrics_monthly, by month
    waterfall: list[dict]  # marts.mrr_waterfall, by month
    top: int  # how many accounts a follow-up list shows

    @property
    def latest(self) -> dict:
        return self.metrics[-1]

    @property
    def previous(self) -> dict | None:
        return self.metrics[-2] if len(self.metrics) > 1 else None


@dataclass(frozen=True)
class Section:
    """One section of the page: `anchor` is its id in the page and names its template
    (report_template/sections/<anchor>.html), `nav` its link in the header, and `data` reads what it shows:
    a dict whose keys the template reads (and which collect_report_data returns, so no two sections may
    use the same key)."""

    anchor: str
    nav: str
    data: Callable[[duckdb.DuckDBPyConnection, Basis], dict]

    @property
    def template(self) -> str:
        return f"sections/{self.anchor}.html"


def headline(con: duckdb.DuckDBPyConnection, basis: Basis) -> dict:
    return {"kpis": headline_kpis(basis.latest, basis.previous, metric_bases(con, basis.latest["month"]))}


def waterfall(con: duckdb.DuckDBPyConnection, basis: Basis) -> dict:
    drawn = {}
    if basis.waterfall:
        frame = pl.DataFrame(basis.waterfall)
        drawn = {"bridge": charts.bridge_chart(frame).svg("bridge", "MRR bridge for the latest month"),
                 "movements": charts.movements_chart(frame).svg("movements", "MRR movements by month")}
    return {"waterfall": [_jsonable(row) for row in basis.waterfall], "waterfall_charts": _safe(drawn)}


def trend(con: duckdb.DuckDBPyConnection, basis: Basis) -> dict:
    frame = pl.DataFrame(basis.metrics)
    drawn = {"mrr": charts.mrr_chart(frame).svg("mrr", "MRR by month"),
             "nrr": charts.nrr_chart(frame).svg("nrr", "Net revenue retention"),
             "churn": charts.churn_chart(frame).svg("churn", "Logo churn rate by month")}
    columns = ("month", "mrr", "customers", "nrr", "nrr_12m", "grr", "logo_churn_rate")
    return {"metrics": [_jsonable({k: row[k] for k in columns}) for row in basis.metrics],
            "trend_charts": _safe(drawn)}


def simulator(con: duckdb.DuckDBPyConnection, basis: Basis) -> dict:
    return {"simulator": simulator_defaults(basis.latest, basis.waterfall)}


def cohorts(con: duckdb.DuckDBPyConnection, basis: Basis) -> dict:
    rows = _records(con, "select * from marts.cohort_retention order by cohort_month, months_since_start")
    return {"cohorts": {"logo_retention": retention_grid(rows, "logo_retention"),
                        "revenue_retention": retention_grid(rows, "revenue_retention")}}


def funnel(con: duckdb.DuckDBPyConnection, basis: Basis) -> dict:
    rows = [_jsonable(row) for row in customer_funnel(con)]
    return {"funnel": rows, "funnel_stages": funnel_stages(rows)}


def follow_up(con: duckdb.DuckDBPyConnection, basis: Basis) -> dict:
    return {"upsell": _sales_list(con, UPSELL_TABLE, basis.top),
            "churn_risk": _sales_list(con, CHURN_RISK_TABLE, basis.top)}


def definitions(con: duckdb.DuckDBPyConnection, basis: Basis) -> dict:
    return {"definitions": DEFINITIONS}


# The page, top to bottom. A new section: a template in report_template/sections/ and a data function here.
SECTIONS = [
    Section("kpis", "Headline", headline),
    Section("waterfall", "Waterfall", waterfall),
    Section("trend", "Trend", trend),
    Section("simulator", "What if", simulator),
    Section("cohorts", "Cohorts", cohorts),
    Section("funnel", "Funnel", funnel),
    Section("sales", "Sales", follow_up),
    Section("definitions", "Definitions", definitions),
]


def collect_report_data(con: duckdb.DuckDBPyConnection, top: int = TOP_ACCOUNTS,
                        sections: list[Section] | None = None) -> dict:
    """Everything the page shows: the as-of lines, then each section's keys (JSON-ready values; the charts
    as SVG markup). Money is exact text where it is printed (KPIs) and floats where it is drawn."""
    as_of = con.sql("select max(as_of) from staging.calendar").fetchall()[0][0]
    if as_of is None:
        raise ValueError("the warehouse has no months yet (staging.calendar is empty): load some events first")
    basis = Basis(as_of=as_of, top=top,
                  metrics=_records(con, "select * from marts.saas_metrics_monthly order by month"),
                  waterfall=_records(con, "select * from marts.mrr_waterfall order by month"))
    data = {
        "as_of": as_of.strftime("%Y-%m-%d %H:%M UTC"),
        "as_of_date": as_of.date().isoformat(),
        "latest_month": basis.latest["month"].isoformat(),
        "previous_month": basis.previous["month"].isoformat() if basis.previous else None,
        "generated_at": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "colors": COLORS,
    }
    for section in sections or SECTIONS:
        shown = section.data(con, basis)
        clash = set(shown) & set(data)
        if clash:
            raise KeyError(f"section {section.anchor!r} returns keys another part of the page uses: {sorted(clash)}")
        data.update(shown)
    return data


def _safe(svgs: dict[str, str]) -> dict[str, Markup]:
    """Charts drawn by transforms/charts.py: SVG serialized by ElementTree, every text in it escaped there."""
    return {name: Markup(svg) for name, svg in svgs.items()}


# ------------------------------------------------------------------------------------------ reading the marts

def headline_kpis(latest: dict, previous: dict | None, bases: dict[str, Base] | None = None) -> list[dict]:
    """Each card: the latest month's value (exact text and float), last month's, and the change; `note` names
    the base a rate stands on where it is small (transforms/metric_bases.py) and LTV's gross margin."""
    cards = []
    for column, label, kind, up_is_good in KPIS:
        notes = []
        if column == "ltv" and latest.get("gross_margin") is not None:
            margin = (Decimal(str(latest["gross_margin"])) * 100).normalize()
            notes.append(f"at {margin:f}% gross margin")
        base = (bases or {}).get(column)
        if base is not None and base.small and latest.get(column) is not None:
            notes.append(base.text)
        value, before = latest.get(column), (previous or {}).get(column)
        change = None if value is None or before is None else float(Decimal(str(value)) - Decimal(str(before)))
        relative = change / float(before) if change is not None and kind in ("money", "count") and before else None
        cards.append({
            "key": column,
            "label": label,
            "kind": kind,
            "value": None if value is None else float(value),
            "exact": None if value is None else str(value),
            "text": format_value(value, kind),
            "previous": None if before is None else float(before),
            "change": change,
            "change_text": format_change(change, relative, kind),
            "tone": _tone(change, up_is_good),
            "note": "; ".join(notes) or None,
        })
    return cards


def simulator_defaults(latest_metrics: dict, waterfall: list[dict]) -> dict:
    """The sliders' starting point: this company's own figures (docs/report.md).

    Price = the latest month's ARPA, starting MRR = its MRR. The flows are pooled over the latest full
    months (up to FLOW_MONTHS before the latest one, which is measured as of the data's last event and so
    is usually partial: on the 2nd of a month it has almost no new customers and no churn yet):
    new customers = their mean, churn = Σ(churned + contraction) / Σ opening MRR (gross MRR churn) and
    expansion = Σ expansion / Σ opening MRR, so the model's monthly NRR, 1 − churn + expansion, is the
    warehouse's NRR over those months."""
    basis = waterfall[:-1][-FLOW_MONTHS:] or waterfall[-1:]
    opening = sum(Decimal(r["opening_mrr"]) for r in basis)
    lost = sum(Decimal(r["churned_mrr"]) + Decimal(r["contraction_mrr"]) for r in basis)
    gained = sum(Decimal(r["expansion_mrr"]) for r in basis)
    assumptions = Assumptions(
        price=float(latest_metrics["arpa"] or 0),
        new_customers=sum(r["new_customers"] for r in basis) / len(basis),
        churn=min(max(float(lost / opening), 0.0), 1.0) if opening else 0.0,
        expansion=max(float(gained / opening), 0.0) if opening else 0.0,
        horizon=36,
        starting_mrr=float(latest_metrics["mrr"] or 0),
        one_time_multiple=12.0,
    )
    first, last = basis[0]["month"], basis[-1]["month"]
    return {
        "model": "subscription",
        "price": assumptions.price,
        "new_customers": assumptions.new_customers,
        "churn": assumptions.churn,
        "expansion": assumptions.expansion,
        "horizon": assumptions.horizon,
        "starting_mrr": assumptions.starting_mrr,
        "one_time_multiple": assumptions.one_time_multiple,
        "month": latest_metrics["month"].isoformat(),
        "basis_months": [r["month"].isoformat() for r in basis],
        "basis": f"{first:%B %Y}" if first == last else f"{first:%B %Y} – {last:%B %Y}",
    }


def retention_grid(cohorts: list[dict], value: str) -> dict:
    """Rows per cohort month, columns k = 0 … max; None where the month is still to come."""
    if not cohorts:
        return {"cohorts": [], "sizes": [], "values": [], "width": 0, "top": 1.0}
    months = sorted({row["cohort_month"] for row in cohorts})
    width = max(row["months_since_start"] for row in cohorts) + 1
    index = {m: i for i, m in enumerate(months)}
    values: list[list[float | None]] = [[None] * width for _ in months]
    sizes = [0] * len(months)
    for row in cohorts:
        i = index[row["cohort_month"]]
        sizes[i] = row["cohort_customers"]
        if row[value] is not None:
            values[i][row["months_since_start"]] = float(row[value])
    finite = [v for row in values for v in row if v is not None]
    top = max(1.0, min(2.0, max(finite, default=1.0)))  # colours saturate at 200%
    return {"cohorts": [m.isoformat() for m in months], "sizes": sizes, "values": values, "width": width,
            "top": top}


FUNNEL_SQL = """
with first_trials as (
    select account_id, month_of(min(occurred_at)) as cohort_month
    from raw.subscription_events
    where event_type = 'trial_started'
    group by account_id
),

latest as (
    select max(month) as latest_month from staging.calendar
),

journeys as (
    select
        first_trials.account_id,
        first_trials.cohort_month,
        coalesce(accounts.first_paid_month >= first_trials.cohort_month, false) as converted,
        accounts.first_paid_month
    from first_trials
    left join marts.accounts as accounts using (account_id)
),

expanded as (
    select distinct journeys.account_id
    from journeys
    join marts.mrr_movements as movements
        on movements.account_id = journeys.account_id
        and movements.movement = 'expansion'
        and movements.month > journeys.first_paid_month
    where journeys.converted
),

year_later as (
    select journeys.account_id, account_mrr.mrr is not null as paying
    from journeys
    cross join latest
    left join marts.account_mrr_monthly as account_mrr
        on account_mrr.account_id = journeys.account_id
        and account_mrr.month = (journeys.first_paid_month + interval 12 month)::date
    where journeys.converted and (journeys.first_paid_month + interval 12 month)::date <= latest.latest_month
)

select
    journeys.cohort_month,
    count(*) as trials_started,
    count(*) filter (where journeys.converted) as converted,
    count(expanded.account_id) as expanded,
    count(year_later.account_id) as retention_measurable,
    count(*) filter (where year_later.paying) as retained_12m
from journeys
left join expanded using (account_id)
left join year_later using (account_id)
group by journeys.cohort_month
order by journeys.cohort_month
"""


def customer_funnel(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The customer journey by month of the first trial: trials → converted → expanded → retained 12 months.

    `retained_12m` counts converted accounts still paying 12 months after their first paid month, among the
    `retention_measurable` ones whose 12th month is not after the latest month (the rest are too young)."""
    return _records(con, FUNNEL_SQL)


def funnel_stages(rows: list[dict]) -> list[dict]:
    """The funnel's summary bars, all cohorts together: each stage's count, its share of the stage before
    (None when that is 0) and its bar's width as a share of the trials started."""
    if not rows:
        return []
    totals = {k: sum(r[k] for r in rows) for k in ("trials_started", "converted", "expanded",
                                                   "retention_measurable", "retained_12m")}
    stages = [
        ("Trials started", totals["trials_started"], totals["trials_started"], "all trials"),
        ("Converted", totals["converted"], totals["trials_started"], "of trials"),
        ("Expanded", totals["expanded"], totals["converted"], "of converted"),
        ("Retained 12 months", totals["retained_12m"], totals["retention_measurable"],
         f"of {totals['retention_measurable']} converted 12+ months ago"),
    ]
    trials = totals["trials_started"]
    return [{"label": label, "count": count, "share": count / base if base else None, "note": note,
             "width": 100 * count / trials if trials else 0} for label, count, base, note in stages]


def _sales_list(con: duckdb.DuckDBPyConnection, table: str, top: int) -> dict:
    """The first `top` accounts of a follow-up list (by its rank), or why there is none."""
    schema, name = table.split(".")
    exists = con.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ? "
        "and database_name = current_database()", [schema, name]
    ).fetchall()[0][0]
    if not exists:
        return {"available": False, "total": 0, "rows": []}
    columns = {row[0] for row in con.sql(f"describe {table}").fetchall()}
    order = "rank" if "rank" in columns else "score desc, mrr desc"
    rows = _records(con, f"select * from {table} order by {order} limit {int(top)}")
    total = con.sql(f"select count(*) from {table}").fetchall()[0][0]
    return {"available": True, "total": total, "rows": [_jsonable(row) for row in rows]}


def _records(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    relation = con.sql(sql)
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def _jsonable(row: dict) -> dict:
    return {k: _json_value(v) for k, v in row.items()}


def _json_value(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return value


# ------------------------------------------------------------------------------------------ formatting

def format_value(value, kind: str) -> str:
    """A KPI as its card shows it (transforms/core/formatting.py): money, percent, ratio or count; "—" for none."""
    if value is None:
        return "—"
    return {"money": formatting.money, "percent": formatting.percent, "ratio": formatting.ratio}.get(
        kind, formatting.count)(value)


def format_change(change: float | None, relative: float | None, kind: str) -> str:
    if change is None:
        return "no previous month"
    sign = "+" if change > 0 else ("−" if change < 0 else "±")
    arrow = "▲ " if change > 0 else ("▼ " if change < 0 else "")
    if kind == "percent":
        return f"{arrow}{sign}{formatting.points(change)}"
    if kind == "ratio":
        return f"{arrow}{sign}{formatting.ratio(abs(change))}"
    amount = format_value(abs(change), kind)
    return f"{arrow}{sign}{amount}" + (f" ({sign}{formatting.percent(abs(relative))})" if relative is not None else "")


def _tone(change: float | None, up_is_good: bool) -> str:
    if not change:
        return "flat"
    return "good" if (change > 0) == up_is_good else "bad"


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
    """The templates in report_template/, every printed value escaped (autoescape), undefined names an error."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    # `tojson` writes the data the page's script reads: "<", ">", "&" and "'" as \u escapes, so a value
    # can never close the <script> element it sits in.
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "allow_nan": False, "sort_keys": False}
    env.filters.update(money=lambda value: format_value(value, "money"), percent=formatting.percent, month_name=_month_name,
                       short_month=_short_month)
    env.globals.update(retention_color=retention_color, retention_ink=retention_ink, reason_label=reason_label,
                       reason_codes=reason_codes, display_name=display_name)
    return env


def render_html(data: dict, sections: list[Section] | None = None) -> str:
    """The page: report_template/report.html with each section's template, the CSS and the simulator's
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
