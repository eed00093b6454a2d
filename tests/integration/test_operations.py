"""Operating the warehouse: one writer at a time, killed runs, full rebuilds, the committed instance.

The landing folder tells the story of tests/integration/test_serving.py: version 1 closes January at
$94.00; version 2 adds February ($124.00) and March ($80.00).
"""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.cli import main
from orchestration.locking import WAITING_MESSAGE
from tests.integration.test_serving import CLOSING, MRR_SLICE, VERSION_1, VERSION_2
from tests.support.story import Landing, build
from transforms.reconciliation import waterfall_breaks
from transforms.serving import publish_marts
from transforms.sql_models import connect

REPO = Path(__file__).resolve().parents[2]
SLICE = MRR_SLICE


@pytest.fixture
def landing(tmp_path) -> Landing:
    landing = Landing(tmp_path / "landing")
    landing.add(*VERSION_1)
    return landing


@pytest.fixture(autouse=True)
def ephemeral_dagster_instance(monkeypatch):
    # A DAGSTER_HOME exported in the shell must not receive the runs tests start.
    monkeypatch.delenv("DAGSTER_HOME", raising=False)


def subwh_run(landing: Landing, warehouse: Path, *extra: str, log_level: str = "INFO") -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"} | {"SUBWH_LOG_LEVEL": log_level}
    return subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "run", "--landing", str(landing.root), "--warehouse",
         str(warehouse), *SLICE, *extra],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def closing_mrr(database: Path) -> list[str]:
    with duckdb.connect(str(database), read_only=True) as con:
        return [str(c) for (c,) in con.sql("select closing_mrr from marts.mrr_waterfall order by month").fetchall()]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_runs_triggered_together_take_turns(tmp_path, landing):
    landing.add(*VERSION_2)
    warehouse = tmp_path / "warehouse.duckdb"
    runs = [subwh_run(landing, warehouse), subwh_run(landing, warehouse)]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output[-3000:]
    assert sum(WAITING_MESSAGE in output for output in outputs) == 1, "exactly one run waited for the other"

    con = connect(warehouse, read_only=True)
    try:
        loads = con.sql("select source_file, count(*) from raw.loaded_files group by 1 having count(*) > 1").fetchall()
        assert loads == [], "a file was loaded twice"
        assert waterfall_breaks(con) == []
    finally:
        con.close()
    assert closing_mrr(tmp_path / "serving.duckdb") == CLOSING["v2"]


# killed while dbt builds the marts (its subprocess ends with the run: transforms/dbt_project.py, main), or as
# the publication starts
KILLED_AT = {"dbt_models": "START sql keyed_incremental model marts.mrr_movements", "serving__marts": "serving__marts - STEP_START"}


@pytest.mark.parametrize("killed_at", ["dbt_models", "serving__marts"])
def test_a_killed_run_leaves_the_previous_versions_and_the_next_run_succeeds(tmp_path, landing, killed_at):
    warehouse, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    con = build(landing, warehouse)  # the previous complete version (v1), published
    publish_marts(con, serving, run_id="v1")
    con.close()
    before = digest(serving)
    landing.add(*VERSION_2)

    run = subwh_run(landing, warehouse, log_level="DEBUG")
    try:
        for line in run.stdout:
            if KILLED_AT[killed_at] in line:
                os.kill(run.pid, signal.SIGKILL)
                break
        else:
            pytest.fail(f"the run ended before {killed_at} started")
    finally:
        run.stdout.close()
        run.wait(timeout=60)
    assert run.returncode == -signal.SIGKILL

    if killed_at == "serving__marts" and digest(serving) != before:
        # The kill came after the rename: the new version is whole (every row the publication promised).
        assert closing_mrr(serving) == CLOSING["v2"]
        with duckdb.connect(str(serving), read_only=True) as published:
            promised = published.sql("select marts_rows from meta.publication").fetchall()[0][0]
            tables = published.sql("select table_name from duckdb_tables() where schema_name = 'marts'").fetchall()
            assert sum(published.sql(f"select count(*) from marts.{t}").fetchall()[0][0] for (t,) in tables) == promised
    else:
        assert digest(serving) == before, "BI tools still read the previous complete version"
        assert closing_mrr(serving) == CLOSING["v1"]
    con = connect(warehouse, read_only=True)  # opens, and every load is whole: rows only from loaded files
    try:
        partial = con.sql(
            "select distinct source_file from raw.subscription_events "
            "where source_file not in (select source_file from raw.loaded_files)"
        ).fetchall()
        assert partial == []
        assert con.sql("select count(*) from marts.mrr_waterfall").fetchall()[0][0] > 0
    finally:
        con.close()

    assert main(["run", "--landing", str(landing.root), "--warehouse", str(warehouse), *SLICE]) == 0
    assert closing_mrr(serving) == CLOSING["v2"]
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == [], "the half-written file was cleaned up"


@pytest.mark.parametrize(("folder", "failed_step"), [("SUBWH_REPORTS_DIR", "reports__revenue_report"),
                                                    ("SUBWH_EXPORTS_DIR", "exports__follow_up")])
def test_a_run_whose_report_or_export_fails_publishes_nothing(tmp_path, landing, monkeypatch, capsys, folder,
                                                               failed_step):
    # The report and the CRM export only read the marts, yet a run in which either fails is a failed run,
    # and failed runs publish nothing (the whole pipeline: those two need every mart).
    warehouse, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    con = build(landing, warehouse)
    publish_marts(con, serving, run_id="previous")
    con.close()
    before = digest(serving)
    landing.add(*VERSION_2)
    not_a_folder = tmp_path / "not-a-folder"
    not_a_folder.write_text("a regular file where the folder's parent should be")
    monkeypatch.setenv(folder, str(not_a_folder / "out"))

    assert main(["run", "--landing", str(landing.root), "--warehouse", str(warehouse)]) == 1
    stderr = capsys.readouterr().err
    assert f"FAILED {failed_step}" in stderr
    assert "nothing was published" in stderr
    assert digest(serving) == before
    with duckdb.connect(str(serving), read_only=True) as published:
        assert published.sql("select run_id from meta.publication").fetchall() == [("previous",)]
    assert closing_mrr(serving) == CLOSING["v1"]
    assert closing_mrr(warehouse) == CLOSING["v2"], "the marts themselves were rebuilt"


def test_full_rebuild_reloads_every_file_and_rebuilds_the_same_marts(tmp_path, landing, capsys):
    warehouse = tmp_path / "warehouse.duckdb"
    landing.add(*VERSION_2)
    landing.add_lines("subscription_events", "2025-03-05-bad.jsonl", ["not json"])
    assert main(["run", "--landing", str(landing.root), "--warehouse", str(warehouse), *SLICE]) == 0
    assert main(["run", "--landing", str(landing.root), "--warehouse", str(warehouse), *SLICE, "--full-rebuild"]) == 0
    assert "full rebuild: dropped" in capsys.readouterr().out
    con = connect(warehouse, read_only=True)
    try:
        files = len(list((landing.root / "subscription_events").iterdir()))
        assert con.sql("select count(*) from raw.loaded_files where stream = 'subscription_events'").fetchall()[0][0] == files
        assert con.sql("select count(*) from raw.quarantine").fetchall()[0][0] == 1, "not quarantined twice"
    finally:
        con.close()
    assert closing_mrr(warehouse) == closing_mrr(tmp_path / "serving.duckdb") == CLOSING["v2"]


def test_the_committed_instance_queues_warehouse_runs_one_at_a_time(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        pools = instance.get_concurrency_config().pool_config
        # Run granularity: a run holding any `warehouse` step blocks every other such run from launching.
        assert pools.pool_granularity.value == "run"
        assert pools.default_pool_limit == 1


def test_dagster_validates_the_definitions_through_workspace_yaml(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    env = os.environ | {"DAGSTER_HOME": str(home), "SUBWH_LANDING_DIR": str(tmp_path / "landing"),
                        "SUBWH_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb")}
    result = subprocess.run([str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w",
                             "workspace.yaml"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "All code locations passed validation" in result.stdout + result.stderr


def test_a_damaged_warehouse_is_moved_aside_by_a_full_rebuild(tmp_path, landing, capsys):
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.write_text("not a DuckDB file")
    assert main(["run", "--landing", str(landing.root), "--warehouse", str(warehouse), *SLICE, "--full-rebuild"]) == 0
    out = capsys.readouterr().out
    assert "could not be opened" in out and "building a new warehouse" in out
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("warehouse.duckdb.damaged-")]
    assert len(aside) == 1 and aside[0].read_text() == "not a DuckDB file"
    assert closing_mrr(warehouse) == CLOSING["v1"]


def test_a_failed_step_names_its_cause_in_the_last_lines(tmp_path, landing, capsys):
    plans = landing.root / "reference" / "plans.csv"
    plans.write_text(plans.read_text() + "broken,Broken,9,abc,,10\n")
    assert main(["run", "--landing", str(landing.root), "--warehouse", str(tmp_path / "w.duckdb"), *SLICE]) == 1
    err = capsys.readouterr().err
    assert "FAILED reference_data: " in err and "seat_limit='abc' is not a number" in err.split("FAILED reference_data: ")[1]


def test_a_killed_subwh_run_is_marked_failed_by_the_next_one(tmp_path, landing, monkeypatch):
    """A `subwh run` killed with SIGKILL leaves its run STARTED in the instance, holding its pool slot."""
    from orchestration.cli import HOST_TAG, PID_TAG, fail_runs_of_dead_processes

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no longer exists
    instance = dg.DagsterInstance.get()
    import socket

    from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus

    for run_id, pid in (("killed", dead.pid), ("live", os.getpid() + 0)):
        instance.add_run(DagsterRun(job_name="__ASSET_JOB", run_id=run_id, status=DagsterRunStatus.STARTED,
                                    tags={HOST_TAG: socket.gethostname(), PID_TAG: str(pid)}))
    assert fail_runs_of_dead_processes(instance) == ["killed"]
    assert instance.get_run_by_id("killed").status == DagsterRunStatus.FAILURE
    assert instance.get_run_by_id("live").status == DagsterRunStatus.STARTED
