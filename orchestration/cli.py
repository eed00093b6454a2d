"""`subwh`: run the warehouse's assets without the UI, or generate a landing folder.

    subwh run --landing DIR --warehouse FILE [--serving FILE] [--full-rebuild] [--verbose]
    subwh dev --landing DIR --warehouse FILE [-- DAGSTER DEV ARGS]
    subwh generate --accounts N --months M --seed S --out DIR [--format stripe]
    subwh import stripe --input PATH --landing DIR
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sys
from contextlib import ExitStack
from datetime import UTC, date, datetime
from pathlib import Path

from orchestration.instance import prepare_home, run_tags
from orchestration.settings import Settings, SettingsError
from transforms import run_state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="subwh", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="materialize every asset for a landing folder into a warehouse file")
    run.add_argument("--landing", help="landing folder (default: $SUBWH_LANDING_DIR or sample_data/landing)")
    run.add_argument("--warehouse", help="DuckDB warehouse file (default: $SUBWH_WAREHOUSE_PATH or data/warehouse.duckdb)")
    run.add_argument("--serving", help="serving file for BI tools (default: $SUBWH_SERVING_PATH or serving.duckdb beside the warehouse)")
    run.add_argument("--select", help="Dagster asset selection (default: everything), e.g. 'group:mrr'")
    run.add_argument("--verbose", action="store_true", help="print failures with their stack traces")
    run.add_argument("--full-rebuild", action="store_true",
                     help="drop every warehouse table (raw included) and reload all landing files: after a definition changes")

    dev = commands.add_parser("dev", help="the Dagster UI and daemon on a landing folder and warehouse (its own Dagster home); "
                              "other options go to `dagster dev` (e.g. -p 3001)",
                              description="The Dagster UI and daemon on a landing folder and warehouse, with the warehouse's "
                                          "own Dagster home beside it. The UI listens on http://127.0.0.1:3000; other "
                                          "options go to `dagster dev`: -p PORT for another port.")
    dev.add_argument("--landing", help="landing folder (default: $SUBWH_LANDING_DIR or sample_data/landing)")
    dev.add_argument("--warehouse", help="DuckDB warehouse file (default: $SUBWH_WAREHOUSE_PATH or data/warehouse.duckdb)")
    dev.add_argument("--serving", help="serving file for BI tools (default: $SUBWH_SERVING_PATH or serving.duckdb beside the warehouse)")

    generate = commands.add_parser("generate", help="write a generated landing folder (docs/input-format.md)")
    generate.add_argument("--accounts", type=int, required=True)
    generate.add_argument("--months", type=int, required=True)
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--out", required=True)
    generate.add_argument("--start-month", help="first month, YYYY-MM (default: the months end with the last "
                          "complete month before today, or before $SUBWH_NOW: no event lies in the future)")
    generate.add_argument("--gzip", action="store_true")
    generate.add_argument("--usage-granularity", choices=["day", "week"], default="day")
    generate.add_argument("--no-progress", action="store_true")
    generate.add_argument("--format", choices=["native", "stripe", "stripe-clover"], default="native",
                          help="native: the landing folder of docs/input-format.md; stripe: the same company as Stripe events "
                               "(stripe_events/, for `subwh import stripe`), usage and reference files; stripe-clover: "
                               "the same in API version 2025-09-30.clover (discounts name their coupon by id)")

    from orchestration import stripe_cli

    stripe_cli.register(commands)

    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "dev":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.dagster_args = extra
    if args.command == "import":
        return stripe_cli.run(args)
    if args.command == "run":
        return run_command(args)
    if args.command == "dev":
        return dev_command(args)
    return generate_command(args)


def settings_from_args(args: argparse.Namespace) -> Settings:
    # Flags win over the environment, which wins over the defaults (serving.duckdb beside the warehouse).
    # A copy: a run in this process must not leave its paths behind for the next one.
    env = dict(os.environ)
    if args.landing:
        env["SUBWH_LANDING_DIR"] = str(Path(args.landing).resolve())
    if args.warehouse:
        env["SUBWH_WAREHOUSE_PATH"] = str(Path(args.warehouse).resolve())
    if args.serving:
        env["SUBWH_SERVING_PATH"] = str(Path(args.serving).resolve())
    return Settings.from_env(env)


def run_command(args: argparse.Namespace) -> int:
    try:
        settings = settings_from_args(args)
    except SettingsError as error:
        print(f"subwh: {error}", file=sys.stderr)
        return 2
    if not settings.landing_dir.is_dir():
        print(f"subwh: landing folder {settings.landing_dir} does not exist", file=sys.stderr)
        return 2
    # No Dagster before this point: a missing landing folder fails in well under a second.
    from orchestration.locking import writer_lock

    print(f"landing:   {settings.landing_dir}\nwarehouse: {settings.warehouse_path}\nserving:   {settings.serving_path}")
    with ExitStack() as stack:
        # One writer per warehouse: a second `subwh run` (or a Dagster run) waits here instead of failing
        # on DuckDB's file lock. The run's warehouse resource re-enters the same lock.
        try:
            stack.enter_context(writer_lock(settings.warehouse_path, on_wait=lambda message: print(message, flush=True)))
        except OSError as error:
            print(f"subwh: cannot write beside the warehouse {settings.warehouse_path}: {error.strerror or error}",
                  file=sys.stderr)
            return 2
        if args.full_rebuild:
            try:
                dropped = drop_warehouse_tables(settings.warehouse_path)
            except WarehouseInUse as error:
                print(f"subwh: {error}", file=sys.stderr)
                return 2
            print(f"full rebuild: dropped {dropped} tables; reloading every file in {settings.landing_dir}")
        elif not args.select and report_nothing_new(settings):
            return 0
        return execute_run(args, settings)
    return 2  # not reached: the block returns


class WarehouseInUse(RuntimeError):
    """Another process (not a pipeline run: those wait for the writer lock) has the warehouse open."""


def execute_run(args: argparse.Namespace, settings: Settings) -> int:
    import dagster as dg

    from orchestration.assets.serving import SERVING_KEY
    from orchestration.definitions import build_definitions
    from orchestration.summary import print_run_summary

    defs = build_definitions(settings)
    job = defs.resolve_implicit_global_asset_job_def()
    # The warehouse's own Dagster home (orchestration/instance.py): its runs show in `subwh dev` on it.
    instance = dg.DagsterInstance.from_config(str(prepare_home(settings.warehouse_path)))
    for run_id in fail_runs_of_dead_processes(instance):
        print(f"marked run {run_id} failed: the `subwh run` that started it was killed", flush=True)
    if args.select:
        job = job.get_subset(asset_selection=dg.AssetSelection.from_string(args.select).resolve(defs.resolve_asset_graph()))
    quiet = {"loggers": {"console": {"config": {"log_level": os.environ.get("SUBWH_LOG_LEVEL", "INFO"),
                                                "stack_traces": bool(getattr(args, "verbose", False))}}}}
    result = job.execute_in_process(run_config=quiet, instance=instance, raise_on_error=False,
                                    tags={HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid()),
                                          **run_tags(settings.landing_dir, settings.warehouse_path)})
    instance.dispose()  # the result keeps its events in memory
    if not result.success:
        failed = [e for e in result.all_events if e.is_failure and e.step_key]  # the run's own event repeats them
        nothing_to_compute = [failure_cause(e) for e in failed if failure_cause(e).startswith(NO_VALID_EVENTS)]
        if nothing_to_compute:  # one clear line: what was read, what was quarantined, where to look
            print(f"subwh: {nothing_to_compute[0]}", file=sys.stderr)
            return 1
        for event in failed:
            print(f"FAILED {event.step_key}: {failure_cause(event)}", file=sys.stderr)
        # Publishing depends on every other asset, so a failed step skips it; say what really happened.
        published = any(e.asset_key == SERVING_KEY for e in result.get_asset_materialization_events())
        serving_state = (f"the serving file was published before the failure ({settings.serving_path})" if published
                         else f"nothing was published: the serving file keeps its last version ({settings.serving_path})")
        print(f"subwh: run failed; steps that succeeded committed their tables to the warehouse; {serving_state}",
              file=sys.stderr)
        return 1
    print_run_summary(settings)
    if not args.select:  # a partial run leaves other assets behind: the next run is a real one
        run_state.record(settings)
    return 0


def report_nothing_new(settings: Settings) -> bool:
    """With no new input since the last successful run, say so (with the summary) and write nothing: no
    Dagster run, no report, no CRM export, no serving file (transforms/run_state.py says what is new)."""
    finished = run_state.nothing_new(settings)
    if finished is None:
        return False
    from orchestration.summary import print_run_summary

    print(f"nothing new: no landing file, definition or setting changed since the last run ({finished}); "
          "nothing was written")
    print_run_summary(settings)
    return True


# Tags on the runs `subwh run` starts: which process runs them, so a later `subwh run` can tell a run
# whose process was killed (still STARTED in the instance, holding its pool slot) from a live one.
HOST_TAG, PID_TAG = "subwh/host", "subwh/pid"


def fail_runs_of_dead_processes(instance) -> list[str]:
    """Mark failed the STARTED runs of `subwh run` processes on this host that no longer exist. A killed
    run never reports its end, and until it does it keeps its `warehouse` pool slot, so Dagster's queue
    (the UI, the sensors, the schedule) would wait for it forever."""
    import dagster as dg

    from transforms.serving import process_alive

    records = instance.get_run_records(filters=dg.RunsFilter(
        statuses=[dg.DagsterRunStatus.STARTED], tags={HOST_TAG: socket.gethostname()}))
    dead = []
    for record in records:
        run = record.dagster_run
        pid = run.tags.get(PID_TAG, "")
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
            instance.report_run_failed(run, message=f"the subwh run process (pid {pid}) ended without finishing the run")
            dead.append(run.run_id)
    return dead


def failure_cause(event) -> str:
    """The first line of the error the step raised (e.g. "LandingError: plans.csv:6: seat_limit='abc' is not
    a number"), rather than Dagster's 'Execution of step ... failed.' Dagster wraps it once; what it wraps
    says what is wrong in our words (a deeper cause is usually a library's, e.g. int()'s)."""
    error = getattr(event.event_specific_data, "error", None)
    if error is not None and error.cause is not None:
        error = error.cause
    text = (error.message if error is not None else event.message) or ""
    first = text.strip().splitlines()[0] if text.strip() else str(event.message)
    first = first.removeprefix("dagster._core.definitions.events.Failure: ")
    # "transforms.ingestion.LandingError: ..." -> "LandingError: ...": the class, not where it lives.
    return re.sub(r"^(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_]\w*: )", "", first)


# How the load of subscription events says there is nothing to compute (transforms/ingestion/outcome.py).
NO_VALID_EVENTS = "no valid subscription events"


def drop_warehouse_tables(warehouse_path: Path) -> int:
    """Empty the warehouse for a full rebuild: every pipeline schema, raw and raw.loaded_files included,
    in one transaction (an interrupted rebuild is finished by the next run). The serving file is not
    touched: BI tools keep the last published version until the rebuild publishes a new one."""
    import duckdb

    from transforms.sql_models import WAREHOUSE_SCHEMAS, connect

    if not Path(warehouse_path).exists():
        return 0
    try:
        duckdb.connect(str(warehouse_path)).close()  # only opening the file: is it usable at all?
    except duckdb.Error as error:
        first = str(error).strip().splitlines()[0]
        if "Could not set lock" in first:
            raise WarehouseInUse(f"another process has {warehouse_path} open ({first}); BI tools should read "
                                 "the serving file") from None
        # A damaged file (or not a DuckDB file at all) cannot be emptied: keep it aside and start afresh.
        aside = Path(f"{warehouse_path}.damaged-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
        Path(warehouse_path).rename(aside)
        wal = Path(f"{warehouse_path}.wal")
        if wal.exists():
            wal.rename(Path(f"{aside}.wal"))
        print(f"full rebuild: {warehouse_path} could not be opened ({first}); moved it to {aside} and building "
              "a new warehouse")
        return 0
    con = connect(warehouse_path)
    try:
        tables = con.sql(
            "select count(*) from duckdb_tables() where database_name = current_database() and schema_name in "
            f"({', '.join(repr(s) for s in WAREHOUSE_SCHEMAS)})"
        ).fetchall()[0][0]
        con.execute("begin transaction")
        for schema in WAREHOUSE_SCHEMAS:
            con.execute(f"drop schema if exists {schema} cascade")
        con.execute("commit")
        con.execute("checkpoint")
    finally:
        con.close()
    return tables


def default_start_month(months: int, today: date) -> str:
    """The first month of `months` months that end with the last complete month before `today`."""
    index = today.year * 12 + today.month - 1 - months  # months since year 0 of the first month
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def dev_command(args: argparse.Namespace) -> int:
    """`dagster dev` with DAGSTER_HOME set to the warehouse's own home and SUBWH_* naming its landing folder
    and warehouse, so the UI shows the runs of this warehouse only and its automation writes only here."""
    from orchestration.settings import REPO_ROOT

    try:
        settings = settings_from_args(args)
    except SettingsError as error:
        print(f"subwh: {error}", file=sys.stderr)
        return 2
    env = os.environ | {
        "DAGSTER_HOME": str(prepare_home(settings.warehouse_path)),
        "SUBWH_LANDING_DIR": str(settings.landing_dir.resolve()),
        "SUBWH_WAREHOUSE_PATH": str(settings.warehouse_path.resolve()),
        "SUBWH_SERVING_PATH": str(settings.serving_path.resolve()),
    }
    print(f"landing:   {env['SUBWH_LANDING_DIR']}\nwarehouse: {env['SUBWH_WAREHOUSE_PATH']}\n"
          f"dagster home: {env['DAGSTER_HOME']}", flush=True)
    dagster = str(Path(sys.executable).parent / "dagster")
    extra = [a for a in args.dagster_args if a != "--"]  # e.g. -p 3001
    os.chdir(REPO_ROOT)
    os.execve(dagster, [dagster, "dev", "-w", str(REPO_ROOT / "workspace.yaml"), *extra], env)
    return 0  # not reached


def generate_command(args: argparse.Namespace) -> int:
    from orchestration.settings import instant_bounds_from_env
    from sample_data.generator import generate

    try:
        clock = instant_bounds_from_env(os.environ).clock()
    except SettingsError as error:
        print(f"subwh generate: {error}", file=sys.stderr)
        return 2
    if args.start_month is None and args.months >= 1:
        args.start_month = default_start_month(args.months, clock.date())
    elif args.start_month and args.months >= 1 and len(args.start_month) == 7 and args.start_month[:4].isdigit() \
            and args.start_month[5:].isdigit():
        last = int(args.start_month[:4]) * 12 + int(args.start_month[5:]) - 1 + args.months - 1
        if last >= clock.year * 12 + clock.month - 1:
            print(f"subwh generate: the months run to {last // 12:04d}-{last % 12 + 1:02d}, past {clock:%Y-%m-%d}: "
                  "`subwh run` quarantines events later than its clock + 24 h (implausible_instant) unless "
                  "SUBWH_NOW sets a later clock", file=sys.stderr)
    try:
        summary = generate(
            args.out, accounts=args.accounts, months=args.months, seed=args.seed, start_month=args.start_month,
            gzip=args.gzip, usage_granularity=args.usage_granularity, progress=not args.no_progress,
            format=args.format,
        )
    except ValueError as error:  # GeneratorError: bad arguments or an output folder it must not overwrite
        print(f"subwh generate: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
