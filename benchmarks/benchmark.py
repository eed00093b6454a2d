"""Benchmark the warehouse at three scales: generation, a full build, and an incremental run.

    .venv/bin/python benchmarks/benchmark.py --scale S            # what CI may run (about a minute)
    .venv/bin/python benchmarks/benchmark.py --scale M --scale L  # the heavy ones; see benchmarks/README.md
    .venv/bin/python benchmarks/benchmark.py --scale sample       # `make run` on the committed sample (below)

For each scale the script
1. generates a landing folder (36 months; cached under benchmarks/.cache/, reused while the generator's
   arguments are the same), timed on its own in a child process;
2. builds a fresh warehouse from every file but the last day's ("full build");
3. adds the last day's files and runs again ("incremental": what the daily schedule or sensor runs).

Both builds run through the real code path, in a fresh child process each: the Dagster definitions of
`build_definitions(Settings(...))` and `resolve_implicit_global_asset_job_def().execute_in_process()`,
exactly like `subwh run`. Per step the script reads wall time from the Dagster event log (STEP_START ->
STEP_SUCCESS), rows from the materialization metadata, and the peak RSS of the process while the step ran
(sampled from /proc every 20 ms; DuckDB, Polars and Dagster share the process). Inside the steps a few
functions are wrapped with timers (SQL model, ingestion phases, publishing) to say where the time goes;
the wrappers only measure.

Results are printed and appended to benchmarks/RESULTS.md with the machine, the load average and the date.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = REPO / "benchmarks" / ".cache"
RESULTS = REPO / "benchmarks" / "RESULTS.md"
MONTHS = 36
SEED = 7
START_MONTH = "2023-01"


@dataclass(frozen=True)
class Scale:
    name: str
    accounts: int
    usage_granularity: str  # "day" or "week"
    min_events: int


SCALES = {
    "XS": Scale("XS", 1_000, "day", 100_000),  # a smoke test of the script itself
    "S": Scale("S", 10_000, "day", 1_000_000),
    "M": Scale("M", 100_000, "day", 10_000_000),
    # A million accounts reporting usage daily would be 600M events; at this scale usage arrives weekly
    # (one figure per account and metric per week), which the sales signals' 30-day windows handle (docs/sales.md).
    "L": Scale("L", 1_000_000, "week", 100_000_000),
}

# The MRR stage the performance issue compares with dbt's mrr-playbook: events -> subscription state ->
# account MRR -> movements -> waterfall.
MRR_STAGE = (
    "staging/calendar",
    "staging/fx_rates_monthly",
    "staging/subscription_events",
    "intermediate/subscription_periods",
    "marts/account_mrr_monthly",
    "marts/mrr_movements",
    "marts/mrr_waterfall",
)

# Functions timed inside the steps (module, attribute, label). A missing one is skipped, so the script
# keeps working when the code it measures is refactored.
TIMED = (
    ("transforms.ingestion.readers", "stage_tabular_files", "ingestion: read CSV and Parquet rows"),
    ("transforms.ingestion.validation", "_validate", "ingestion: parse + validate"),
    ("transforms.ingestion.deduplication", "find_redeliveries", "ingestion: find re-deliveries"),
    ("transforms.ingestion.publishing", "publish", "ingestion: insert + quarantine"),
    ("orchestration.assets.dbt_models", "summarize_table", "asset metadata (counts, previews)"),
    ("transforms.sales", "read_inputs", "sales: read small frames"),
    ("transforms.sales", "follow_up_lists", "sales: Polars signals + scores"),
    ("transforms.sales", "write_marts", "sales: write marts"),
    ("transforms.serving", "publish_marts", "serving: publish file"),
    ("transforms.report", "build_report", "report: HTML"),
)


# ------------------------------------------------------------------------------------------ machine


def machine() -> dict:
    memory_kb = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024**2, 1),
        "platform": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def versions() -> dict:
    import dagster
    import duckdb
    import polars

    return {"duckdb": duckdb.__version__, "polars": polars.__version__, "dagster": dagster.__version__}


def git_commit() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "transforms", "sql", "orchestration",
                                "sample_data"], cwd=REPO, capture_output=True, text=True).stdout.strip()
        return commit + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def rss_kb(field: str = "VmRSS") -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def run_child(args: list[str], result_path: Path) -> tuple[dict, float, int]:
    """Run this script's hidden sub-command in a fresh process: (its JSON result, wall seconds, peak RSS KB)."""
    result_path.unlink(missing_ok=True)
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *args, "--result", str(result_path)],
                             cwd=REPO)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0 or not result_path.exists():
        raise SystemExit(f"benchmark step {args[0]} failed (exit code {code})")
    return json.loads(result_path.read_text()), seconds, usage.ru_maxrss


# --------------------------------------------------------------------------------------- generation


def generator_key(scale: Scale) -> dict:
    return {"accounts": scale.accounts, "months": MONTHS, "seed": SEED, "start_month": START_MONTH,
            "gzip": False, "usage_granularity": scale.usage_granularity,
            "generator_sha": hashlib.sha256((REPO / "sample_data" / "generator.py").read_bytes()).hexdigest()[:12]}


def ensure_generated(scale: Scale, cache: Path, regenerate: bool, reuse_stale: bool = False) -> dict:
    """The scale's cached landing folder, generated (and timed) when missing or stale."""
    folder = cache / f"landing-{scale.name}"
    marker = folder / ".benchmark.json"
    key = generator_key(scale)
    if marker.exists() and not regenerate:
        recorded = json.loads(marker.read_text())
        if recorded["key"] == key:
            return {**recorded, "cached": True, "folder": str(folder)}
        if reuse_stale and {k: v for k, v in recorded["key"].items() if k != "generator_sha"} == {
                k: v for k, v in key.items() if k != "generator_sha"}:
            print(f"{scale.name}: generator.py changed since this landing folder was made; reusing it (--reuse-stale)")
            return {**recorded, "cached": True, "folder": str(folder)}
        print(f"{scale.name}: generator arguments or code changed; regenerating")
    if folder.exists():
        shutil.rmtree(folder)
    print(f"{scale.name}: generating {scale.accounts:,} accounts x {MONTHS} months "
          f"({'daily' if scale.usage_granularity == 'day' else 'weekly'} usage) into {folder}  [load {load_average()}]", flush=True)
    load_before = load_average()
    summary, seconds, peak_kb = run_child(
        ["_generate", "--accounts", str(scale.accounts), "--granularity", scale.usage_granularity,
         "--out", str(folder)], cache / "generate-result.json")
    events = sum(summary["events"].values())
    recorded = {"key": key, "summary": summary, "events": events, "seconds": round(seconds, 1),
                "peak_rss_mb": round(peak_kb / 1024), "load_before": load_before, "load_after": load_average(),
                "generated_at": datetime.now(UTC).isoformat(timespec="seconds")}
    marker.write_text(json.dumps(recorded, indent=2))
    if events < scale.min_events:
        print(f"warning: {scale.name} has {events:,} events, fewer than the {scale.min_events:,} it should have")
    return {**recorded, "cached": False, "folder": str(folder)}


def child_generate(args: argparse.Namespace) -> dict:
    from sample_data.generator import generate

    return generate(args.out, accounts=args.accounts, months=MONTHS, seed=SEED, start_month=START_MONTH,
                    gzip=False, usage_granularity=args.granularity, progress=not args.no_progress,
                    format=args.format or "native")


# ------------------------------------------------------------------------------ Stripe round trip


def run_stripe_round_trip(scale: Scale, args: argparse.Namespace) -> dict:
    """generate --format stripe (same seed as the scale's native folder) -> import_stripe_log -> MRR models of
    both landing folders; the MRR marts must agree to the cent. Each part in a child process of its own."""
    cache = Path(args.cache)
    native = ensure_generated(scale, cache, args.regenerate, args.reuse_stale)
    stripe_out = cache / f"stripe-{scale.name}"
    if stripe_out.exists():
        shutil.rmtree(stripe_out)
    print(f"{scale.name}: generating the Stripe rendering  [load {load_average()}]", flush=True)
    load_before = load_average()
    summary, gen_seconds, gen_kb = run_child(
        ["_generate", "--accounts", str(scale.accounts), "--granularity", scale.usage_granularity,
         "--out", str(stripe_out), "--format", "stripe"], cache / "generate-result.json")
    stripe_events = sum(summary["stripe_events"].values())
    landing = cache / f"stripe-landing-{scale.name}"
    if landing.exists():
        shutil.rmtree(landing)
    (landing / "reference").mkdir(parents=True)
    for path in (stripe_out / "usage_events").iterdir():  # usage stays native: hard links
        (landing / "usage_events").mkdir(exist_ok=True)
        os.link(path, landing / "usage_events" / path.name)
    for name in ("fx_rates.csv", "plans.csv"):
        shutil.copy(stripe_out / "reference" / name, landing / "reference" / name)
    print(f"{scale.name}: importing {stripe_events:,} Stripe events  [load {load_average()}]", flush=True)
    import_load = load_average()
    imported, import_seconds, import_kb = run_child(
        ["_import", "--out", str(stripe_out / "stripe_events"), "--run-dir", str(landing)],
        cache / "import-result.json")
    print(f"{scale.name}: building both warehouses' MRR models and comparing  [load {load_average()}]", flush=True)
    compared, compare_seconds, _ = run_child(
        ["_compare", "--out", native["folder"], "--run-dir", str(landing), "--threads", str(args.threads or 0),
         "--memory-limit", args.memory_limit or ""], cache / "compare-result.json")
    if not args.keep:
        shutil.rmtree(landing, ignore_errors=True)
    return {"scale": scale, "stripe_events": stripe_events, "by_type": summary["stripe_events"],
            "generate_seconds": round(gen_seconds, 1), "generate_peak_rss_mb": round(gen_kb / 1024),
            "import_seconds": round(import_seconds, 1), "import_inner_seconds": imported["seconds"],
            "import_cpu_seconds": imported["cpu_seconds"],
            "import_peak_rss_mb": round(import_kb / 1024), "rows_written": imported["rows_written"],
            "compare": compared, "compare_seconds": round(compare_seconds, 1), "load_before": load_before,
            "import_load": import_load, "load_after": load_average()}


def child_import(args: argparse.Namespace) -> dict:
    from transforms.stripe.importer import import_stripe_log

    started, cpu = time.perf_counter(), time.process_time()
    report = import_stripe_log(Path(args.out), Path(args.run_dir))
    return {"seconds": round(time.perf_counter() - started, 2), "cpu_seconds": round(time.process_time() - cpu, 2),
            "rows_written": dict(report.rows_written),
            "events_read": sum(report.events_read.values()), "rejected": report.lines_rejected}


def child_compare(args: argparse.Namespace) -> dict:
    """Ingest both landing folders and build the MRR models (no Dagster: the same SQL); compare the marts."""
    from transforms.dbt_project import run_dbt
    from transforms.ingestion import STREAMS, ensure_raw_tables, load_reference, load_stream
    from transforms.sql_models import connect

    def build(landing: Path):
        path = Path(args.run_dir).parent / f"compare-{landing.name}.duckdb"
        path.unlink(missing_ok=True)
        con = connect(path, threads=args.threads or None, memory_limit=args.memory_limit or None)
        ensure_raw_tables(con)
        load_reference(con, landing)
        for stream in STREAMS:
            load_stream(con, landing, stream)
        con.close()  # the file is dbt's while it builds the MRR models
        run_dbt(["run", "--select", "+mrr_waterfall", "+accounts"], path, threads=args.threads or None,
                memory_limit=args.memory_limit or None)
        return connect(path, read_only=True)

    started = time.perf_counter()
    native, stripe = build(Path(args.out)), build(Path(args.run_dir))
    seconds = time.perf_counter() - started
    mrr = ("select {account}, month, mrr, split_part(plan_id, '_', 1) from marts.account_mrr_monthly "
           "order by 1, 2")
    a = native.sql(mrr.format(account="replace(account_id, 'acc_', 'cus_')")).fetchall()
    b = stripe.sql(mrr.format(account="account_id")).fetchall()
    waterfall = "select * from marts.mrr_waterfall order by month"
    wa, wb = native.sql(waterfall).fetchall(), stripe.sql(waterfall).fetchall()
    return {"build_seconds": round(seconds, 1), "account_months": len(a), "account_mrr_monthly_equal": a == b,
            "account_months_differing": len(set(a) ^ set(b)), "months": len(wa), "mrr_waterfall_equal": wa == wb,
            "closing_mrr_latest": str(wa[-1][8]) if wa else None}


def record_round_trip(result: dict, args: argparse.Namespace) -> str:
    info, lib = machine(), versions()
    compare = result["compare"]
    rate = result["stripe_events"] / result["import_inner_seconds"] if result["import_inner_seconds"] else 0
    by_type = ", ".join(f"{k} {v:,}" for k, v in sorted(result["by_type"].items(), key=lambda kv: -kv[1]))
    return "\n".join([
        f"## {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}: Stripe round trip, {result['scale'].name}",
        "",
        f"Machine: {info['cores']} cores, {info['memory_gib']} GiB RAM, Python {info['python']}, DuckDB "
        f"{lib['duckdb']}, Polars {lib['polars']}. Commit {git_commit()}. `benchmarks/benchmark.py --scale "
        f"{result['scale'].name} --stripe-round-trip`.",
        "",
        "| accounts | Stripe events | generate --format stripe | import: wall (peak RSS) | import: CPU | import "
        "events/s (wall / CPU) | MRR models, both folders | account_mrr_monthly equal | mrr_waterfall equal | "
        "load 1/5/15 before generation / import / after |",
        "|---:|---:|---|---:|---:|---:|---:|---|---|---|",
        f"| {result['scale'].accounts:,} | {result['stripe_events']:,} | {result['generate_seconds']:.0f} s, "
        f"{result['generate_peak_rss_mb']:,} MB | {result['import_inner_seconds']:.1f} s "
        f"({result['import_peak_rss_mb']:,} MB) | {result['import_cpu_seconds']:.1f} s | {rate:,.0f} / "
        f"{result['stripe_events'] / max(result['import_cpu_seconds'], 0.01):,.0f} | {compare['build_seconds']:.0f} s | "
        f"{compare['account_mrr_monthly_equal']} ({compare['account_months']:,} rows) | "
        f"{compare['mrr_waterfall_equal']} ({compare['months']} months) | {result['load_before']} / "
        f"{result['import_load']} / {result['load_after']} |",
        "",
        f"Stripe events by type: {by_type}. §1 rows written: {result['rows_written']}.",
        "",
    ])


# ------------------------------------------------------------------------------------------- builds


def last_day_files(landing: Path) -> list[Path]:
    """The files of the latest day that has any (one per stream that delivered that day)."""
    from transforms.ingestion import STREAMS

    files = [p for stream in STREAMS for p in (landing / stream).glob("*.jsonl*")]
    last_day = max(p.name.split(".")[0] for p in files)
    return sorted(p for p in files if p.name.split(".")[0] == last_day)


def prepare_run(landing: Path, run_dir: Path) -> tuple[Path, list[Path]]:
    """A fresh run folder whose landing/ holds hard links to every generated file but the last day's."""
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_landing = run_dir / "landing"
    held_back = set(last_day_files(landing))
    for path in landing.rglob("*"):
        if path.is_dir() or path.name.startswith(".") or path in held_back:
            continue
        target = run_landing / path.relative_to(landing)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, target)
    return run_landing, sorted(held_back)


def land(files: list[Path], landing: Path, run_landing: Path) -> None:
    for path in files:
        os.link(path, run_landing / path.relative_to(landing))


def child_build(args: argparse.Namespace) -> dict:
    """One run of every asset, as `subwh run` does it; returns per-step timings and memory."""
    samples: list[tuple[float, int]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append((time.time(), rss_kb()))
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    timings = install_timers()

    import dagster as dg

    from orchestration.definitions import build_definitions
    from orchestration.settings import Settings

    run_dir = Path(args.run_dir)
    settings = Settings(
        landing_dir=run_dir / "landing",
        warehouse_path=run_dir / "warehouse.duckdb",
        serving_path=run_dir / "serving.duckdb",
        exports_dir=run_dir / "exports",
        reports_dir=run_dir / "reports",
        memory_limit=args.memory_limit or None,
        threads=args.threads or None,
        temp_directory=args.temp_dir or str(run_dir / "duckdb-tmp"),
    )
    defs = build_definitions(settings)
    job = defs.resolve_implicit_global_asset_job_def()
    instance = dg.DagsterInstance.ephemeral()
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    started = time.time()
    result = job.execute_in_process(run_config=quiet, instance=instance, raise_on_error=False)
    finished = time.time()
    stop.set()
    sampler.join()
    steps = steps_from_event_log(instance, result.run_id, samples)
    timings.update(dbt_model_timings(settings.warehouse_path))
    failed = [s["step"] for s in steps if s["status"] != "success"]
    return {
        "success": result.success,
        "failed_steps": failed,
        "seconds": round(finished - started, 2),
        "peak_rss_mb": round(rss_kb("VmHWM") / 1024),
        "steps": steps,
        "timings": timings,
    }


def dbt_model_timings(warehouse_path: Path) -> dict[str, float]:
    """Each model's execution time in the run's `dbt build` (run_results.json of the warehouse's dbt folder),
    as {"sql model: marts/mrr_waterfall": seconds}."""
    from orchestration.resources import Warehouse
    from transforms.dbt_project import model_docs

    results = Warehouse(path=str(warehouse_path), landing_dir="", serving_path="", exports_dir="",
                        reports_dir="").dbt_target_dir() / "run_results.json"
    if not results.exists():
        return {}
    schemas = {doc.table: doc.schema for doc in model_docs().values()}
    timings = {}
    for result in json.loads(results.read_text())["results"]:
        kind, _, name = result["unique_id"].split(".", 2)
        if kind == "model" and name in schemas:
            timings[f"sql model: {schemas[name]}/{name}"] = round(result["execution_time"], 3)
    return timings


def install_timers() -> dict:
    """Wrap the functions in TIMED with a timer; returns {label: seconds} filled in as they run."""
    timings: dict[str, float] = {}
    for module_name, attribute, label in TIMED:
        module = importlib.import_module(module_name)
        original = getattr(module, attribute, None)
        if original is None:
            continue

        def timed(*a, __original=original, __label=label, **kw):
            started = time.perf_counter()
            try:
                return __original(*a, **kw)
            finally:
                key = f"{__label}: {a[1]}" if __label == "sql model" else __label
                timings[key] = round(timings.get(key, 0.0) + time.perf_counter() - started, 3)

        setattr(module, attribute, functools.wraps(original)(timed))
    return timings


def steps_from_event_log(instance, run_id: str, samples: list[tuple[float, int]]) -> list[dict]:
    from dagster import DagsterEventType

    steps: dict[str, dict] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or entry.step_key is None:
            continue
        step = steps.setdefault(entry.step_key, {"step": entry.step_key, "assets": [], "rows": None,
                                                 "status": "not run", "start": None, "end": None})
        kind = event.event_type
        if kind == DagsterEventType.STEP_START:
            step["start"] = entry.timestamp
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            step["end"] = entry.timestamp
            step["status"] = "success" if kind == DagsterEventType.STEP_SUCCESS else "failure"
        elif kind == DagsterEventType.STEP_SKIPPED:
            step["status"] = "skipped"
        elif kind == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.event_specific_data.materialization
            step["assets"].append(materialization.asset_key.to_user_string())
            metadata = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
            # Ingestion reports the rows this run read; a model its table's rows.
            rows = metadata.get("rows_read", metadata.get("dagster/row_count"))
            if isinstance(rows, int):
                step["rows"] = (step["rows"] or 0) + rows
    for step in steps.values():
        if step["start"] is not None and step["end"] is not None:
            step["seconds"] = round(step["end"] - step["start"], 3)
            inside = [kb for t, kb in samples if step["start"] <= t <= step["end"]]
            step["peak_rss_mb"] = round(max(inside) / 1024) if inside else None
        else:
            step["seconds"], step["peak_rss_mb"] = None, None
    return sorted(steps.values(), key=lambda s: (s["start"] is None, s["start"] or 0))


def mrr_stage(build: dict) -> dict:
    """Seconds of the MRR stage: SQL time of its models (dbt's run results), and the wall time of the dbt step."""
    model = sum(v for k, v in build["timings"].items() if k.removeprefix("sql model: ") in MRR_STAGE)
    # one `dbt build` step runs every model: its wall time, dbt's start-up included
    step = sum(s["seconds"] or 0 for s in build["steps"] if s["step"] == "dbt_models")
    return {"model_seconds": round(model, 2), "step_seconds": round(step, 2)}


def run_scale(scale: Scale, args: argparse.Namespace) -> dict:
    cache = Path(args.cache)
    generated = ensure_generated(scale, cache, args.regenerate, args.reuse_stale)
    landing = Path(generated["folder"])
    run_dir = cache / f"run-{scale.name}"
    run_landing, held_back = prepare_run(landing, run_dir)
    build_args = ["--run-dir", str(run_dir), "--memory-limit", args.memory_limit or "",
                  "--threads", str(args.threads or 0), "--temp-dir", args.temp_dir or ""]

    print(f"{scale.name}: full build from an empty warehouse  [load {load_average()}]", flush=True)
    full_load = load_average()
    full, full_wall, full_kb = run_child(["_build", *build_args], cache / "build-result.json")
    full.update(load_before=full_load, load_after=load_average(), process_seconds=round(full_wall, 1),
                process_peak_rss_mb=round(full_kb / 1024))
    report_build(f"{scale.name} full build", full)

    land(held_back, landing, run_landing)
    print(f"{scale.name}: incremental run after one more day ({len(held_back)} files)  [load {load_average()}]",
          flush=True)
    incremental_load = load_average()
    incremental, inc_wall, inc_kb = run_child(["_build", *build_args], cache / "build-result.json")
    incremental.update(load_before=incremental_load, load_after=load_average(), process_seconds=round(inc_wall, 1),
                       process_peak_rss_mb=round(inc_kb / 1024))
    report_build(f"{scale.name} incremental", incremental)
    if not args.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return {"scale": scale, "generated": generated, "full": full, "incremental": incremental,
            "held_back_files": [p.name for p in held_back]}


# ------------------------------------------------------------------------------------------ reports


def fmt_int(n) -> str:
    return "" if n is None else f"{n:,}"


def fmt_rate(rows, seconds) -> str:
    if not rows or not seconds:
        return ""
    return f"{rows / seconds:,.0f}"


def step_table(build: dict) -> list[str]:
    lines = ["| step | assets | rows | wall s | rows/s | peak RSS MB |", "|---|---|---:|---:|---:|---:|"]
    for s in build["steps"]:
        assets = ", ".join(a.removeprefix("") for a in s["assets"]) or ("(checks)" if "check" in s["step"] else "")
        seconds = "" if s["seconds"] is None else f"{s['seconds']:.2f}"
        status = "" if s["status"] == "success" else f" ({s['status']})"
        lines.append(f"| {s['step']}{status} | {assets} | {fmt_int(s['rows'])} | {seconds} | "
                     f"{fmt_rate(s['rows'], s['seconds'])} | {fmt_int(s['peak_rss_mb'])} |")
    return lines


def where_time_goes(build: dict) -> list[str]:
    total = build["seconds"]
    groups: dict[str, float] = {}
    for key, seconds in build["timings"].items():
        if key.startswith("sql model: "):
            model = key.removeprefix("sql model: ")
            key = "sql: MRR stage models" if model in MRR_STAGE else f"sql: {model.split('/')[0]} models (other)"
        groups[key] = groups.get(key, 0.0) + seconds
    lines = ["| where | seconds | share of the run |", "|---|---:|---:|"]
    for key, seconds in sorted(groups.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {key} | {seconds:.2f} | {100 * seconds / total:.0f}% |")
    timed = sum(groups.values())
    lines.append(f"| everything else (Dagster, checks, charts, opening connections) | {total - timed:.2f} | "
                 f"{100 * (total - timed) / total:.0f}% |")
    return lines


def report_build(title: str, build: dict) -> None:
    status = "ok" if build["success"] else f"FAILED: {build['failed_steps']}"
    print(f"\n{title}: {build['seconds']:.1f} s, peak RSS {build['peak_rss_mb']:,} MB, {status}")
    print("\n".join(step_table(build)))
    print("\n".join(where_time_goes(build)))
    print(flush=True)


def summary_row(result: dict) -> str:
    scale, generated, full, inc = result["scale"], result["generated"], result["full"], result["incremental"]
    stage = mrr_stage(full)
    cached = " (cached)" if generated["cached"] else ""
    return (f"| {scale.name} | {scale.accounts:,} | {scale.usage_granularity} | {generated['events']:,} | "
            f"{generated['seconds']:.0f} s, {generated['peak_rss_mb']:,} MB{cached} | {full['seconds']:.1f} s | "
            f"{inc['seconds']:.1f} s ({100 * inc['seconds'] / full['seconds']:.0f}%) | "
            f"{stage['model_seconds']:.1f} s ({stage['step_seconds']:.1f} s) | "
            f"{max(full['peak_rss_mb'], inc['peak_rss_mb']):,} MB | "
            f"{full['load_before']} / {full['load_after']} |")


def record(results: list[dict], args: argparse.Namespace) -> str:
    info = machine()
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    settings = (f"memory_limit={args.memory_limit or 'DuckDB default'}, threads={args.threads or 'DuckDB default'}, "
                f"temp_directory={args.temp_dir or '<run folder>/duckdb-tmp'}")
    lib = versions()
    lines = [
        f"## {now}: {', '.join(r['scale'].name for r in results)}",
        "",
        f"Machine: {info['cores']} cores, {info['memory_gib']} GiB RAM, {info['platform']}, Python {info['python']}, "
        f"DuckDB {lib['duckdb']}, Polars {lib['polars']}, Dagster {lib['dagster']}. Commit {git_commit()}. "
        f"DuckDB settings: {settings}.",
        "",
        "| scale | accounts | usage | events | generation | full build | incremental (share of full) | "
        "MRR stage: SQL (steps) | peak RSS | load avg 1/5/15 min before / after full build |",
        "|---|---:|---|---:|---|---:|---:|---:|---:|---|",
        *[summary_row(r) for r in results],
        "",
    ]
    for r in results:
        for kind in ("full", "incremental"):
            build = r[kind]
            title = "full build" if kind == "full" else f"incremental run (+{len(r['held_back_files'])} files of one day)"
            lines += [
                f"<details><summary>{r['scale'].name} {title}: {build['seconds']:.1f} s, peak RSS "
                f"{build['peak_rss_mb']:,} MB, load {build['load_before']} before</summary>",
                "",
                *step_table(build),
                "",
                *where_time_goes(build),
                "",
                "</details>",
                "",
            ]
    return "\n".join(lines)


def append_results(text: str) -> None:
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\nAppended by `benchmarks/benchmark.py`; newest last. "
                           "See benchmarks/README.md for what is measured.\n\n")
    with RESULTS.open("a") as handle:
        handle.write(text + "\n")


# ------------------------------------------------------------------------------------- the committed sample

SAMPLE = "sample"
SAMPLE_LANDING = REPO / "sample_data" / "landing"
SUBWH = Path(sys.executable).parent / "subwh"


def timed_process(command: list[str], env: dict | None = None) -> dict:
    """One process from its start to its exit: wall seconds, user + system CPU seconds, peak RSS, exit code."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    return {"wall": time.perf_counter() - started, "cpu": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": usage.ru_maxrss // 1024, "code": os.waitstatus_to_exitcode(status), "output": output}


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def run_sample(args: argparse.Namespace) -> dict:
    """Pipeline time of `make run` on the committed sample (300 accounts), as a user sees it: the `subwh run`
    process from its start to its exit, after it printed the summary (the venv exists already; creating it
    is not pipeline time). Each repetition starts from an empty folder (warehouse, serving file, Dagster
    home), then runs again with nothing new; last, `subwh run` on a landing folder that does not exist."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUBWH_") and k != "DAGSTER_HOME"}
    if args.threads:
        env["SUBWH_DUCKDB_THREADS"] = str(args.threads)
    if args.memory_limit:
        env["SUBWH_DUCKDB_MEMORY_LIMIT"] = args.memory_limit
    first, again, missing = [], [], []
    load_before = load_average()
    for repetition in range(args.repeat):
        folder = Path(args.cache) / "run-sample"
        shutil.rmtree(folder, ignore_errors=True)
        command = [str(SUBWH), "run", "--landing", str(SAMPLE_LANDING), "--warehouse", str(folder / "warehouse.duckdb")]
        first.append(timed_process(command, env))
        again.append(timed_process(command, env))
        if first[-1]["code"] or again[-1]["code"] or "nothing new" not in again[-1]["output"]:
            raise SystemExit(f"sample run failed:\n{first[-1]['output'][-3000:]}\n{again[-1]['output'][-3000:]}")
        missing.append(timed_process([str(SUBWH), "run", "--landing", str(folder / "no-such-folder"), "--warehouse",
                                      str(folder / "warehouse.duckdb")], env))
        if missing[-1]["code"] != 2:
            raise SystemExit(f"missing landing folder: exit code {missing[-1]['code']}\n{missing[-1]['output']}")
        print(f"sample {repetition + 1}/{args.repeat}: first run {first[-1]['wall']:.2f} s (cpu {first[-1]['cpu']:.2f} s), "
              f"nothing new {again[-1]['wall']:.2f} s, missing folder {missing[-1]['wall']:.2f} s", flush=True)
    if not args.keep:
        shutil.rmtree(Path(args.cache) / "run-sample", ignore_errors=True)
    return {"first": first, "again": again, "missing": missing, "load_before": load_before, "load_after": load_average()}


def record_sample(result: dict, args: argparse.Namespace) -> str:
    info, lib = machine(), versions()
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")

    def row(label: str, runs: list[dict]) -> str:
        walls, cpus = [r["wall"] for r in runs], [r["cpu"] for r in runs]
        return (f"| {label} | {median(walls):.2f} s ({min(walls):.2f}-{max(walls):.2f}) | "
                f"{median(cpus):.2f} s ({min(cpus):.2f}-{max(cpus):.2f}) | {max(r['peak_rss_mb'] for r in runs):,} MB |")

    return "\n".join([
        f"## {now}: sample (`make run` on the committed sample, {args.repeat} repetitions)",
        "",
        f"Machine: {info['cores']} cores, {info['memory_gib']} GiB RAM, {info['platform']}, Python {info['python']}, "
        f"DuckDB {lib['duckdb']}, Polars {lib['polars']}, Dagster {lib['dagster']}. Commit {git_commit()}. "
        f"Load average 1/5/15 min before {result['load_before']}, after {result['load_after']}. Pipeline time: the "
        "`subwh run` process from start to exit (median, min-max); CPU: its user + system seconds.",
        "",
        "| run | pipeline time (wall) | CPU (user + sys) | peak RSS |",
        "|---|---:|---:|---:|",
        row("first run (empty warehouse, new Dagster home)", result["first"]),
        row("second run, nothing new", result["again"]),
        row("missing landing folder (exit 2)", result["missing"]),
        "",
    ])


# ------------------------------------------------------------------------------------------------ CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", action="append", choices=[*SCALES, SAMPLE],
                        help="S, M or L (repeatable; default S), or sample: `make run` on the committed sample")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of --scale sample (median reported)")
    parser.add_argument("--cache", default=str(DEFAULT_CACHE), help="generated data and run folders (gitignored)")
    parser.add_argument("--memory-limit", default="", help="DuckDB memory_limit, e.g. 4GB (default: DuckDB's)")
    parser.add_argument("--threads", type=int, default=0, help="DuckDB threads (default: DuckDB's, = cores)")
    parser.add_argument("--temp-dir", default="", help="DuckDB temp_directory for spilling (default: in the run folder)")
    parser.add_argument("--regenerate", action="store_true", help="generate even when the cache is current")
    parser.add_argument("--keep", action="store_true", help="keep the run folder (warehouse, serving file) afterwards")
    parser.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    parser.add_argument("--reuse-stale", action="store_true",
                        help="reuse a cached landing folder even if generator.py changed since (same arguments)")
    parser.add_argument("--generate-only", action="store_true", help="only make sure the landing folders exist")
    parser.add_argument("--usage", choices=["day", "week"], help="override the scale's usage granularity")
    parser.add_argument("--stripe-import", type=int, metavar="EVENTS",
                        help="instead: import this many synthetic Stripe events (benchmarks/stripe_import.py)")
    # Hidden sub-commands run in child processes, so each has its own peak RSS.
    parser.add_argument("--stripe-round-trip", action="store_true",
                        help="instead of the builds: generate --format stripe, import it, and compare the MRR marts "
                             "with the native folder's (reports import events/s)")
    parser.add_argument("command", nargs="?", choices=["_generate", "_build", "_import", "_compare"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--format", help=argparse.SUPPRESS)
    parser.add_argument("--accounts", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--granularity", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--no-progress", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.command:
        sys.path.insert(0, str(REPO))
        outcome = {"_generate": child_generate, "_build": child_build, "_import": child_import,
                   "_compare": child_compare}[args.command](args)
        Path(args.result).write_text(json.dumps(outcome, indent=1, default=str))
        return 0

    Path(args.cache).mkdir(parents=True, exist_ok=True)
    if SAMPLE in (args.scale or []):
        if set(args.scale) != {SAMPLE}:
            parser.error("--scale sample runs on its own")
        text = record_sample(run_sample(args), args)
        print(text)
        if not args.no_record:
            append_results(text)
            print(f"appended to {RESULTS}")
        return 0
    if args.stripe_import:
        import stripe_import  # beside this script

        text = stripe_import.record(stripe_import.run(args.stripe_import, Path(args.cache)), git_commit(),
                                    json.dumps(machine()))
        print(text)
        if not args.no_record:
            append_results(text)
            print(f"appended to {RESULTS}")
        return 0
    scales = [SCALES[name] for name in (args.scale or ["S"])]
    if args.usage:
        scales = [dataclasses.replace(s, name=f"{s.name}-{args.usage}", usage_granularity=args.usage) for s in scales]
    if args.generate_only:
        for scale in scales:
            generated = ensure_generated(scale, Path(args.cache), args.regenerate, args.reuse_stale)
            print(f"{scale.name}: {generated['events']:,} events, generated in {generated['seconds']} s "
                  f"(peak RSS {generated['peak_rss_mb']:,} MB){' (cached)' if generated['cached'] else ''}")
        return 0
    if args.stripe_round_trip:
        failed = []
        for scale in scales:
            result = run_stripe_round_trip(scale, args)
            text = record_round_trip(result, args)
            print(text)
            if not args.no_record:
                append_results(text)
                print(f"appended to {RESULTS}")
            if not (result["compare"]["account_mrr_monthly_equal"] and result["compare"]["mrr_waterfall_equal"]):
                failed.append(scale.name)
        return 1 if failed else 0
    results = [run_scale(scale, args) for scale in scales]
    text = record(results, args)
    print(text)
    if not args.no_record:
        append_results(text)
        print(f"appended to {RESULTS}")
    failed = [r["scale"].name for r in results if not (r["full"]["success"] and r["incremental"]["success"])]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
