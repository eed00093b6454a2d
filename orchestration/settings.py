"""Where the warehouse reads and writes, from the environment, so the CLI, schedules and the UI agree."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from transforms.ingestion import DEFAULT_MAX_LINE_BYTES, InstantBounds

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_LANDING = REPO_ROOT / "sample_data" / "landing"

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
    gross_margin: str = "1.0"  # for LTV (docs/metrics.md), a fraction
    memory_limit: str | None = None
    threads: int | None = None
    temp_directory: str | None = None
    # The daily safety-net run (docs/operations.md): a cron string in schedule_timezone (IANA name).
    schedule_cron: str = "0 2 * * *"
    schedule_timezone: str = "UTC"
    # The landing sensor looks for new files at most this often: a burst of files becomes one run.
    sensor_min_interval_seconds: int = 60
    # Bad input (docs/bad-input.md): plausible instants, the load's clock (SUBWH_NOW) and the longest line.
    instant_bounds: InstantBounds = InstantBounds()
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    # The Stripe API pull (docs/stripe-api.md): the name of the variable that holds the key, when it is set
    # (never the key itself), and the API's base address (empty: Stripe's own).
    stripe_api_key_env: str | None = None
    stripe_api_base: str = ""
    # What runs the dbt models: duckdb, or spark (docs/spark.md)
    engine: str = "duckdb"

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
            gross_margin=_fraction(env, "SUBWH_GROSS_MARGIN", "1.0"),
            memory_limit=_memory_limit(env, "SUBWH_DUCKDB_MEMORY_LIMIT"),
            threads=_positive_int(env, "SUBWH_DUCKDB_THREADS", None, "threads"),
            temp_directory=_writable_directory(env, "SUBWH_DUCKDB_TEMP_DIR"),
            schedule_cron=env.get("SUBWH_SCHEDULE_CRON") or "0 2 * * *",
            schedule_timezone=env.get("SUBWH_SCHEDULE_TIMEZONE") or "UTC",
            sensor_min_interval_seconds=_positive_int(env, "SUBWH_SENSOR_MIN_INTERVAL_SECONDS", 60, "seconds"),
            instant_bounds=instant_bounds_from_env(env),
            max_line_bytes=_positive_int(env, "SUBWH_MAX_LINE_BYTES", DEFAULT_MAX_LINE_BYTES, "bytes"),
            # never pull Stripe data into the committed sample: a key exported in the shell leaves `make run` as is
            stripe_api_key_env=None if landing.resolve() == SAMPLE_LANDING.resolve() else _stripe_key_env(env),
            stripe_api_base=(env.get("SUBWH_STRIPE_API_BASE") or "").strip(),
            engine=_engine(env, "SUBWH_ENGINE"),
        )


def _stripe_key_env(env: Mapping[str, str]) -> str | None:
    """STRIPE_API_KEY (or the variable SUBWH_STRIPE_API_KEY_ENV names) when it holds a key, else None."""
    name = (env.get("SUBWH_STRIPE_API_KEY_ENV") or "").strip() or "STRIPE_API_KEY"
    return name if (env.get(name) or "").strip() else None


def instant_bounds_from_env(env: Mapping[str, str]) -> InstantBounds:
    """The plausible instants of docs/bad-input.md, each default changed by its SUBWH_* variable."""
    default = InstantBounds()
    return InstantBounds(
        occurred_at_floor=_date(env, "SUBWH_OCCURRED_AT_FLOOR", default.occurred_at_floor),
        future_tolerance=timedelta(hours=_whole(env, "SUBWH_FUTURE_TOLERANCE_HOURS", 24, "hours", minimum=0)),
        effective_at_years_after=_whole(env, "SUBWH_EFFECTIVE_AT_YEARS_AFTER", default.effective_at_years_after,
                                        "years", minimum=0),
        effective_at_years_before=_whole(env, "SUBWH_EFFECTIVE_AT_YEARS_BEFORE", default.effective_at_years_before,
                                         "years", minimum=0),
        invoice_period_years=_whole(env, "SUBWH_INVOICE_PERIOD_YEARS", default.invoice_period_years, "years",
                                    minimum=0),
        now=_instant(env, "SUBWH_NOW"),
    )


def _whole_number(name: str, text: str, unit: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a whole number of {unit}") from None


def _whole(env: Mapping[str, str], name: str, default: int, unit: str, minimum: int) -> int:
    text = (env.get(name) or "").strip()
    if not text:
        return default
    value = _whole_number(name, text, unit)
    if not minimum <= value <= 1000:
        raise SettingsError(f"{name}={text!r} must be between {minimum} and 1000 {unit}")
    return value


def _date(env: Mapping[str, str], name: str, default: date) -> date:
    text = (env.get(name) or "").strip()
    if not text:
        return default
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a date (YYYY-MM-DD, e.g. 1990-01-01)") from None
    if value.year < 1900:
        raise SettingsError(f"{name}={text!r} must be 1900-01-01 or later")
    return value


def _instant(env: Mapping[str, str], name: str) -> datetime | None:
    """An ISO-8601 instant with an offset (or a date, meaning its midnight UTC), as naive UTC."""
    text = (env.get(name) or "").strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not an ISO-8601 instant (e.g. 2025-12-31T23:00:00Z)") from None
    if value.tzinfo is None and len(text) > 10:
        raise SettingsError(f"{name}={text!r} needs an offset (e.g. Z or +01:00): a local time is ambiguous")
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    if value.year < 1900:
        raise SettingsError(f"{name}={text!r} must be 1900 or later")
    return value


def _positive_int(env: Mapping[str, str], name: str, default: int | None, unit: str) -> int | None:
    text = env.get(name)
    if not text:
        return default
    value = _whole_number(name, text, unit)
    if value < 1:
        raise SettingsError(f"{name}={text!r} must be at least 1")
    return value


def _memory_limit(env: Mapping[str, str], name: str) -> str | None:
    """The limit as given, once DuckDB accepts it: checked here so a typo fails at start-up, not as a
    failed first step of a run."""
    text = (env.get(name) or "").strip()
    if not text:
        return None
    import duckdb  # here, not at the top: `subwh run` checks its landing folder before importing anything heavy

    try:
        duckdb.connect(":memory:", config={"memory_limit": text}).close()
    except duckdb.Error:
        raise SettingsError(f"{name}={text!r} is not a memory size DuckDB accepts (e.g. 4GB, 512MB)") from None
    return text


def _fraction(env: Mapping[str, str], name: str, default: str) -> str:
    """A number in (0, 1], as given (the models cast it to DECIMAL)."""
    text = (env.get(name) or "").strip() or default
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise SettingsError(f"{name}={text!r} is not a number (a fraction such as 0.8)") from None
    if not value.is_finite() or not 0 < value <= 1:
        raise SettingsError(f"{name}={text!r} must be a fraction above 0 and at most 1 (e.g. 0.8)")
    return text


def _engine(env: Mapping[str, str], name: str) -> str:
    """duckdb (the default) or spark; spark only where pyspark, dbt-spark and Java are installed."""
    text = (env.get(name) or "").strip().lower() or "duckdb"
    if text not in ("duckdb", "spark"):
        raise SettingsError(f"{name}={text!r} must be duckdb or spark")
    if text == "spark":
        import importlib.util
        import shutil

        if importlib.util.find_spec("pyspark") is None or importlib.util.find_spec("dbt.adapters.spark") is None:
            raise SettingsError(f"{name}=spark needs pyspark and dbt-spark: .venv/bin/pip install -r requirements-spark.lock")
        if shutil.which("java") is None:
            raise SettingsError(f"{name}=spark needs Java 17 or later on PATH (Debian: openjdk-17-jre-headless)")
    return text


def _writable_directory(env: Mapping[str, str], name: str) -> str | None:
    """A folder DuckDB can spill to: it exists and is writable, or it can be created. Checked here, since
    DuckDB only finds out when it first spills, in the middle of a large run."""
    text = (env.get(name) or "").strip()
    if not text:
        return None
    path = Path(text).expanduser().absolute()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise SettingsError(f"{name}={text!r}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SettingsError(f"{name}={text!r}: {existing} is not writable")
    return text
