"""`subwh`: run the warehouse's assets without the UI, or generate a landing folder.

    subwh run --landing DIR --warehouse FILE [--serving FILE]
    subwh generate --accounts N --months M --seed S --out DIR
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from orchestration.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="subwh", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="materialize every asset for a landing folder into a warehouse file")
    run.add_argument("--landing", help="landing folder (default: $SUBWH_LANDING_DIR or sample_data/landing)")
    run.add_argument("--warehouse", help="DuckDB warehouse file (default: $SUBWH_WAREHOUSE_PATH or data/warehouse.duckdb)")
    run.add_argument("--serving", help="serving file for BI tools (default: $SUBWH_SERVING_PATH or serving.duckdb beside the warehouse)")
    run.add_argument("--select", help="Dagster asset selection (default: everything), e.g. 'group:mrr'")

    generate = commands.add_parser("generate", help="write a generated landing folder (SPEC §1)")
    generate.add_argument("--accounts", type=int, required=True)
    generate.add_argument("--months", type=int, required=True)
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--out", required=True)
    generate.add_argument("--start-month", default="2024-01")
    generate.add_argument("--gzip", action="store_true")
    generate.add_argument("--usage-granularity", choices=["day", "week"], default="day")
    generate.add_argument("--no-progress", action="store_true")

    args = parser.parse_args(argv)
    if args.command == "run":
        return run_command(args)
    return generate_command(args)


def settings_from_args(args: argparse.Namespace) -> Settings:
    # Flags win over the environment; the environment is also what the UI and schedules read.
    if args.landing:
        os.environ["SUBWH_LANDING_DIR"] = str(Path(args.landing).resolve())
    if args.warehouse:
        os.environ["SUBWH_WAREHOUSE_PATH"] = str(Path(args.warehouse).resolve())
        if not args.serving and not os.environ.get("SUBWH_SERVING_PATH_EXPLICIT"):
            os.environ.pop("SUBWH_SERVING_PATH", None)
    if args.serving:
        os.environ["SUBWH_SERVING_PATH"] = str(Path(args.serving).resolve())
    return Settings.from_env()


def run_command(args: argparse.Namespace) -> int:
    import dagster as dg

    from orchestration.definitions import build_definitions
    from orchestration.summary import print_run_summary

    settings = settings_from_args(args)
    if not settings.landing_dir.is_dir():
        print(f"subwh: landing folder {settings.landing_dir} does not exist", file=sys.stderr)
        return 2
    print(f"landing:   {settings.landing_dir}\nwarehouse: {settings.warehouse_path}\nserving:   {settings.serving_path}")
    defs = build_definitions(settings)
    job = defs.resolve_implicit_global_asset_job_def()
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    if args.select:
        job = job.get_subset(asset_selection=dg.AssetSelection.from_string(args.select).resolve(defs.resolve_asset_graph()))
    quiet = {"loggers": {"console": {"config": {"log_level": os.environ.get("SUBWH_LOG_LEVEL", "INFO")}}}}
    result = job.execute_in_process(run_config=quiet, instance=instance, raise_on_error=False)
    if not result.success:
        failed = [e for e in result.all_events if e.is_failure]
        for event in failed:
            print(f"FAILED {event.step_key}: {event.message}", file=sys.stderr)
        print("subwh: run failed; the warehouse keeps its last committed state", file=sys.stderr)
        return 1
    print_run_summary(settings)
    return 0


def generate_command(args: argparse.Namespace) -> int:
    from sample_data.generator import generate

    summary = generate(
        args.out, accounts=args.accounts, months=args.months, seed=args.seed, start_month=args.start_month,
        gzip=args.gzip, usage_granularity=args.usage_granularity, progress=not args.no_progress,
    )
    print(f"wrote {args.out}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
