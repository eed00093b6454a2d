"""Issue 18 through `subwh run`: a warehouse an earlier version loaded with an impossible instant heals on
the next run (docs/bad-input.md), and a run says which command reloads lines loaded before strict JSON.

The landing folder is test_serving's version 2: closing MRR $94.00, $124.00, $80.00 (January to March 2025).
"""

import pytest

from orchestration.cli import main
from tests.integration.test_operations import closing_mrr
from tests.integration.test_serving import CLOSING, MRR_SLICE, VERSION_1, VERSION_2
from tests.support.story import Landing
from transforms.sql_models import connect


@pytest.fixture(autouse=True)
def run_environment(monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # an ephemeral instance, as test_operations
    monkeypatch.setenv("SUBWH_NOW", "2025-04-01T00:00:00Z")


def test_a_row_an_earlier_version_let_in_is_moved_out_on_the_next_run_and_history_restates(tmp_path, capsys):
    landing = Landing(tmp_path / "landing")
    landing.add(*VERSION_1, *VERSION_2)
    warehouse = tmp_path / "warehouse.duckdb"
    run = ["run", "--landing", str(landing.root), "--warehouse", str(warehouse), *MRR_SLICE]
    assert main(run) == 0
    assert closing_mrr(warehouse) == CLOSING["v2"]
    # An earlier version loaded this (the 9999-12-31): straight into raw, as it would have.
    con = connect(warehouse)
    con.execute("""insert into raw.subscription_events (event_id, event_type, occurred_at, account_id, subscription_id,
                       source_file, line_number, ingested_at)
                   values ('old-1', 'subscription_canceled', '9999-12-31 00:00:00', 'A', 'A-1',
                           'subscription_events/old.jsonl', 1, now())""")
    con.execute("drop table raw.validation_rules")  # which an earlier version did not have
    con.close()
    capsys.readouterr()
    assert main(run) == 0
    out = capsys.readouterr().out
    assert "rows quarantined:  1" in out
    assert closing_mrr(warehouse) == closing_mrr(tmp_path / "serving.duckdb") == CLOSING["v2"]
    con = connect(warehouse, read_only=True)
    try:
        assert con.sql("select source_file, reason from raw.quarantine").fetchall() == [
            ("subscription_events/old.jsonl", "implausible_instant")]
        assert con.sql("select count(*) from raw.subscription_events where event_id = 'old-1'").fetchall() == [(0,)]
        assert con.sql("select max(month)::varchar from staging.calendar").fetchall() == [("2025-03-01",)]
    finally:
        con.close()


def test_a_table_loaded_before_strict_json_names_the_command_that_heals_it(tmp_path, capsys):
    landing = Landing(tmp_path / "landing")
    landing.add(*VERSION_1)
    warehouse = tmp_path / "warehouse.duckdb"
    run = ["run", "--landing", str(landing.root), "--warehouse", str(warehouse), *MRR_SLICE]
    assert main(run) == 0
    assert "to heal:" not in capsys.readouterr().out
    con = connect(warehouse)
    con.execute("drop table raw.validation_rules")  # as a warehouse of an earlier version has none
    con.close()
    assert main(run) == 0
    [line] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("to heal:")]
    assert "raw.subscription_events" in line and "`subwh run --full-rebuild`" in line
    assert main([*run, "--full-rebuild"]) == 0
    assert "to heal:" not in capsys.readouterr().out
