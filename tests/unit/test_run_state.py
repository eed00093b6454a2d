"""What counts as new for `subwh run` (transforms/run_state.py), without running the pipeline: each kind
of change makes the next run a real one; nothing changed, and the next run has nothing to do."""

import os
import time

import pytest

from orchestration.settings import Settings
from transforms import run_state


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A landing folder, a warehouse with its outputs as a run leaves them, and the definitions' folder."""
    landing = tmp_path / "landing"
    (landing / "subscription_events").mkdir(parents=True)
    (landing / "reference").mkdir()
    (landing / "subscription_events" / "2025-01-02.jsonl").write_text('{"event_id": "e1"}\n')
    (landing / "reference" / "plans.csv").write_text("plan_id\nstarter\n")
    data = tmp_path / "data"
    for name in ("warehouse.duckdb", "serving.duckdb", "exports/follow_up_latest.csv", "reports/revenue_report_latest.html"):
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_text(name)
    code = tmp_path / "code" / "sql"
    code.mkdir(parents=True)
    (code / "model.sql").write_text("select 1")
    monkeypatch.setattr(run_state, "CODE_DIRS", (code,))
    settings = Settings.from_env({"SUBWH_LANDING_DIR": str(landing), "SUBWH_WAREHOUSE_PATH": str(data / "warehouse.duckdb")})
    run_state.record(settings)
    return settings, landing, data, code


def later(path):
    """Rewrite a file with the same bytes, one second later (a file system with coarse timestamps)."""
    text = path.read_bytes()
    stamp = time.time() + 1
    path.write_bytes(text)
    os.utime(path, (stamp, stamp))


def test_nothing_changed_is_nothing_new(world):
    settings, *_ = world
    assert run_state.nothing_new(settings) is not None
    assert run_state.landing_unchanged(settings)


def test_no_record_means_a_run(world):
    settings, *_ = world
    run_state.forget(settings.warehouse_path)
    assert run_state.nothing_new(settings) is None
    assert not run_state.landing_unchanged(settings)


@pytest.mark.parametrize("change", [
    "new landing file", "landing file rewritten", "reference file corrected", "landing file removed",
])
def test_a_landing_change_is_new(world, change):
    settings, landing, _, _ = world
    if change == "new landing file":
        (landing / "subscription_events" / "2025-01-03.jsonl").write_text('{"event_id": "e2"}\n')
    elif change == "landing file rewritten":
        later(landing / "subscription_events" / "2025-01-02.jsonl")
    elif change == "reference file corrected":
        (landing / "reference" / "plans.csv").write_text("plan_id\ngrowth\n")
    else:
        (landing / "subscription_events" / "2025-01-02.jsonl").unlink()
    assert run_state.nothing_new(settings) is None
    assert not run_state.landing_unchanged(settings)


def test_a_changed_definition_is_new(world):
    settings, _, _, code = world
    (code / "model.sql").write_text("select 2")
    assert run_state.nothing_new(settings) is None
    assert run_state.landing_unchanged(settings)  # the landing sensor has nothing to load, though


def test_a_changed_setting_is_new(world):
    settings, *_ = world
    margin = Settings.from_env({"SUBWH_LANDING_DIR": str(settings.landing_dir),
                                "SUBWH_WAREHOUSE_PATH": str(settings.warehouse_path), "SUBWH_GROSS_MARGIN": "0.8"})
    assert run_state.nothing_new(margin) is None


@pytest.mark.parametrize("output", ["warehouse.duckdb", "serving.duckdb", "exports/follow_up_latest.csv",
                                    "reports/revenue_report_latest.html"])
def test_an_output_touched_or_deleted_since_is_new(world, output):
    settings, _, data, _ = world
    later(data / output)  # another run (the UI, the sensor) or a person changed it
    assert run_state.nothing_new(settings) is None
    run_state.record(settings)
    (data / output).unlink()
    assert run_state.nothing_new(settings) is None


def test_with_a_stripe_api_key_every_run_is_a_real_one(world):
    settings, *_ = world
    keyed = Settings.from_env({"SUBWH_LANDING_DIR": str(settings.landing_dir),
                               "SUBWH_WAREHOUSE_PATH": str(settings.warehouse_path), "STRIPE_API_KEY": "rk_test_x"})
    assert keyed.stripe_api_key_env
    assert run_state.nothing_new(keyed) is None
