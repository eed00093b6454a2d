"""The offline revenue report: one self-contained HTML file per run, read from the marts (no Dagster here).

    data = collect_report_data(con)       # plain, JSON-ready numbers from the marts
    html = render_html(data)              # the page: template + CSS + JS inlined, data embedded as JSON
    files = write_report(html, reports_dir, data["as_of_date"])

The page works offline: no CDN, no fonts, no server. Tables, KPI cards, heatmaps and the funnel are
rendered here as HTML (readable even with scripts off); the charts are inline SVG drawn by the page's own
script (`report_template/report.js`), which also runs the what-if simulator. The simulator's formulas are
those of `transforms/simulator.py` (tests/integration/test_report.py runs both and compares them).
docs/report.md describes every section and decision.
"""

from __future__ import annotations

import html
import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb

from transforms.charts import COLORS
from transforms.core.files import replace_atomically
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


# ------------------------------------------------------------------------------------------ reading the marts

def collect_report_data(con: duckdb.DuckDBPyConnection, top: int = TOP_ACCOUNTS) -> dict:
    """Everything the page shows, as JSON-ready values (money as floats for drawing, exact strings for KPIs)."""
    as_of = con.sql("select max(as_of) from staging.calendar").fetchall()[0][0]
    if as_of is None:
        raise ValueError("the warehouse has no months yet (staging.calendar is empty): load some events first")
    metrics = _records(con, "select * from marts.saas_metrics_monthly order by month")
    waterfall = _records(con, "select * from marts.mrr_waterfall order by month")
    cohorts = _records(con, "select * from marts.cohort_retention order by cohort_month, months_since_start")
    latest = metrics[-1]
    previous = metrics[-2] if len(metrics) > 1 else None
    return {
        "as_of": as_of.strftime("%Y-%m-%d %H:%M UTC"),
        "as_of_date": as_of.date().isoformat(),
        "latest_month": latest["month"].isoformat(),
        "previous_month": previous["month"].isoformat() if previous else None,
        "generated_at": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "kpis": headline_kpis(latest, previous, metric_bases(con, latest["month"])),
        "waterfall": [_jsonable(row) for row in waterfall],
        "metrics": [_jsonable({k: row[k] for k in ("month", "mrr", "customers", "nrr", "nrr_12m", "grr",
                                                   "logo_churn_rate")}) for row in metrics],
        "cohorts": {
            "logo_retention": retention_grid(cohorts, "logo_retention"),
            "revenue_retention": retention_grid(cohorts, "revenue_retention"),
        },
        "funnel": [_jsonable(row) for row in customer_funnel(con)],
        "upsell": _sales_list(con, UPSELL_TABLE, top),
        "churn_risk": _sales_list(con, CHURN_RISK_TABLE, top),
        "simulator": simulator_defaults(latest, waterfall),
        "definitions": DEFINITIONS,
        "colors": COLORS,
    }


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
        return {"cohorts": [], "sizes": [], "values": [], "width": 0}
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
    return {"cohorts": [m.isoformat() for m in months], "sizes": sizes, "values": values, "width": width}


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
    if value is None:
        return "—"
    number = float(value)
    if kind == "money":
        # Half up, like the page's Intl.NumberFormat (Python's format rounds half to even).
        exact = Decimal(str(value))
        places = Decimal("1") if abs(exact) >= 1000 else Decimal("0.01")
        rounded = exact.quantize(places, rounding=ROUND_HALF_UP)
        return f"{'-' if rounded < 0 else ''}${abs(rounded):,}"
    if kind == "percent":
        return f"{number * 100:.1f}%"
    if kind == "ratio":
        return f"{number:.2f}"
    return f"{number:,.0f}"


def format_change(change: float | None, relative: float | None, kind: str) -> str:
    if change is None:
        return "no previous month"
    sign = "+" if change > 0 else ("−" if change < 0 else "±")
    arrow = "▲ " if change > 0 else ("▼ " if change < 0 else "")
    if kind == "percent":
        return f"{arrow}{sign}{abs(change) * 100:.1f} pts"
    if kind == "ratio":
        return f"{arrow}{sign}{abs(change):.2f}"
    amount = format_value(abs(change), kind)
    return f"{arrow}{sign}{amount}" + (f" ({sign}{abs(relative) * 100:.1f}%)" if relative is not None else "")


def _tone(change: float | None, up_is_good: bool) -> str:
    if not change:
        return "flat"
    return "good" if (change > 0) == up_is_good else "bad"


def _retention_color(value: float | None, top: float) -> str:
    """The heatmap's colour for a retention value: the charts' palette (pale red → deep green)."""
    if value is None:
        return ""
    stops = [(0xFB, 0xE9, 0xE7), (0xFF, 0xCC, 0x80), (0xA5, 0xD6, 0xA7), (0x1B, 0x5E, 0x20)]
    t = min(max(value / top, 0.0), 1.0) * (len(stops) - 1)
    i = min(int(t), len(stops) - 2)
    f = t - i
    r, g, b = (round(a + (c - a) * f) for a, c in zip(stops[i], stops[i + 1], strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


# ------------------------------------------------------------------------------------------ HTML

def render_html(data: dict) -> str:
    """The page: the template with its CSS and JS inlined, the server-rendered sections and the data."""
    template = (TEMPLATE_DIR / "report.html").read_text()
    parts = {
        "css": (TEMPLATE_DIR / "report.css").read_text(),
        "js": (TEMPLATE_DIR / "report.js").read_text(),
        "data": _script_json(data),
        "title": html.escape(f"Revenue report — {data['as_of_date']}"),
        "as_of": html.escape(data["as_of"]),
        "latest_month": html.escape(_month_name(data["latest_month"])),
        "sim_basis": html.escape(data["simulator"]["basis"]),
        "previous_month": html.escape(_month_name(data["previous_month"]) if data["previous_month"] else "—"),
        "generated_at": html.escape(data["generated_at"]),
        "kpis": _kpi_cards(data["kpis"]),
        "logo_heatmap": _heatmap(data["cohorts"]["logo_retention"], "logo"),
        "revenue_heatmap": _heatmap(data["cohorts"]["revenue_retention"], "revenue"),
        "funnel": _funnel(data["funnel"]),
        "upsell": _upsell_table(data["upsell"]),
        "churn_risk": _churn_risk_table(data["churn_risk"]),
        "definitions": "\n".join(f"<dt>{html.escape(term)}</dt><dd>{html.escape(text)}</dd>"
                                 for term, text in data["definitions"]),
    }
    missing = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", template)) - set(parts)
    if missing:
        raise KeyError(f"report.html names parts that render_html does not fill: {sorted(missing)}")
    # One pass, so text inserted for one part is never read as another part's placeholder.
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: parts[m.group(1)], template)


def _script_json(data: dict) -> str:
    # Inside <script>, "</" could close the element early: escape "<" (JSON allows \u003c in strings).
    return json.dumps(data, ensure_ascii=False, allow_nan=False).replace("<", "\\u003c")


def _month_name(iso: str) -> str:
    return date.fromisoformat(iso).strftime("%B %Y")


def _kpi_cards(kpis: list[dict]) -> str:
    cards = []
    for kpi in kpis:
        cards.append(
            f'<div class="kpi" data-kpi="{kpi["key"]}" data-value="{html.escape(kpi["exact"] or "")}">'
            f'<div class="kpi-label">{html.escape(kpi["label"])}</div>'
            f'<div class="kpi-value">{html.escape(kpi["text"])}</div>'
            f'<div class="kpi-change {kpi["tone"]}">{html.escape(kpi["change_text"])}</div>'
            + (f'<div class="kpi-note">{html.escape(kpi["note"])}</div>' if kpi.get("note") else "")
            + "</div>"
        )
    return "\n".join(cards)


def _heatmap(grid: dict, name: str) -> str:
    if not grid["cohorts"]:
        return '<p class="empty">No cohorts yet: no account has paid.</p>'
    finite = [v for row in grid["values"] for v in row if v is not None]
    top = max(1.0, min(2.0, max(finite, default=1.0)))
    head = "".join(f"<th>{k}</th>" for k in range(grid["width"]))
    body = []
    for month, size, row in zip(grid["cohorts"], grid["sizes"], grid["values"], strict=True):
        cells = []
        for k, v in enumerate(row):
            if v is None:
                cells.append('<td class="future"></td>')
                continue
            ink = "#fff" if v > 0.75 * top else "#212121"
            cells.append(f'<td style="background:{_retention_color(v, top)};color:{ink}" '
                         f'title="{html.escape(_month_name(month))} cohort, month {k}: {v * 100:.1f}%">'
                         f"{v * 100:.0f}</td>")
        body.append(f'<tr><th class="cohort">{date.fromisoformat(month):%b %Y}</th>'
                    f'<td class="size">{size}</td>{"".join(cells)}</tr>')
    return (f'<table class="heatmap" data-heatmap="{name}"><thead><tr><th>cohort</th><th>size</th>{head}</tr>'
            f'</thead><tbody>{"".join(body)}</tbody></table>')


def _funnel(rows: list[dict]) -> str:
    if not rows:
        return '<p class="empty">No trials in the events yet.</p>'
    totals = {k: sum(r[k] for r in rows) for k in ("trials_started", "converted", "expanded",
                                                   "retention_measurable", "retained_12m")}
    stages = [
        ("Trials started", totals["trials_started"], totals["trials_started"], "all trials"),
        ("Converted", totals["converted"], totals["trials_started"], "of trials"),
        ("Expanded", totals["expanded"], totals["converted"], "of converted"),
        ("Retained 12 months", totals["retained_12m"], totals["retention_measurable"],
         f"of {totals['retention_measurable']} converted 12+ months ago"),
    ]
    summary = []
    for label, count, base, note in stages:
        share = count / base if base else None
        width = 100 * count / totals["trials_started"] if totals["trials_started"] else 0
        pct = "—" if share is None else f"{share * 100:.0f}%"
        summary.append(f'<div class="stage"><span class="stage-label">{html.escape(label)}</span>'
                       f'<span class="stage-bar"><span style="width:{width:.1f}%"></span></span>'
                       f'<span class="stage-count">{count}</span>'
                       f'<span class="stage-share">{pct} {html.escape(note)}</span></div>')

    def cell(count: int, base: int, suffix: str = "") -> str:
        width = 100 * count / base if base else 0
        return (f'<td><span class="cell-bar" style="width:{width:.0f}%"></span>'
                f'<span class="cell-text">{count}{suffix}</span></td>')

    body = []
    for r in rows:
        if r["retention_measurable"]:
            retained = cell(r["retained_12m"], r["trials_started"],
                            f' <small>of {r["retention_measurable"]}</small>'
                            if r["retention_measurable"] < r["converted"] else "")
        else:
            retained = '<td class="na" title="nobody converted 12 or more months ago yet">—</td>'
        body.append(f'<tr><th>{date.fromisoformat(r["cohort_month"]):%b %Y}</th>'
                    f'{cell(r["trials_started"], r["trials_started"])}{cell(r["converted"], r["trials_started"])}'
                    f'{cell(r["expanded"], r["trials_started"])}{retained}</tr>')
    return (f'<div class="funnel-summary">{"".join(summary)}</div>'
            '<table class="funnel"><thead><tr><th>trial month</th><th>trials started</th><th>converted</th>'
            f'<th>expanded</th><th>retained 12 months</th></tr></thead><tbody>{"".join(body)}</tbody></table>')


# A limit reason's tag says where the account is against its limit, as its sentence does (the code stays).
LIMIT_UTILISATION = {"seat_limit_near": ("seat_utilisation", "seat limit"),
                     "usage_limit_near": ("api_utilisation", "usage limit")}


def _reason_label(code: str, row: dict) -> str:
    if code in LIMIT_UTILISATION:
        column, name = LIMIT_UTILISATION[code]
        used = row.get(column)
        if used is not None and used > 1:
            return f"over {name}"
        if used is not None and used == 1:
            return f"at {name}"
    return code.replace("_", " ")


def _reasons(value, row: dict | None = None) -> str:
    codes = value if isinstance(value, list) else [c for c in str(value or "").split(",") if c]
    return " ".join(f'<span class="reason">{html.escape(_reason_label(c.strip(), row or {}))}</span>' for c in codes)


# A name is the customer's text: escaped, its control characters made spaces, and cut to this many characters
# (the whole name is in the title) so that a hostile or runaway name cannot break the page's layout.
NAME_CHARS = 120


def _display_name(value: object) -> tuple[str, str]:
    """(shown, title) for a name: both HTML-escaped; shown cut at NAME_CHARS."""
    text = re.sub(r"[\x00-\x1f\x7f-\x9f]", " ", str(value))
    shown = text if len(text) <= NAME_CHARS else text[: NAME_CHARS - 1] + "…"
    return html.escape(shown), html.escape(text[:2000], quote=True)


def _account_cell(row: dict) -> str:
    name, title = _display_name(row.get("account_name") or row["account_id"])
    account_id, _ = _display_name(row["account_id"])
    return f'<td title="{title}"><strong>{name}</strong><br><small>{account_id}</small></td>'


def _upsell_table(listing: dict) -> str:
    if not listing["available"]:
        return '<p class="empty">The upsell list was not built in this run.</p>'
    if not listing["rows"]:
        return '<p class="empty">No upsell opportunity as of the latest data day.</p>'
    body = []
    for row in listing["rows"]:
        plan = html.escape(f'{row.get("plan_id") or "—"} → {row.get("recommended_plan_id") or "—"}')
        body.append(
            f'<tr>{_account_cell(row)}<td>{html.escape(str(row.get("sales_owner") or "—"))}</td><td>{plan}</td>'
            f'<td class="num">{format_value(row.get("mrr"), "money")}</td>'
            f'<td class="num">+{format_value(row.get("expected_mrr_uplift"), "money")}</td>'
            f'<td class="num">{row.get("score", "")}</td><td>{_reasons(row.get("reasons"), row)}'
            f'<div class="summary">{html.escape(str(row.get("summary") or ""))}</div></td></tr>'
        )
    return (f'<p class="note">Top {len(listing["rows"])} of {listing["total"]} by score.</p>'
            '<table class="accounts" data-list="upsell"><thead><tr><th>account</th><th>owner</th><th>plan → offer</th>'
            '<th>MRR</th><th>expected uplift</th><th>score</th><th>reasons</th></tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _churn_risk_table(listing: dict) -> str:
    if not listing["available"]:
        return '<p class="empty">The churn-risk list was not built in this run.</p>'
    if not listing["rows"]:
        return '<p class="empty">No account at churn risk as of the latest data day.</p>'
    body = []
    for row in listing["rows"]:
        body.append(
            f'<tr>{_account_cell(row)}<td>{html.escape(str(row.get("sales_owner") or "—"))}</td>'
            f'<td class="num">{format_value(row.get("mrr"), "money")}</td>'
            f'<td class="num">{row.get("score", "")}</td><td>{_reasons(row.get("reasons"))}'
            f'<div class="summary">{html.escape(str(row.get("summary") or ""))}</div></td></tr>'
        )
    return (f'<p class="note">Top {len(listing["rows"])} of {listing["total"]} by score.</p>'
            '<table class="accounts" data-list="churn_risk"><thead><tr><th>account</th><th>owner</th><th>MRR</th>'
            f'<th>score</th><th>reasons</th></tr></thead><tbody>{"".join(body)}</tbody></table>')


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
