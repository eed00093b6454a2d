"""The warehouse resource: the one way assets open the DuckDB file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from transforms import sql_models


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
