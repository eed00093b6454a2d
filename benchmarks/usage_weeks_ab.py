"""A/B of intermediate.account_usage_windows: main's SELECT against this tree's (with the weekly sums of the
contact timing, docs/sales.md#when-to-call), interleaved on one warehouse, and the old columns compared.

    .venv/bin/python benchmarks/usage_weeks_ab.py [--landing benchmarks/.cache/landing-S] [--runs 15] [--base main]

Builds build/usage_weeks_ab.duckdb from the landing folder once (ingestion and the MRR models, no Dagster).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.story import build  # noqa: E402
from transforms.sql_models import connect  # noqa: E402

MODEL = "sql/models/intermediate/account_usage_windows.sql"
REPO = Path(__file__).resolve().parents[1]
OLD_COLUMNS = ("account_id, metric, latest_data_day, current_window_start, previous_window_start, current_total, "
               "current_days_reported, current_daily_mean, previous_total, previous_days_reported, "
               "previous_daily_mean")


def plain_sql(model: str) -> str:
    """The model's SELECT with dbt's ref() and source() written as the tables they name (this model uses no
    other Jinja)."""
    model = re.sub(r"\{\{\s*ref\('(\w+)'\)\s*\}\}",
                   lambda m: {"calendar": "staging.calendar"}[m.group(1)], model)
    return re.sub(r"\{\{\s*source\('raw',\s*'(\w+)'\)\s*\}\}", r"raw.\1", model)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--landing", default="benchmarks/.cache/landing-S")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--base", default="main", help="the commit whose model is the 'before'")
    args = parser.parse_args()
    warehouse = Path("build/usage_weeks_ab.duckdb")
    if not warehouse.exists():
        warehouse.parent.mkdir(exist_ok=True)
        build(Path(args.landing), warehouse).close()
    before = plain_sql(subprocess.run(["git", "show", f"{args.base}:{MODEL}"], capture_output=True, text=True,
                                      check=True).stdout)
    after = plain_sql((REPO / MODEL).read_text())
    con = connect(warehouse)
    con.execute("set threads = 2")
    seconds: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(args.runs):
        for name, sql in (("before", before), ("after", after)):
            start = time.perf_counter()
            con.execute(f"create or replace temp table ab_{name} as {sql}")
            seconds[name].append(time.perf_counter() - start)
    for name, values in seconds.items():
        print(f"{name}: median {statistics.median(values):.3f} s, min {min(values):.3f} s ({args.runs} runs)")
    differing = con.sql(f"""select count(*) from (
        (select {OLD_COLUMNS} from ab_before except all select {OLD_COLUMNS} from ab_after)
        union all (select {OLD_COLUMNS} from ab_after except all select {OLD_COLUMNS} from ab_before))""").fetchall()
    print(f"rows differing in main's columns: {differing[0][0]}")


if __name__ == "__main__":
    main()
