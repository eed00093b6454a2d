"""The warehouse resource: the one way assets open the DuckDB file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from orchestration.instance import run_tags
from orchestration.locking import writer_lock
from transforms import run_state, sql_models


class Warehouse(dg.ConfigurableResource):
    """The DuckDB warehouse file plus the landing folder it is loaded from."""

    path: str
    landing_dir: str
    serving_path: str
    exports_dir: str
    reports_dir: str
    gross_margin: str = "1.0"
    memory_limit: str | None = None
    threads: int | None = None
    temp_directory: str | None = None

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = sql_models.connect(
            self.path,
            memory_limit=self.memory_limit,
            threads=self.threads,
            temp_directory=self.temp_directory,
            variables={"gross_margin": self.gross_margin},
        )
        try:
            yield con
        finally:
            con.close()


class LockedWarehouse(Warehouse):
    """The warehouse resource Definitions hands to runs: holds the writer lock from the run's first
    step to its last, so a run launched by Dagster and a `subwh run` in a terminal take turns."""

    _lock: object = PrivateAttr(default=None)
    _con: object = PrivateAttr(default=None)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Within a run, one connection for all its steps (opening the file, its settings and macros cost
        about 16 ms of CPU a step, 0.6 s a run on the sample); closed when the run ends. A step that fails
        leaves no transaction open for the next one."""
        if self._lock is None:  # outside a run (a test calling the resource)
            with super().connect() as con:
                yield con
            return
        if self._con is None:
            self._con = sql_models.connect(
                self.path,
                memory_limit=self.memory_limit,
                threads=self.threads,
                temp_directory=self.temp_directory,
                variables={"gross_margin": self.gross_margin},
            )
        try:
            yield self._con
        except BaseException:
            with suppress(duckdb.Error):  # no transaction was open
                self._con.execute("rollback")
            raise

    def setup_for_execution(self, context) -> None:
        log = context.log.info if context.log else print
        self._lock = writer_lock(self.path, on_wait=log)
        self._lock.__enter__()
        # Whatever started this run, the last run's record of its inputs and outputs is void until a run
        # succeeds again (transforms/run_state.py): the next `subwh run` must not say "nothing new".
        run_state.forget(self.path)
        # Name the landing folder and warehouse on the run, however it was launched (a click in the UI
        # carries no tags): automation follows only runs on its own warehouse (orchestration/instance.py).
        run = context.run
        if context.instance is not None and run is not None:
            missing = {k: v for k, v in run_tags(self.landing_dir, self.path).items() if run.tags.get(k) != v}
            if missing:
                context.instance.add_run_tags(run.run_id, missing)

    def teardown_after_execution(self, context) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
        if self._lock is not None:
            self._lock.__exit__(None, None, None)
            self._lock = None
