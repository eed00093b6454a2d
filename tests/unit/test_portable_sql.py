"""The models stay runnable on Spark (docs/spark.md): DuckDB-only SQL is caught here, in `make test`, without
Spark. What the engines spell differently goes through the macros of sql/macros/portable.sql; `make
test-spark` runs the models on Spark and compares every table."""

from __future__ import annotations

import re

from transforms import dbt_project

# DuckDB-only SQL, each with what to write instead
DUCKDB_ONLY = [
    (r"\basof\b", "ASOF JOIN: a join on <= and a max (staging/fx_rates_monthly.sql)"),
    (r"\bqualify\b", "QUALIFY: the window in a CTE, then where"),
    (r"\bhugeint\b|\bubigint\b|\buhugeint\b|\butinyint\b|\busmallint\b|\buinteger\b", "an integer type Spark has "
     "(bigint, decimal(38, 0)) or divide_money / annualized"),
    (r"//", "integer division: int_div()"),
    (r"\barg_(max|min)\s*\(", "max_by / min_by, with sort_key() for several ordering columns"),
    (r"\bgenerate_series\b|\bunnest\s*\(", "month_series()"),
    (r"\bignore\s+nulls\b", "last_non_null()"),
    (r"\bdatediff\s*\(\s*'|\bdate_diff\s*\(\s*'", "days_between(), or year/month arithmetic for months"),
    (r"::\s*(varchar|text)\b(?!\s*\()", "cast(... as string): Spark's VARCHAR needs a length"),
    (r"\bexclude\s*\(", "SELECT * EXCLUDE: name the columns"),
    (r"\blist_\w+\s*\(|\bstruct_pack\s*\(|\bgetvariable\s*\(", "DuckDB's list, struct and variable functions"),
    (r"\bgroup\s+by\s+all\b|\border\s+by\s+all\b", "BY ALL: name the columns"),
]


def duckdb_only(sql: str) -> list[str]:
    """What in `sql` Spark cannot run, as 'line N: construct -> what instead'. Comments are ignored."""
    found = []
    code = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), sql, flags=re.S)
    for number, line in enumerate(code.splitlines(), start=1):
        line = re.sub(r"--.*", "", line)
        line = re.sub(r"\{#.*?#\}", "", line)
        for pattern, instead in DUCKDB_ONLY:
            match = re.search(pattern, line, flags=re.I)
            if match:
                found.append(f"line {number}: {match.group(0)!r} -> {instead}")
    return found


# A model or test that declares itself DuckDB's only (the churn model's features) is not built on Spark.
DUCKDB_ONLY_CONFIG = re.compile(r"enabled\s*=\s*target\.type\s*==\s*'duckdb'")


def test_the_models_use_no_duckdb_only_sql():
    problems = []
    for folder in ("models", "tests"):
        for path in sorted((dbt_project.PROJECT_DIR / folder).rglob("*.sql")):
            sql = path.read_text()
            if not DUCKDB_ONLY_CONFIG.search(sql):
                problems += [f"{path.relative_to(dbt_project.PROJECT_DIR)} {p}" for p in duckdb_only(sql)]
    assert not problems, "DuckDB-only SQL in the models (docs/spark.md, Portable SQL):\n" + "\n".join(problems)


def test_the_check_finds_duckdb_only_sql_and_not_comments():
    sql = """-- an ASOF JOIN in a comment is fine
    select arg_max(plan_id, month), 7 // 2, null::varchar, 'a'::varchar(3)
    from t asof join u on u.x <= t.x
    qualify row_number() over () = 1"""
    found = duckdb_only(sql)
    assert [f.split(" -> ")[0] for f in found] == [
        "line 2: '//'", "line 2: 'arg_max('", "line 2: '::varchar'", "line 3: 'asof'", "line 4: 'qualify'"]
