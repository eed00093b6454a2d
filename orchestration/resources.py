"""The warehouse resource: the one way assets open the DuckDB file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from orchestration.instance import dagster_home, run_tags
from orchestration.locking import writer_lock
from transforms import dbt_project, run_state, sql_models
from transforms.ingestion import DEFAULT_MAX_LINE_BYTES, InstantBounds


class Warehouse(dg.ConfigurableResource):
    """The DuckDB warehouse file plus the landing folder it is loaded from."""

    path: str
    landing_dir: str
    serving_path: str
    exports_dir: str
    reports_dir: str
    gross_margin: str = "1.0"
    # what runs the dbt models: duckdb, or spark (docs/spark.md)
    engine: str = "duckdb"
    memory_limit: str | None = None
    threads: int | None = None
    temp_directory: str | None = None
    # Bad input (docs/bad-input.md); `now` is SUBWH_NOW (ISO-8601, UTC), None for the real clock.
    now: str | None = None
    occurred_at_floor: str = "1990-01-01"
    future_tolerance_hours: int = 24
    effective_at_years_after: int = 5
    effective_at_years_before: int = 1
    invoice_period_years: int = 5
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES

    def instant_bounds(self) -> InstantBounds:
        return InstantBounds(
            occurred_at_floor=date.fromisoformat(self.occurred_at_floor),
            future_tolerance=timedelta(hours=self.future_tolerance_hours),
            effective_at_years_after=self.effective_at_years_after,
            effective_at_years_before=self.effective_at_years_before,
            invoice_period_years=self.invoice_period_years,
            now=datetime.fromisoformat(self.now) if self.now else None,
        )

    @staticmethod
    def bad_input_fields(bounds: InstantBounds, max_line_bytes: int) -> dict:
        """The resource's bad-input fields for `bounds` (from Settings)."""
        return {
            "now": bounds.now.isoformat() if bounds.now else None,
            "occurred_at_floor": bounds.occurred_at_floor.isoformat(),
            "future_tolerance_hours": int(bounds.future_tolerance.total_seconds() // 3600),
            "effective_at_years_after": bounds.effective_at_years_after,
            "effective_at_years_before": bounds.effective_at_years_before,
            "invoice_period_years": bounds.invoice_period_years,
            "max_line_bytes": max_line_bytes,
        }

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = sql_models.connect(
            self.path, memory_limit=self.memory_limit, threads=self.threads, temp_directory=self.temp_directory
        )
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def handed_to_dbt(self) -> Iterator[dict[str, str]]:
        """For the block, the warehouse file is dbt's (a subprocess opens it for writing): this process holds
        no connection to it. Yields the environment the dbt invocation needs (sql/profiles.yml)."""
        yield dbt_project.dbt_environment(self.path, memory_limit=self.memory_limit, threads=self.threads,
                                          temp_directory=self.temp_directory)

    def dbt_target_dir(self) -> Path:
        """dbt's artefacts, logs and partial parse state for runs on this warehouse, in its Dagster home: runs on
        one warehouse take turns (the writer lock), so the folder is never written by two at once, and its parse
        state was made with this warehouse's profile, so a run parses only what changed."""
        return dagster_home(self.path) / "dbt"


class LockedWarehouse(Warehouse):
    """The warehouse resource Definitions hands to runs: holds the writer lock from the run's first
    step to its last, so a run launched by Dagster and a `subwh run` in a terminal take turns."""

    _lock: object = PrivateAttr(default=None)
    _con: object = PrivateAttr(default=None)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Within a run, one connection for all its steps (opening the file, its settings and macros cost
        about 16 ms of CPU a step, 0.6 s a run on the sample); closed when the run ends. A step that fails
        leaves no transaction open for the next one, and a step does not carry the memory an earlier one
        freed (sql_models.release_memory)."""
        if self._lock is None:  # outside a run (a test calling the resource)
            with super().connect() as con:
                yield con
            return
        if self._con is None:
            self._con = sql_models.connect(
                self.path, memory_limit=self.memory_limit, threads=self.threads, temp_directory=self.temp_directory
            )
        else:  # what the steps before freed goes back to the OS, as closing the connection did
            sql_models.release_memory(self._con, self.memory_limit)
        try:
            yield self._con
        except BaseException:
            with suppress(duckdb.Error):  # no transaction was open
                self._con.execute("rollback")
            raise

    @contextmanager
    def handed_to_dbt(self) -> Iterator[dict[str, str]]:
        """Close the run's connection while dbt writes the file (DuckDB allows one writing process); the
        writer lock stays held, so no other run, `subwh run` or UI-launched, opens the file meanwhile. The
        next step's connect() opens a new connection."""
        if self._con is not None:
            self._con.close()
            self._con = None
        with super().handed_to_dbt() as env:
            yield env

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
