"""Runs belong to one warehouse: its own Dagster home, tags naming it, automation that never answers a
run on another warehouse; and a run with nothing new writes nothing, nor does a UI started right after.

The landing folder is the story of tests/integration/test_serving.py (version 1, then version 2).
"""

from pathlib import Path

import dagster as dg
import pytest

from orchestration.automation import INGESTION_KEYS
from orchestration.cli import main
from orchestration.definitions import build_definitions
from orchestration.instance import LANDING_TAG, WAREHOUSE_TAG, dagster_home
from orchestration.settings import Settings
from tests.integration.test_automation import MRR, Daemon, closing_mrr
from tests.integration.test_serving import CLOSING, MRR_SLICE, VERSION_1, VERSION_2
from tests.support.story import Landing


@pytest.fixture(autouse=True)
def no_dagster_home(monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)


@pytest.fixture
def landing(tmp_path) -> Landing:
    landing = Landing(tmp_path / "landing")
    landing.add(*VERSION_1)
    return landing


def settings_for(landing: Landing, warehouse: Path) -> Settings:
    return Settings.from_env({"SUBWH_LANDING_DIR": str(landing.root), "SUBWH_WAREHOUSE_PATH": str(warehouse)})


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and modification time, the writer lock aside (it holds the pid of its last owner)."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.endswith(".lock")}


def test_after_a_run_nothing_new_writes_nothing_and_a_new_ui_starts_nothing(tmp_path, landing, capsys):
    data = tmp_path / "data"
    warehouse = data / "warehouse.duckdb"
    args = ["run", "--landing", str(landing.root), "--warehouse", str(warehouse)]
    assert main(args) == 0
    assert "nothing new" not in capsys.readouterr().out
    settings = settings_for(landing, warehouse)
    outputs = [warehouse, settings.serving_path, *settings.exports_dir.iterdir(), *settings.reports_dir.iterdir()]
    assert {p.suffix for p in outputs} >= {".duckdb", ".csv", ".html"}
    before = snapshot(data)

    # A UI started now on this warehouse (`subwh dev`: the same Dagster home) finds nothing to do: the
    # landing sensor's first tick has no cursor, but every file was loaded by the run; automation sees
    # the run's own updates.
    defs = build_definitions(settings)
    with dg.DagsterInstance.from_config(str(dagster_home(warehouse))) as instance:
        assert len(instance.get_runs()) == 1
        sensor = defs.resolve_sensor_def("landing_files")
        tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=None))
        assert tick.run_requests == [] and tick.cursor, tick.skip_message
        assert Daemon(defs, instance).tick() == set()

    # The second run: nothing new, nothing written, exit 0.
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "nothing new" in out and "closing MRR:       $94.00" in out
    assert snapshot(data) == before

    # New files: a real run again.
    landing.add(*VERSION_2)
    assert main(args) == 0
    assert "nothing new" not in capsys.readouterr().out
    assert closing_mrr(settings.serving_path) == CLOSING["v2"]


def test_each_warehouse_has_its_own_dagster_home_and_its_runs_name_it(tmp_path, landing):
    warehouses = [tmp_path / "one" / "warehouse.duckdb", tmp_path / "two" / "warehouse.duckdb"]
    for warehouse in warehouses:
        assert main(["run", "--landing", str(landing.root), "--warehouse", str(warehouse), *MRR_SLICE]) == 0
    for warehouse in warehouses:
        with dg.DagsterInstance.from_config(str(dagster_home(warehouse))) as instance:
            runs = instance.get_runs()
            assert len(runs) == 1
            assert runs[0].tags[WAREHOUSE_TAG] == str(warehouse.resolve())
            assert runs[0].tags[LANDING_TAG] == str(landing.root.resolve())


def test_automation_never_rebuilds_a_warehouse_a_run_did_not_name(tmp_path, landing):
    """One instance shared by two warehouses (DAGSTER_HOME exported by hand, as the README once said):
    an ingestion run on the other warehouse must not make this warehouse's automation rebuild anything."""
    ours = settings_for(landing, tmp_path / "ours" / "warehouse.duckdb")
    theirs = settings_for(landing, tmp_path / "theirs" / "warehouse.duckdb")
    home = tmp_path / "shared_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        our_daemon = Daemon(build_definitions(ours), instance)
        their_daemon = Daemon(build_definitions(theirs), instance)
        our_daemon.run(our_daemon.keys)  # a UI click "Materialize all": not tagged at launch
        assert our_daemon.tick() == set() and their_daemon.tick() == set()
        before = snapshot(tmp_path / "ours")

        their_daemon.run(set(INGESTION_KEYS))  # the landing sensor's run on their warehouse
        assert [r.tags[WAREHOUSE_TAG] for r in instance.get_runs()] == [
            str(theirs.warehouse_path.resolve()), str(ours.warehouse_path.resolve())]
        assert our_daemon.tick() == set(), "automation answered a run on another warehouse"
        # ...while their own automation follows it: the guard is about whose run it was, nothing else.
        assert their_daemon.tick() >= MRR
    assert snapshot(tmp_path / "ours") == before


def test_every_automated_asset_follows_only_runs_on_its_warehouse(tmp_path, landing):
    from tests.unit.test_sensor import labels

    settings = settings_for(landing, tmp_path / "warehouse.duckdb")
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    automated = [graph.get(key).automation_condition for key in graph.get_all_asset_keys()
                 if graph.get(key).automation_condition is not None]
    assert len(automated) == 33  # 27, and the churn models, model, backtest and predictions
    for condition in automated:
        assert "newly_updated_by_a_run_on_this_warehouse" in labels(condition)
        assert "newly_updated_without_root" not in labels(condition)
    tags = {LANDING_TAG: str(landing.root.resolve()), WAREHOUSE_TAG: str(settings.warehouse_path.resolve())}
    assert defs.resolve_sensor_def("warehouse_automation").run_tags == tags
    assert defs.resolve_schedule_def("daily_refresh").tags == tags
