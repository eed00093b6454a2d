"""Within a run, every step uses one warehouse connection (orchestration/resources.py, LockedWarehouse):
a step that fails must not leave its transaction open for the steps after it."""

import os

import dagster as dg
import pytest

from orchestration.resources import LockedWarehouse
from transforms import sql_models


def test_steps_share_one_connection_and_a_failed_step_leaves_no_transaction_open(tmp_path):
    warehouse = LockedWarehouse(path=str(tmp_path / "w.duckdb"), landing_dir=str(tmp_path / "landing"),
                                serving_path=str(tmp_path / "serving.duckdb"), exports_dir=str(tmp_path / "exports"),
                                reports_dir=str(tmp_path / "reports"))
    context = dg.build_init_resource_context()
    warehouse.setup_for_execution(context)  # the run starts: the writer lock is taken
    try:
        with pytest.raises(RuntimeError), warehouse.connect() as first:
            first.execute("begin transaction")
            first.execute("create table marts.half_done as select 1 as x")
            raise RuntimeError("the step failed half-way")
        with warehouse.connect() as second:
            assert second is first
            # A transaction still open would make this fail ("cannot start a transaction within a transaction").
            second.execute("begin transaction")
            second.execute("commit")
            assert second.sql("select count(*) from duckdb_tables() where table_name = 'half_done'").fetchall() == [(0,)]
    finally:
        warehouse.teardown_after_execution(context)
    with warehouse.connect() as outside_a_run:  # its own connection, closed on exit
        assert outside_a_run is not first


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads the resident set from /proc")
def test_a_step_does_not_carry_the_memory_an_earlier_step_freed(tmp_path):
    # Before: one connection for the run kept what the heaviest step had freed resident (peak RSS at L
    # 2.9 -> 4.4 GB, benchmarks/RESULTS.md). About 300 MB built and dropped in one step must be gone
    # when the next step gets the connection.
    warehouse = LockedWarehouse(path=str(tmp_path / "w.duckdb"), landing_dir=str(tmp_path / "landing"),
                                serving_path=str(tmp_path / "serving.duckdb"), exports_dir=str(tmp_path / "exports"),
                                reports_dir=str(tmp_path / "reports"), memory_limit="2GB", threads=2)
    context = dg.build_init_resource_context()
    warehouse.setup_for_execution(context)
    try:
        with warehouse.connect() as con:
            con.execute("create temp table heavy as select range as a, range * 2 as b, range::varchar as c "
                        "from range(10000000)")
            con.execute("drop table heavy")
            freed_but_resident = _rss_mb()
        with warehouse.connect() as con:
            assert _rss_mb() < freed_but_resident - 150
            assert con.execute("select value from duckdb_settings() where name = 'memory_limit'").fetchone()[0] \
                == "1.8 GiB"  # 2GB, as configured
    finally:
        warehouse.teardown_after_execution(context)


@pytest.mark.parametrize("limit", ["3GB", None])
def test_releasing_memory_keeps_the_memory_limit(limit):
    con = sql_models.connect(":memory:", memory_limit=limit)
    query = "select value from duckdb_settings() where name = 'memory_limit'"
    before = con.execute(query).fetchone()[0]
    sql_models.release_memory(con, limit)
    assert con.execute(query).fetchone()[0] == before
