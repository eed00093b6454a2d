"""Whether a run would find anything new: `subwh run` with no new input changes no file.

After every successful full run (`subwh run` without `--select`) we write `<warehouse>.last-run.json`
beside the warehouse: a fingerprint of everything a run reads and of every file it wrote. A later
`subwh run` that finds the same fingerprint has nothing to do: it says "nothing new" and exits 0
without starting Dagster, so the report, the CRM export, the serving file and the warehouse keep their
bytes and modification times. docs/operations.md ("Nothing new") lists what counts as new:

- the landing folder: any file added, removed or changed (name, size, mtime and ctime of every file in
  it, the reference files included);
- the definitions: the content of every file under `sql/`, `transforms/` and `orchestration/`, and the
  versions of DuckDB, Polars, Dagster and matplotlib;
- the settings that change what is written (landing, serving, exports and reports paths, gross margin);
- the outputs themselves: the warehouse, the serving file, the files in the exports and reports folders,
  each as it was when the last run ended. A run started by anything else (the UI, the sensor, the
  schedule), a deleted report, a warehouse copied over: any of them makes the next run a real one.

The as-of instant is not an input: it comes from the data (the newest event), not from the clock. With a
Stripe API key configured every run is a real one: it pulls new events from Stripe first.
Plain Python (no Dagster, no DuckDB): it runs before either is imported.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# The definitions: a change to any of these files may change what a run writes.
CODE_DIRS = (REPO_ROOT / "sql", REPO_ROOT / "transforms", REPO_ROOT / "orchestration")
CODE_SUFFIXES = (".py", ".sql", ".yaml", ".yml", ".md")
PACKAGES = ("duckdb", "polars", "dagster", "matplotlib", "dbt-core", "dbt-duckdb")
# what dbt writes inside its project (sql/): artefacts, not definitions
GENERATED_DIRS = ("__pycache__", "target", "logs", "dbt_packages")
VERSION = 1


def state_path(warehouse_path: str | Path) -> Path:
    return Path(f"{Path(warehouse_path).resolve()}.last-run.json")


def _stat_listing(paths: Iterable[Path], root: Path | None = None) -> dict[str, list[int]]:
    listing = {}
    for path in paths:
        try:
            st = path.stat()
        except FileNotFoundError:  # removed while we listed
            continue
        if path.is_file():
            name = str(path.relative_to(root)) if root else str(path)
            listing[name] = [st.st_size, st.st_mtime_ns, st.st_ctime_ns]
    return listing


def _walk(folder: Path, skip: tuple[str, ...] = ("__pycache__",)) -> list[Path]:
    found = []
    for base, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in skip]
        found += [Path(base) / name for name in files]
    return found


def _digest(listing: dict) -> str:
    return hashlib.sha256(json.dumps(listing, sort_keys=True).encode()).hexdigest()


def landing_digest(landing_dir: str | Path) -> str:
    landing = Path(landing_dir)
    return _digest(_stat_listing(_walk(landing), root=landing))


def code_digest(code_dirs: Iterable[Path] = CODE_DIRS) -> str:
    digest = hashlib.sha256()
    for folder in code_dirs:
        for path in sorted(p for p in _walk(Path(folder), skip=GENERATED_DIRS) if p.suffix in CODE_SUFFIXES):
            digest.update(str(path.relative_to(folder.parent)).encode() + b"\0" + path.read_bytes() + b"\0")
    for package in PACKAGES:
        try:
            digest.update(f"{package}=={metadata.version(package)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{package} missing".encode())
    return digest.hexdigest()


def inputs(settings) -> dict[str, str]:
    """What a run reads: the landing folder, the definitions, the settings that change what it writes."""
    return {
        "landing": landing_digest(settings.landing_dir),
        "code": code_digest(CODE_DIRS),
        "settings": _digest({
            "landing_dir": str(Path(settings.landing_dir).resolve()),
            "serving_path": str(Path(settings.serving_path).resolve()),
            "exports_dir": str(Path(settings.exports_dir).resolve()),
            "reports_dir": str(Path(settings.reports_dir).resolve()),
            "gross_margin": str(settings.gross_margin),
            # a run on another engine (docs/spark.md) is not "nothing new"; DuckDB's keeps earlier digests
            **({"engine": settings.engine} if getattr(settings, "engine", "duckdb") != "duckdb" else {}),
        }),
    }


def outputs(settings) -> dict[str, list[int]]:
    """What a run writes, as it is now: size, mtime and ctime of each file."""
    warehouse = Path(settings.warehouse_path)
    files = [warehouse, Path(f"{warehouse}.wal"), Path(settings.serving_path)]
    for folder in (Path(settings.exports_dir), Path(settings.reports_dir)):
        if folder.is_dir():
            files += sorted(p for p in folder.iterdir() if p.is_file())
    return _stat_listing(p.resolve() for p in files)


def record(settings) -> Path:
    """After a successful full run: remember its inputs and outputs."""
    path = state_path(settings.warehouse_path)
    state = {"version": VERSION, "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
             "inputs": inputs(settings), "outputs": outputs(settings)}
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(temp, path)
    return path


def forget(warehouse_path: str | Path) -> None:
    """At the start of every run (whoever started it): until it succeeds, the last state is void."""
    state_path(warehouse_path).unlink(missing_ok=True)


def _last_state(warehouse_path) -> dict | None:
    try:
        state = json.loads(state_path(warehouse_path).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return state if state.get("version") == VERSION and state.get("outputs") else None


def landing_unchanged(settings) -> bool:
    """The landing folder is as the last successful run read it: for the landing sensor's first tick in a
    UI started on a warehouse `subwh run` has just brought up to date (nothing to load, nothing to run)."""
    state = _last_state(settings.warehouse_path)
    return state is not None and state["inputs"].get("landing") == landing_digest(settings.landing_dir)


def nothing_new(settings) -> str | None:
    """When the last successful run (finished at the time returned) read the same inputs and left the
    outputs as they are now; None when a run has something to do."""
    if getattr(settings, "stripe_api_key_env", None):
        return None  # runs pull from the Stripe API first: what is new there is only known by asking it
    state = _last_state(settings.warehouse_path)
    if state is None:
        return None
    if state.get("outputs") != outputs(settings) or state.get("inputs") != inputs(settings):
        return None
    return state.get("finished_at", "?")
