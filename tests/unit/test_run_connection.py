"""Within a run, every step uses one warehouse connection (orchestration/resources.py, LockedWarehouse):
a step that fails must not leave its transaction open for the steps after it."""

import dagster as dg
import pytest

from orchestration.resources import LockedWarehouse


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
