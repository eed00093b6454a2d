"""The macros DuckDB and Spark implement differently (sql/macros/portable.sql) give the same values, worked
out by hand, on both engines: dbt compiles each for the engine and runs it (`dbt show --inline`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from transforms import dbt_project

# (column, SQL with the macro, value worked out by hand)
CASES = [
    # 289.995 / 3 = 96.665 exactly: half away from zero is 96.67 (a DOUBLE division gives 96.66499...)
    ("money_tie", "{{ divide_money('289.995', '3') }}", Decimal("96.67")),
    ("money_tie_negative", "{{ divide_money('-289.995', '3') }}", Decimal("-96.67")),
    # 0.05 / 2 = 0.025: a tie at the cent, up
    ("money_cent_tie", "{{ divide_money('0.05', '2') }}", Decimal("0.03")),
    # 2.00 / 3 = 0.666..., 1.00 / 3 = 0.333...
    ("money_thirds_up", "{{ divide_money('2.00', '3') }}", Decimal("0.67")),
    ("money_thirds_down", "{{ divide_money('1.00', '3') }}", Decimal("0.33")),
    ("money_by_zero", "{{ divide_money('10.00', '0') }}", None),
    # a charge of 10^-12 every 8 months: x 12 / 8 = 1.5e-12, a tie at the 12th place, away from zero
    ("annual_tie", "{{ annualized('0.000000000001', '8') }}", Decimal("0.000000000002")),
    # 3e-12 x 12 / 8 = 4.5e-12 -> 5e-12
    ("annual_tie_odd", "{{ annualized('0.000000000003', '8') }}", Decimal("0.000000000005")),
    # 100 every 7 months: 1200 / 7 = 171.428571428571|428... -> 171.428571428571
    ("annual_sevenths", "{{ annualized('100', '7') }}", Decimal("171.428571428571")),
    # 99.99 a quarter: 12 / 3 = 4 divides, 399.96 exactly
    ("annual_quarter", "{{ annualized('99.99', '3') }}", Decimal("399.96")),
    # 1,320,000 a year (a 1,000-seat plan): 12 / 12 = 1
    ("annual_year", "{{ annualized('1320000.000000', '12') }}", Decimal("1320000")),
    # 100.06 / 12 = 8.3383... -> 8.34; 0.06 / 12 = 0.005, a tie -> 0.01; 0.05999 / 12 = 0.004999... -> 0.00
    ("monthly", "{{ monthly_usd_from_annual('100.06') }}", Decimal("8.34")),
    ("monthly_tie", "{{ monthly_usd_from_annual('0.06') }}", Decimal("0.01")),
    ("monthly_below_tie", "{{ monthly_usd_from_annual('0.05999') }}", Decimal("0.00")),
    # 2024 is a leap year: 28 Feb to 1 Mar is 2 days
    ("leap_days", "{{ days_between(\"date '2024-02-28'\", \"date '2024-03-01'\") }}", 2),
    ("next_month", "{{ next_month(\"date '2024-01-01'\") }}", date(2024, 2, 1)),
    ("month_of", "{{ month_of(\"timestamp '2024-02-29 23:59:59'\") }}", date(2024, 2, 1)),
    # November 2024 to February 2025: 4 months, the last one February
    ("months_listed", "(select count(*) from (select {{ month_series(\"date '2024-11-01'\", \"date '2025-02-01'\") }}"
                      " as m) as months)", 4),
    ("last_month_listed", "(select max(m) from (select {{ month_series(\"date '2024-11-01'\", \"date '2025-02-01'\") }}"
                          " as m) as months)", date(2025, 2, 1)),
    ("int_div", "{{ int_div('17', '5') }}", 3),
    # the row with the greatest (effective_at, event_id): the tie on 2 is broken by 'b' > 'a'
    ("sort_key", "(select max_by(v, {{ sort_key('k', 'e') }}) from (select 1 as v, 2 as k, 'a' as e union all "
                 "select 2, 2, 'b' union all select 3, 1, 'z') as events)", 2),
    # the latest non-NULL value up to each row, the third row's NULL skipped: 10, 10, 30 -> the last row's is 30,
    # the second row's 10
    ("last_non_null", "(select max(case when o = 3 then seen end) from (select o, {{ last_non_null('x') }} over "
                      "(order by o rows between unbounded preceding and current row) as seen from (select 1 as o, 10 as x "
                      "union all select 2, null union all select 3, 30) as t) as w)", 30),
    ("last_non_null_skips", "(select max(case when o = 2 then seen end) from (select o, {{ last_non_null('x') }} over "
                            "(order by o rows between unbounded preceding and current row) as seen from (select 1 as o, "
                            "10 as x union all select 2, null union all select 3, 30) as t) as w)", 10),
]


def _show(target: str, env: dict[str, str], sql: str):
    from dbt.cli.main import dbtRunner

    with dbt_project.environment(env):
        result = dbtRunner().invoke([
            "show", "--inline", sql, "--target", target, "--limit", "1", "--quiet",
            "--project-dir", str(dbt_project.PROJECT_DIR), "--profiles-dir", str(dbt_project.PROJECT_DIR),
            "--target-path", str(WORK / target), "--log-path", str(WORK), *dbt_project.GLOBAL_FLAGS,
        ])
    assert result.success, f"dbt show on {target} failed: {result.exception}"
    table = result.result.results[0].agate_table
    return dict(zip(table.column_names, table.rows[0], strict=True))


WORK = dbt_project.PROJECT_DIR.parent / "build" / "spark-tests"


@pytest.fixture(scope="module", params=["duckdb", "spark"])
def values(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    env = {"SUBWH_WAREHOUSE_PATH": str(folder / "warehouse.duckdb"),
           "SUBWH_SPARK_WAREHOUSE_DIR": str(folder / "spark-tables")}
    sql = "select " + ",\n".join(f"{expr} as {name}" for name, expr, _ in CASES)
    return _show(request.param, env, sql)


@pytest.mark.parametrize(("name", "expected"), [(name, expected) for name, _, expected in CASES],
                         ids=[name for name, _, _ in CASES])
def test_macro_value(values, name, expected):
    value = values[name]
    if isinstance(expected, Decimal):
        assert value is not None and Decimal(str(value)) == expected, f"{name}: {value!r}, expected {expected}"
    elif isinstance(expected, date):
        assert value is not None and value.isoformat()[:10] == expected.isoformat(), f"{name}: {value!r}"
    else:
        assert value == expected, f"{name}: {value!r}, expected {expected!r}"
