"""DuckDB's memory limit, threads and temp directory: from the environment to every warehouse connection,
and past the limit a step spills to the temp directory instead of failing (README "Scaling")."""

from __future__ import annotations

import json

import pytest

from orchestration import cli
from orchestration.definitions import build_definitions
from orchestration.settings import Settings, SettingsError
from transforms import sql_models


def test_the_environment_sets_memory_limit_threads_and_temp_directory_of_the_run_connection(tmp_path):
    settings = Settings.from_env(
        {
            "SUBWH_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
            "SUBWH_DUCKDB_MEMORY_LIMIT": "300MB",
            "SUBWH_DUCKDB_THREADS": "1",
            "SUBWH_DUCKDB_TEMP_DIR": str(tmp_path / "spill"),
        }
    )
    warehouse = build_definitions(settings).resources["warehouse"]
    with warehouse.connect() as con:
        memory_limit, threads, temp_directory = con.sql(
            "select current_setting('memory_limit'), current_setting('threads'), current_setting('temp_directory')"
        ).fetchall()[0]
    assert memory_limit == "286.1 MiB"  # 300 MB as DuckDB reports it
    assert threads == 1
    assert temp_directory == str(tmp_path / "spill")


def test_a_step_larger_than_the_memory_limit_spills_to_the_temp_directory(tmp_path):
    con = sql_models.connect(
        tmp_path / "warehouse.duckdb", memory_limit="64MB", threads=1, temp_directory=str(tmp_path / "spill")
    )
    profile = tmp_path / "profile.json"
    con.execute(f"pragma enable_profiling = 'json'; pragma profiling_output = '{profile}'")
    # about 100 MB of sort keys: more than the limit, so DuckDB must spill
    con.execute(
        "create table marts.sorted as select md5(range::varchar) as k, range as v from range(1500000) order by k"
    )
    con.execute("pragma disable_profiling")
    spilled = json.loads(profile.read_text())["system"]["total_bytes_spilled"]
    assert spilled > 64 * 1024 * 1024
    assert con.sql("select count(*), count(distinct k) from marts.sorted").fetchall() == [(1_500_000, 1_500_000)]
    assert con.sql("select min(k) = first(k order by rowid) from marts.sorted").fetchall() == [(True,)]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SUBWH_DUCKDB_THREADS", "two", "SUBWH_DUCKDB_THREADS='two' is not a whole number of threads"),
        ("SUBWH_DUCKDB_THREADS", "0", "SUBWH_DUCKDB_THREADS='0' must be at least 1"),
        ("SUBWH_DUCKDB_MEMORY_LIMIT", "lots", "SUBWH_DUCKDB_MEMORY_LIMIT='lots' is not a memory size DuckDB accepts"),
    ],
)
def test_an_unusable_setting_is_named_before_anything_runs(name, value, message, monkeypatch, capsys):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({name: value})
    monkeypatch.setenv(name, value)
    assert cli.main(["run"]) == 2
    assert message in capsys.readouterr().err
