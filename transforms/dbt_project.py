"""The SQL models are a dbt project in `sql/` (dbt_project.yml, models/<schema>/<table>.sql and .yml, macros/).

What the rest of the code needs to know about it, without Dagster: where it is, what environment a dbt
invocation on a given warehouse gets, whether the parsed manifest is older than the project, and what a
model's `.yml` declares. dbt itself runs the models: Dagster's `dbt build` (orchestration/assets/dbt_models.py),
or `dbt build` by hand from `sql/`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent / "sql"
# dbt's artefacts for the project as a whole (manifest.json, partial_parse.msgpack): an ignored folder
TARGET_DIR = PROJECT_DIR / "target"
MANIFEST_PATH = TARGET_DIR / "manifest.json"
MODEL_SCHEMAS = ("staging", "intermediate", "marts")
# dbt as the pipeline runs it (`subwh-dbt`, installed beside this Python: main() below), whether or not the
# virtual environment is on PATH.
DBT_EXECUTABLE = str(Path(sys.executable).with_name("subwh-dbt"))
# Flags every invocation passes: no check for a newer dbt on the network, plain text.
GLOBAL_FLAGS = ("--no-version-check", "--no-use-colors")


@dataclass(frozen=True)
class ModelDoc:
    """What a model's `.yml` declares (dbt reads the same file)."""

    schema: str
    table: str
    description: str
    columns: dict[str, str] = field(default_factory=dict)
    config: dict = field(default_factory=dict)

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def materialized(self) -> str:
        return str(self.config.get("materialized") or "table")

    @property
    def unique_key(self) -> str | None:
        return self.config.get("unique_key")


@cache
def model_docs() -> dict[str, ModelDoc]:
    """Every model's `.yml`, by qualified name ("marts.mrr_waterfall")."""
    docs: dict[str, ModelDoc] = {}
    for schema in MODEL_SCHEMAS:
        for path in sorted((PROJECT_DIR / "models" / schema).glob("*.yml")):
            for model in (yaml.safe_load(path.read_text()) or {}).get("models") or []:
                docs[f"{schema}.{model['name']}"] = ModelDoc(
                    schema=schema,
                    table=model["name"],
                    description=str(model.get("description") or "").strip(),
                    columns={c["name"]: str(c.get("description") or "").strip() for c in model.get("columns") or []},
                    config=dict(model.get("config") or {}),
                )
    return docs


def model_doc(qualified_name: str) -> ModelDoc | None:
    return model_docs().get(qualified_name)


def project_files() -> Iterator[Path]:
    """The files a parse reads: a manifest older than any of them is stale."""
    yield PROJECT_DIR / "dbt_project.yml"
    yield PROJECT_DIR / "profiles.yml"
    for folder in ("models", "macros", "tests"):
        yield from (p for p in (PROJECT_DIR / folder).rglob("*") if p.is_file() and p.suffix in (".sql", ".yml", ".yaml"))


def manifest_is_stale(manifest_path: Path = MANIFEST_PATH) -> bool:
    """True when there is no manifest or a project file changed after it was written."""
    if not manifest_path.exists():
        return True
    written = manifest_path.stat().st_mtime
    return any(p.stat().st_mtime > written for p in project_files() if p.exists())


def dbt_environment(
    warehouse_path: str | Path,
    *,
    memory_limit: str | None = None,
    threads: int | None = None,
    temp_directory: str | None = None,
) -> dict[str, str]:
    """The environment variables sql/profiles.yml and sql/macros/warehouse_settings.sql read, for a run on
    `warehouse_path` (an unset setting keeps DuckDB's default)."""
    return {
        "SUBWH_WAREHOUSE_PATH": str(Path(warehouse_path).resolve()),
        "SUBWH_DUCKDB_MEMORY_LIMIT": memory_limit or "",
        "SUBWH_DUCKDB_THREADS": str(threads) if threads else "",
        "SUBWH_DUCKDB_TEMP_DIR": str(temp_directory) if temp_directory else "",
        # the partial parse state is kept per warehouse (target_path), so it is never written concurrently
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set `values` in this process's environment for the block (what a dbt subprocess inherits), then put
    back what was there."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def dbt_vars(gross_margin: str = "1.0", **others) -> list[str]:
    """`--vars` for an invocation: the project's variables a run sets (LTV's gross margin) and `others`, none when
    they are the project's defaults. dbt parses the whole project again when its command-line variables differ
    from the last parse's, so a run with the defaults passes none, as the parse Dagster's manifest comes from."""
    values = {} if Decimal(str(gross_margin)) == 1 else {"gross_margin": str(gross_margin)}
    values.update(others)
    return ["--vars", json.dumps(values)] if values else []


def failures(target_dir: str | Path, output: str = "") -> str:
    """What failed in the last dbt invocation whose artefacts are in `target_dir`, in one line per model or
    test (its run_results.json), or dbt's last error lines when it stopped before running any."""
    results = Path(target_dir) / "run_results.json"
    found = []
    if results.exists():
        tables = {doc.table: name for name, doc in model_docs().items()}
        with contextlib.suppress(ValueError, KeyError):
            for result in json.loads(results.read_text())["results"]:
                if result["status"] in ("error", "fail"):
                    kind, _, name = result["unique_id"].split(".", 2)
                    what = tables.get(name, name) if kind == "model" else f"{kind} {name}"
                    found.append(f"{what}: {' '.join(str(result.get('message') or result['status']).split())}")
    if not found:
        found = [line.strip() for line in output.splitlines() if "error" in line.lower()][-3:]
    return "; ".join(found) or "dbt failed before running any model"


def run_dbt(args: list[str], warehouse_path: str | Path, *, target_dir: str | Path | None = None,
            gross_margin: str = "1.0", threads: int | None = None, memory_limit: str | None = None) -> None:
    """Run dbt on a warehouse file in a subprocess, outside Dagster (the benchmark's comparison builds): no
    connection to the file may be open in this process meanwhile. Raises with dbt's output on failure."""
    import subprocess

    target = Path(target_dir) if target_dir else Path(f"{Path(warehouse_path).resolve()}.dbt")
    env = os.environ | dbt_environment(warehouse_path, memory_limit=memory_limit, threads=threads) | {
        "DBT_TARGET_PATH": str(target), "DBT_LOG_PATH": str(target)}
    done = subprocess.run([DBT_EXECUTABLE, *GLOBAL_FLAGS, *args, *dbt_vars(gross_margin), "--project-dir",
                           str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR)],
                          env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"dbt {' '.join(args)} failed on {warehouse_path}:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")


def main() -> None:
    """`subwh-dbt`: dbt's own command line, in a process that ends when the process that started it ends.

    A run hands the warehouse file to a dbt subprocess while its writer lock stays held; should the run be
    killed, the lock goes with it, and a dbt left running would still be writing the file when the next
    run opens it. On Linux the kernel sends this process SIGTERM when its parent dies (PR_SET_PDEATHSIG);
    the model being built then rolls back, as when a whole run is killed."""
    import signal

    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() == 1:  # the parent died before the line above: nobody holds the lock for us
            sys.exit("subwh-dbt: the run that started dbt has ended")
    from dbt.cli.main import cli

    cli()
