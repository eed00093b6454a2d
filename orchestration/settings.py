"""Where the warehouse reads and writes, from the environment, so the CLI, schedules and the UI agree."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Every Dagster asset that opens the warehouse for writing runs in this pool (one writer per file).
WAREHOUSE_POOL = "warehouse"


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    warehouse_path: Path
    serving_path: Path
    exports_dir: Path  # CRM follow-up CSVs
    reports_dir: Path  # offline HTML reports
    gross_margin: str = "1.0"  # for LTV (SPEC §4), a fraction
    memory_limit: str | None = None
    threads: int | None = None
    temp_directory: str | None = None

    @classmethod
    def from_env(cls) -> Settings:
        landing = Path(os.environ.get("SUBWH_LANDING_DIR") or REPO_ROOT / "sample_data" / "landing")
        warehouse = Path(os.environ.get("SUBWH_WAREHOUSE_PATH") or REPO_ROOT / "data" / "warehouse.duckdb")
        serving = Path(os.environ.get("SUBWH_SERVING_PATH") or warehouse.with_name("serving.duckdb"))
        threads = os.environ.get("SUBWH_DUCKDB_THREADS")
        return cls(
            landing_dir=landing,
            warehouse_path=warehouse,
            serving_path=serving,
            exports_dir=Path(os.environ.get("SUBWH_EXPORTS_DIR") or warehouse.parent / "exports"),
            reports_dir=Path(os.environ.get("SUBWH_REPORTS_DIR") or warehouse.parent / "reports"),
            gross_margin=os.environ.get("SUBWH_GROSS_MARGIN") or "1.0",
            memory_limit=os.environ.get("SUBWH_DUCKDB_MEMORY_LIMIT") or None,
            threads=int(threads) if threads else None,
            temp_directory=os.environ.get("SUBWH_DUCKDB_TEMP_DIR") or None,
        )
