"""Stripe amounts are integers in the currency's minor unit; landing-file amounts are decimals in the major unit.

Stripe's documented lists (https://docs.stripe.com/currencies): zero-decimal currencies are sent as they
are (5000 JPY is `5000`), three-decimal ones in thousandths (1.500 KWD is `1500`), every other currency in
hundredths. ISK, HUF and TWD are special cases in Stripe's docs: although they have no minor unit in
practice, the API takes and returns them in two-decimal representation, so they are divided by 100 too.
"""

from __future__ import annotations

from decimal import Decimal

ZERO_DECIMAL = frozenset({
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
})
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})


def exponent(currency: str) -> int:
    """Digits after the decimal point of Stripe's minor unit for the currency (0, 2 or 3)."""
    code = currency.lower()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def to_major(minor: int | str | Decimal, currency: str) -> Decimal:
    """A Stripe amount (an integer, or a `*_decimal` string with fractions of the minor unit) in the major
    unit, exactly: 4900 USD -> 49.00, 5000 JPY -> 5000, 1500 KWD -> 1.500."""
    value = minor if isinstance(minor, Decimal) else Decimal(str(minor))
    places = exponent(currency)
    major = value.scaleb(-places)
    # At least the currency's own places (4900 -> "49.00"), more only when the minor amount had fractions.
    return major if major.as_tuple().exponent <= -places else major.quantize(Decimal(1).scaleb(-places))


def money_text(value: Decimal) -> str:
    """A decimal as the landing files carry it: plain notation (never 1E+3), as a JSON string."""
    return format(value, "f")
