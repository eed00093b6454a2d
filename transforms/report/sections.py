"""The page as a list of sections, each one template (templates/sections/<anchor>.html) and one data function
that reads what it shows; docs/report.md, "Adding a section", says how to add one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import duckdb
import polars as pl
from markupsafe import Markup

from transforms.core.palette import COLORS
from transforms.metric_bases import metric_bases
from transforms.report import charts, outlook
from transforms.report.marts import (
    CHURN_RISK_TABLE,
    DEFINITIONS,
    TOP_ACCOUNTS,
    UPSELL_TABLE,
    _jsonable,
    _records,
    _sales_list,
    customer_funnel,
    funnel_stages,
    headline_kpis,
    retention_grid,
    simulator_defaults,
)


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
    (templates/sections/<anchor>.html), `nav` its link in the header, and `data` reads what it shows:
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
    return {"funnel": rows, "funnel_stages": funnel_stages(rows), "journey_stages": outlook.journey_stages(con),
            "unseen_stages": outlook.UNSEEN_STAGES}


def follow_up(con: duckdb.DuckDBPyConnection, basis: Basis) -> dict:
    churn_risk = _sales_list(con, CHURN_RISK_TABLE, basis.top)
    # ranked by the churn model's MRR at risk when it has scored the list, else by the rules' score
    modelled = any(row.get("expected_mrr_at_risk") is not None for row in churn_risk["rows"])
    return {"upsell": _sales_list(con, UPSELL_TABLE, basis.top), "churn_risk": churn_risk,
            "churn_risk_modelled": modelled}


def churn_outlook(con: duckdb.DuckDBPyConnection, basis: Basis) -> dict:
    return {"churn_outlook": outlook.churn_outlook(con, basis.top)}


def definitions(con: duckdb.DuckDBPyConnection, basis: Basis) -> dict:
    return {"definitions": DEFINITIONS}


# The page, top to bottom. A new section: a template in templates/sections/ and a data function here.
SECTIONS = [
    Section("kpis", "Headline", headline),
    Section("waterfall", "Waterfall", waterfall),
    Section("trend", "Trend", trend),
    Section("simulator", "What if", simulator),
    Section("cohorts", "Cohorts", cohorts),
    Section("funnel", "Funnel", funnel),
    Section("sales", "Sales", follow_up),
    Section("churn-outlook", "Churn outlook", churn_outlook),
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
    """Charts drawn by transforms/report/charts.py: SVG serialized by ElementTree, every text in it escaped there."""
    return {name: Markup(svg) for name, svg in svgs.items()}
