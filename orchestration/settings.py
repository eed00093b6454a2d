"""Where the warehouse reads and writes, from the environment, so the CLI, schedules and the UI agree."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb

REPO_ROOT = Path(__file__).resolve().parent.parent

# Every Dagster asset that opens the warehouse for writing runs in this pool (one writer per file).
WAREHOUSE_POOL = "warehouse"


class SettingsError(ValueError):
    """A SUBWH_* variable that cannot be used, with a message naming it."""


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
    # The daily safety-net run (docs/operations.md): a cron string in schedule_timezone (IANA name).
    schedule_cron: str = "0 2 * * *"
    schedule_timezone: str = "UTC"
    # The landing sensor looks for new files at most this often: a burst of files becomes one run.
    sensor_min_interval_seconds: int = 60

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from `environ` (default: the process environment); see the SUBWH_* names below."""
        env = os.environ if environ is None else environ
        landing = Path(env.get("SUBWH_LANDING_DIR") or REPO_ROOT / "sample_data" / "landing")
        warehouse = Path(env.get("SUBWH_WAREHOUSE_PATH") or REPO_ROOT / "data" / "warehouse.duckdb")
        serving = Path(env.get("SUBWH_SERVING_PATH") or warehouse.with_name("serving.duckdb"))
        return cls(
            landing_dir=landing,
            warehouse_path=warehouse,
            serving_path=serving,
            exports_dir=Path(env.get("SUBWH_EXPORTS_DIR") or warehouse.parent / "exports"),
            reports_dir=Path(env.get("SUBWH_REPORTS_DIR") or warehouse.parent / "reports"),
            gross_margin=env.get("SUBWH_GROSS_MARGIN") or "1.0",
            memory_limit=_memory_limit(env, "SUBWH_DUCKDB_MEMORY_LIMIT"),
            threads=_positive_int(env, "SUBWH_DUCKDB_THREADS", None, "threads"),
            temp_directory=env.get("SUBWH_DUCKDB_TEMP_DIR") or None,
            schedule_cron=env.get("SUBWH_SCHEDULE_CRON") or "0 2 * * *",
            schedule_timezone=env.get("SUBWH_SCHEDULE_TIMEZONE") or "UTC",
            sensor_min_interval_seconds=_positive_int(env, "SUBWH_SENSOR_MIN_INTERVAL_SECONDS", 60, "seconds"),
        )


def _positive_int(env: Mapping[str, str], name: str, default: int | None, unit: str) -> int | None:
    text = env.get(name)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a whole number of {unit}") from None
    if value < 1:
        raise SettingsError(f"{name}={text!r} must be at least 1")
    return value


def _memory_limit(env: Mapping[str, str], name: str) -> str | None:
    """The limit as given, once DuckDB accepts it: checked here so a typo fails at start-up, not as a
    failed first step of a run."""
    text = (env.get(name) or "").strip()
    if not text:
        return None
    try:
        duckdb.connect(":memory:", config={"memory_limit": text}).close()
    except duckdb.Error:
        raise SettingsError(f"{name}={text!r} is not a memory size DuckDB accepts (e.g. 4GB, 512MB)") from None
    return text
