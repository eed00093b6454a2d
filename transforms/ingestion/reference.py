"""Reference data: `reference/plans.csv` and `reference/fx_rates.csv`, small, validated strictly (a bad row
stops the load with its file and line), and replaced whole at every load."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb

from transforms.ingestion.instant_bounds import utc_now
from transforms.ingestion.outcome import LandingError

PLAN_COLUMNS = ["plan_id", "plan_name", "tier_rank", "seat_limit", "api_call_limit", "list_price_monthly"]
FX_COLUMNS = ["month", "currency", "usd_per_unit"]


def load_reference(con: duckdb.DuckDBPyConnection, landing_dir: Path) -> dict[str, int]:
    """Replace raw.plans and raw.fx_rates from the landing folder's reference files (small, validated strictly)."""
    reference = Path(landing_dir) / "reference"
    plans = _read_reference_csv(reference / "plans.csv", PLAN_COLUMNS)
    fx = _read_reference_csv(reference / "fx_rates.csv", FX_COLUMNS)
    now = utc_now()
    plan_rows = [_plan_row(path_line, row) for path_line, row in plans]
    fx_rows = [_fx_row(path_line, row) for path_line, row in fx]
    seen: set[tuple] = set()
    for (path_line, _), row in zip(fx, fx_rows, strict=True):
        key = (row[0], row[1])
        if key in seen:
            raise LandingError(f"{path_line}: a second rate for {row[1]} in {row[0]:%Y-%m}")
        seen.add(key)
    con.execute("begin transaction")
    try:
        con.execute("delete from raw.plans")
        con.execute("delete from raw.fx_rates")
        if plan_rows:
            con.executemany(
                "insert into raw.plans values (?, ?, ?, ?, ?, ?, 'reference/plans.csv', ?)",
                [(*r, now) for r in plan_rows],
            )
        if fx_rows:
            con.executemany(
                "insert into raw.fx_rates values (?, ?, ?, 'reference/fx_rates.csv', ?)",
                [(*r, now) for r in fx_rows],
            )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return {"plans": len(plan_rows), "fx_rates": len(fx_rows)}


def _read_reference_csv(path: Path, columns: list[str]) -> list[tuple[str, dict[str, str]]]:
    if not path.exists():
        raise LandingError(f"missing reference file {path} (expected columns: {', '.join(columns)})")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise LandingError(f"{path}: missing column(s) {missing}; expected {columns}")
        return [(f"{path}:{i}", row) for i, row in enumerate(reader, start=2)]


def _plan_row(where: str, row: dict[str, str]) -> tuple:
    def number(name: str, cast: Callable, optional: bool = False):
        text = (row.get(name) or "").strip()
        if not text:
            if optional:
                return None
            raise LandingError(f"{where}: {name} is empty")
        try:
            value = cast(text)
        except Exception as exc:
            raise LandingError(f"{where}: {name}={text!r} is not a number") from exc
        if value < 0:
            raise LandingError(f"{where}: {name}={text!r} is negative")
        return value

    from decimal import Decimal

    plan_id = (row.get("plan_id") or "").strip()
    if not plan_id:
        raise LandingError(f"{where}: plan_id is empty")
    return (
        plan_id,
        (row.get("plan_name") or plan_id).strip(),
        number("tier_rank", int),
        number("seat_limit", int, optional=True),
        number("api_call_limit", int, optional=True),
        number("list_price_monthly", Decimal),
    )


def _fx_row(where: str, row: dict[str, str]) -> tuple:
    from decimal import Decimal, InvalidOperation

    month_text = (row.get("month") or "").strip()
    try:
        if len(month_text) == 7:
            month = datetime.strptime(month_text, "%Y-%m").date()
        else:
            month = datetime.strptime(month_text, "%Y-%m-%d").date()
            if month.day != 1:
                raise ValueError
    except ValueError as exc:
        raise LandingError(f"{where}: month={month_text!r} is not YYYY-MM or the month's first day YYYY-MM-DD") from exc
    currency = (row.get("currency") or "").strip().upper()
    if len(currency) != 3:
        raise LandingError(f"{where}: currency={currency!r} is not a 3-letter code")
    try:
        rate = Decimal((row.get("usd_per_unit") or "").strip())
    except InvalidOperation as exc:
        raise LandingError(f"{where}: usd_per_unit={row.get('usd_per_unit')!r} is not a number") from exc
    if rate <= 0:
        raise LandingError(f"{where}: usd_per_unit must be positive")
    return (month, currency, rate)

