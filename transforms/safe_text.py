"""Text from landed files shown elsewhere: account, plan and owner names are the customer's data, so they
are rendered as text wherever they go (docs/bad-input.md).

- Markdown for the Dagster UI (asset previews): HTML and Markdown syntax are escaped, line breaks and
  other control characters become spaces, and a cell is cut at MARKDOWN_CELL_CHARS characters, so a name
  can neither inject markup nor break the table.
- The CRM CSV: a text value a spreadsheet would take as a formula (starting with =, +, -, @, a tab or a
  carriage return) is prefixed with a single quote, as OWASP's CSV-injection guidance says; control
  characters other than tab, line feed and carriage return are dropped (the CSV writer quotes the rest).
- The HTML report escapes every value through its templates (transforms/report/: Jinja2 autoescape, and
  JSON in its script element through `tojson`, `<` written as \\u003c); its script only ever sets textContent.
"""

from __future__ import annotations

import html
import re

import polars as pl

MARKDOWN_CELL_CHARS = 200
# C0 controls, DEL and C1 controls
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Markdown's punctuation that starts or ends inline markup, a link or a table cell (`<`, `>` and `&` become
# entities first); line-start markup (`-`, `+`, `#` lists and headings) cannot occur inside a table cell.
MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#|~!^$])")
# Spreadsheet formula triggers (OWASP): the first character of a cell
FORMULA_START = r"^[=+\-@\t\r]"
# Control characters a CSV cell must not carry: all C0 but tab, line feed and carriage return, DEL, C1.
CSV_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"


def markdown_cell(value: object) -> str:
    """A value as the text of one Markdown table cell, inert."""
    if value is None:
        return ""
    text = CONTROL.sub(" ", str(value))
    if len(text) > MARKDOWN_CELL_CHARS:
        text = text[: MARKDOWN_CELL_CHARS - 1] + "…"
    return MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=True))


def markdown_header(name: str) -> str:
    """A column name (ours, an SQL identifier) as a Markdown table header: only what could break the table
    is escaped, so `account_id` reads as itself in the raw Markdown too."""
    return html.escape(CONTROL.sub(" ", name)).replace("|", "\\|")


def neutralize_csv_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column of `frame` safe to open in a spreadsheet (see the module's docstring)."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not text:
        return frame
    def safe(name: str) -> pl.Expr:
        value = pl.col(name).str.replace_all(CSV_CONTROL, "")  # first: "\x01=..." is a formula once cleaned
        return pl.when(value.str.contains(FORMULA_START)).then(pl.lit("'") + value).otherwise(value).alias(name)

    return frame.with_columns(safe(name) for name in text)
