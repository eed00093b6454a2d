"""A new user's first hour with their own data, through `subwh run` as they would type it: a CSV with the
wrong headers ends the run with one line, the file fixed in place is reloaded, and the serving file shows
what was rejected (meta.quarantine) and what was loaded (meta.loaded_files).

By hand: A starts 5 seats x $10 = $50.00 MRR on 2025-01-05; corrected to $12 a seat, 5 x $12 = $60.00.
"""

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.support.story import Landing

REPO = Path(__file__).resolve().parents[2]
# The MRR slice is what the summary reads; the rest of the pipeline does not change what is shown here.
SLICE = ["--select", "group:ingestion or group:mrr or group:serving"]
HEADER = ("event_id,event_type,occurred_at,account_id,effective_at,subscription_id,plan_id,billing_interval,"
          "quantity,unit_price,currency,discount_pct,account_name,segment,country,sales_owner")
ROWS = ["e1,account_created,2025-01-02T10:00:00Z,A,,,,,,,,,Acme,SMB,US,ana",
        "e2,subscription_started,2025-01-05T10:00:00Z,A,,A-1,starter,month,5,10.00,USD,,,,,"]


@pytest.fixture(autouse=True)
def no_dagster_home(monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # runs started by tests must not write there


def subwh(landing: Landing, warehouse: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "run", "--landing", str(landing.root), "--warehouse",
         str(warehouse), *SLICE, *extra],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "SUBWH_LOG_LEVEL")},
    )


def test_wrong_headers_end_the_run_with_one_line_and_the_fixed_file_loads(tmp_path):
    landing = Landing(tmp_path / "landing")
    csv = landing.add_lines("subscription_events", "2025-01-05.csv", [HEADER.replace("event_id,event_type", "id,type"),
                                                                      *ROWS])
    warehouse = tmp_path / "warehouse.duckdb"

    failed = subwh(landing, warehouse)
    assert failed.returncode == 1
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith("subwh: no valid subscription events: read 2 row(s) from 1 file(s) in ")
    assert "quarantined 2 (invalid_header 2)" in last
    assert "its header has columns id, type, occurred_at" in last and "missing event_id, event_type" in last
    assert "select reason, source_file, count(*)" in last and str(warehouse) in last
    output = failed.stdout + failed.stderr
    assert "Stack Trace" not in output and "Traceback" not in output and "staging.calendar" not in output
    assert "Not executing" not in output  # the steps skipped after it are not listed one by one

    verbose = subwh(landing, warehouse, "--verbose")
    assert verbose.returncode == 1 and "Stack Trace" in verbose.stdout + verbose.stderr

    csv.write_text("\n".join([HEADER, *ROWS]) + "\n")  # fixed in place
    fixed = subwh(landing, warehouse)
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert "changed since they were loaded, reloaded: subscription_events/2025-01-05.csv" in fixed.stdout + fixed.stderr
    assert "closing MRR:       $50.00" in fixed.stdout

    csv.write_text(csv.read_text().replace(",10.00,", ",12.00,"))  # a wrong price, corrected
    csv.with_name("2025-01-06.csv").write_text(HEADER + "\ne3,account_created,2025-01-06T10:00:00Z,B,,,,,,,,,,,,\n")
    corrected = subwh(landing, warehouse)
    assert corrected.returncode == 0, corrected.stderr[-3000:]
    assert "closing MRR:       $60.00" in corrected.stdout  # 5 x $12: the $50 row was replaced, not added to
    assert "rows quarantined:  1, missing_field 1 (meta.quarantine in the serving file)" in corrected.stdout

    with duckdb.connect(str(tmp_path / "serving.duckdb"), read_only=True) as con:
        assert con.sql("select source_file, line_number, reason, detail from meta.quarantine").fetchall() == [
            ("subscription_events/2025-01-06.csv", 2, "missing_field", "account_created needs account_name")]
        assert con.sql("select source_file, rows_read, rows_loaded, rows_quarantined from meta.loaded_files "
                       "order by 1").fetchall() == [("subscription_events/2025-01-05.csv", 2, 2, 0),
                                                    ("subscription_events/2025-01-06.csv", 1, 0, 1)]
