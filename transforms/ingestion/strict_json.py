"""Strict JSON (RFC 8259) for landed lines, in SQL, at the cost of a few cheap tests per line.

DuckDB's JSON parser (yyjson, as DuckDB 2.0 configures it) accepts two things RFC 8259 does not:
- trailing commas: `{"a": 1,}`, `[1, 2,]` (with any JSON white space before the bracket);
- NaN and infinities as bare numbers, in any case and with a minus sign: `NaN`, `-nan`, `Infinity`, `INF`.
It already refuses comments, single quotes, unquoted keys, leading zeros, `+1`, `.5`, hexadecimal numbers,
control characters in strings, bad escapes, lone surrogates and text after the value (checked in
tests/unit/test_hostile_input.py), so those need nothing more.

Both constructs leave a trace outside strings that a single regular expression finds: a `,` followed by
white space and `}` or `]`, or the letters n-a-n / i-n-f. Inside strings the same characters are
ordinary text ("Financial", "a,}"), so the test runs in two steps:
1. every line that DuckDB parsed: a cheap pre-filter on the raw text (`_prefilter`: two regular expressions
   and a byte search; a superset of the lenient lines, for example every line with an array, a negative
   number, or `, ]` inside a string);
2. only those lines: the strings are cut out (the line is valid to the lenient parser, so its strings are
   well formed) and the rest is searched for the two constructs.
CSV and Parquet rows are not JSON text (a CSV line is checked as CSV; a Parquet row's JSON rendering may
say NaN for a float column, which the field checks judge: a quantity that is NaN is `wrong_type`), so they
skip this test. It reads `raw`, the landed line, rather than the parsed record: one column fewer carried
through the validation query.
"""

from __future__ import annotations

# Step 2, on the text with every string replaced by "".
STRING = r'"(?:[^"\\]|\\.)*"'
TRAILING_COMMA = r",[ \t\r\n]*[}\]]"
NON_NUMBER = r"(?i)nan|inf"
# Step 1: where a member's value may be NaN or an infinity: after a colon, a sign, n, N, i or I, or white space.
MAY_BE_NON_NUMBER = r":[-nNiI \t\r]"


def _spellings(word: str) -> list[str]:
    """Every upper/lower-case spelling of `word` (yyjson takes NaN and Inf in any case)."""
    spellings = [""]
    for letter in word:
        spellings = [s + c for s in spellings for c in (letter.lower(), letter.upper())]
    return spellings


def _prefilter(column: str) -> str:
    """Step 1, as cheap as it can be. Each test is one call over the line, without copying it, and what a call
    costs is mostly the call: a regular expression whose matches all start with one byte (RE2 jumps to that
    byte with memchr) costs about three byte searches, a two-byte search starting with a common byte
    (`:n`) more than two. So the tests are few rather than narrow (issue 18, benchmarks/RESULTS.md):
    - a trailing comma is the text `,` white space `}` or `]` wherever it stands, so TRAILING_COMMA on the
      raw line finds every one (inside a string it is only a false alarm for step 2);
    - NaN or an infinity is a value: a member's, after a colon and white space (MAY_BE_NON_NUMBER), or an
      array element (the line has a `[`); a bare NaN is not a JSON object, which an earlier check says.
      Only then are the sixteen spellings of nan and inf looked for, so a `null`, a negative number or
      white space after a colon costs sixteen byte searches, not step 2.
    A compact line of strings and numbers, what most producers write, is read by two regular expressions
    and one byte search."""
    words = " or ".join(f"contains({column}, '{w}')" for w in _spellings("nan") + _spellings("inf"))
    return (
        f"case when regexp_matches({column}, '{TRAILING_COMMA}') then true "
        f"when contains({column}, '[') or regexp_matches({column}, '{MAY_BE_NON_NUMBER}') then {words} "
        "else false end"
    )


def _outside_strings(column: str) -> str:
    return f"regexp_replace({column}, '{STRING}', '\"\"', 'g')"


def lenient_condition(column: str, source_file: str = "source_file") -> str:
    """SQL: true when `column` (a line DuckDB's parser accepted) is not strict JSON. Written as nested CASEs:
    DuckDB evaluates a CASE's branch only for the rows that reach it, whereas both sides of an AND or OR
    in a value expression may be computed for every row (the string-cutting regular expression on every
    line cost a quarter of a load)."""
    outside = _outside_strings(column)
    return (
        f"(case when {_prefilter(column)} then "
        f"(case when regexp_matches({source_file}, '(?i)\\.(parquet|csv|csv\\.gz)$') then false "
        f"else regexp_matches({outside}, '{TRAILING_COMMA}') or regexp_matches({outside}, '{NON_NUMBER}') end) "
        "else false end)"
    )


def lenient_detail(column: str) -> str:
    """SQL: which construct makes `column` not strict JSON (for rows lenient_condition holds for)."""
    outside = _outside_strings(column)
    return (
        f"case when regexp_matches({outside}, '{TRAILING_COMMA}') "
        "then 'not strict JSON (RFC 8259): a trailing comma before } or ]' "
        "else 'not strict JSON (RFC 8259): NaN or Infinity is not a JSON number' end"
    )
