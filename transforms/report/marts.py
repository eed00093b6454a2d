"""What the report shows, read from the marts: the headline cards, the simulator's starting point, the cohort
grids, the customer funnel and the follow-up lists, as plain JSON-ready values (no HTML, no Dagster)."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal

import duckdb

from transforms.core import formatting
from transforms.metric_bases import Base
from transforms.simulator import Assumptions

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
                   "in the last 30 days; ranked by MRR at risk when a churn model has scored it."),
    ("Journey stage", "Where an account is now: trial (never paid), onboarding (first 6 weeks after signup), adopting, "
                      "expanding (an expansion in the last 3 months or on the upsell list), at risk (on the churn-risk "
                      "list, or paused), churned, reactivated (paying again in the last 3 months)."),
    ("Call on", "The day to call an upsell account: this week when its usage is at its peak, 30 days before a "
                "quarterly or annual renewal within 90 days; never in the first 6 weeks after signup nor in the 14 "
                "days after a failed payment; a working day."),
    ("Churn probability", "The churn model's probability that the account stops paying within the next 3 months."),
    ("MRR at risk", "Churn probability × MRR, summed over the accounts: the MRR expected to be lost next quarter."),
]


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
    select account_id, date_trunc('month', min(occurred_at))::date as cohort_month
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


# ------------------------------------------------------------------------------------------ the cards' text

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
