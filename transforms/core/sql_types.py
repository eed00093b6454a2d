"""One place for the warehouse's number types and its reporting currency."""

INPUT_MONEY = "decimal(18, 6)"  # amounts as delivered, in the currency's major unit
USD = "decimal(18, 2)"  # reporting money, rounded to the cent
FX_RATE = "decimal(18, 10)"  # USD per unit of a currency
PERCENT = "decimal(9, 4)"
USAGE_QUANTITY = "double"  # counts of seats or calls: not money

REPORTING_CURRENCY = "USD"
