"""Money, percentages and counts as people read them: one module for the HTML report, the charts (report and
Dagster UI), the UI's trend lines and KPI table, the sales sentences and the summary `subwh run` prints.

Money is rounded half away from zero (Decimal ROUND_HALF_UP), as everywhere in the warehouse; the report's
simulator, which must format in the page, uses Intl.NumberFormat, which rounds the same way.

    money(372302.37)        '$372,302'      whole dollars from $1,000, cents below ($60.00); a loss is -$1,234
    money_whole(950.5)      '$951'          always whole dollars (trend lines)
    money_cents(372302.37)  '$372,302.37'   always cents (the run summary)
    money_short(28100)      '$28k'          chart axes and bar labels ($950, $1.2k, $28k, $1.23M; −$704)
    money_expr(col)         '$1,234' or '$1,234.50': a Polars expression, exact to the cent (sales sentences)
    percent(0.8512)         '85.1%'         `places` decimals
    points(-0.206)          '20.6 pts'      a change in a rate, unsigned (the caller says up or down)
    count(1234)             '1,234'
    ratio(0.3456)           '0.35'
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import polars as pl

WHOLE = Decimal("1")
CENTS = Decimal("0.01")
MONEY_CENTS = pl.Decimal(18, 2)  # an amount exact to the cent, as the sales lists hold it
MINUS = "−"  # U+2212, the typographic minus of chart labels


def _exact(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _dollars(value, places: Decimal) -> str:
    rounded = _exact(value).quantize(places, rounding=ROUND_HALF_UP)
    return f"{'-' if rounded < 0 else ''}${abs(rounded):,}"


def money(value) -> str:
    """Whole dollars from $1,000 up ($1,234), cents below ($12.50), half away from zero."""
    return _dollars(value, WHOLE if abs(_exact(value)) >= 1000 else CENTS)


def money_whole(value) -> str:
    return _dollars(value, WHOLE)


def money_cents(value) -> str:
    return _dollars(value, CENTS)


def money_short(value: float) -> str:
    """$1.23M, $281k, $1.2k, $950: short enough for an axis or a bar label."""
    sign = MINUS if value < 0 else ""
    value = abs(float(value))
    if value >= 1e6:
        return f"{sign}${value / 1e6:.2f}M"
    if value >= 1e4:
        return f"{sign}${value / 1e3:.0f}k"
    if value >= 1e3:
        return f"{sign}${value / 1e3:.1f}k"
    return f"{sign}${value:.0f}"


def percent(value, places: int = 1) -> str:
    return f"{float(value) * 100:.{places}f}%"


def points(change) -> str:
    return f"{abs(float(change)) * 100:.1f} pts"


def count(value) -> str:
    return f"{float(value):,.0f}"


def ratio(value) -> str:
    return f"{float(value):.2f}"


# ------------------------------------------------------------------------------------------ Polars expressions

def thousands_expr(digits: pl.Expr) -> pl.Expr:
    """'1234567' -> '1,234,567': the digits of a whole number grouped by three, as f"{n:,}" writes them."""
    return digits.str.reverse().str.extract_all(r"\d{1,3}").list.join(",").str.reverse()


def whole_number_expr(number: pl.Expr) -> pl.Expr:
    """A whole number (or a count held as a float) as text with thousands separators; the sign kept."""
    text = number.cast(pl.Int64).cast(pl.String)
    return pl.when(text.str.starts_with("-")).then(pl.lit("-")).otherwise(pl.lit("")) + thousands_expr(
        text.str.strip_prefix("-"))


def money_expr(amount: pl.Expr) -> pl.Expr:
    """$1,234 for whole dollars, $1,234.50 otherwise (an amount in cents: two decimals, exact)."""
    text = amount.cast(MONEY_CENTS).cast(pl.String)
    sign = pl.when(text.str.starts_with("-")).then(pl.lit("-")).otherwise(pl.lit(""))
    parts = text.str.strip_prefix("-").str.split_exact(".", 1)
    dollars, cents = parts.struct.field("field_0"), parts.struct.field("field_1")
    whole = pl.lit("$") + sign + thousands_expr(dollars)
    return pl.when(cents == "00").then(whole).otherwise(whole + pl.lit(".") + cents)
