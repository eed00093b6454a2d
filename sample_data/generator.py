"""Synthetic landing folder for the subscription warehouse: the event logs of docs/input-format.md.

    python -m sample_data.generator --accounts 300 --months 24 --seed 42 --out sample_data/landing --gzip

The simulation keeps one row per account in numpy arrays (status, plan, seats, price, billing anchor,
usage levels, ...) and advances all accounts one month at a time: every decision is a vectorized draw
over the account arrays, never a Python loop per account or per event. Each month's events are rendered
to JSON lines with Polars string expressions and written as one file per stream per UTC day, so memory
holds one month of subscription and billing events and at most ~1M usage rows, whatever the size.

Determinism: the same arguments give byte-identical files. Lifecycle, usage, rendering and reference
data draw from separate PCG64 streams spawned from the seed, so `--usage-granularity` changes only the
usage files.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
from numpy.random import PCG64, Generator, SeedSequence
from tqdm import tqdm

from sample_data.churn_hazard import HazardLog, truth_dir_for
from sample_data.company import (  # noqa: F401 - PRICE_BOOK: the Stripe rendering's tests read it from here
    API_LIMIT,
    BILLING_EVENT_TYPES,
    COUNTRIES,
    CURRENCIES,
    DAY,
    FX_START,
    MARKER_FILE,
    NAME_NOUNS,
    NAME_STEMS,
    PLAN_IDS,
    PLAN_NAMES,
    PRICE_BOOK,
    REFERENCE_DIR,
    SALES_OWNERS,
    SEAT_LIMIT,
    SEGMENTS,
    STREAMS,
    SUBSCRIPTION_EVENT_TYPES,
    USAGE_BATCH_ROWS,
)
from sample_data.rendering import Writer
from sample_data.simulation import Simulation


class GeneratorError(ValueError):
    """A bad argument or an output folder the generator must not write into."""


# ------------------------------------------------------------------------------------------------ API


def generate(
    out_dir: str | Path,
    accounts: int,
    months: int,
    seed: int = 0,
    start_month: str = "2024-01",
    gzip: bool = False,
    usage_granularity: str = "day",
    progress: bool = True,
    format: str = "native",  # noqa: A002 - the command line's --format
    truth_dir: str | Path | None = None,
) -> dict:
    """Write a landing folder (docs/input-format.md) for `accounts` accounts over `months` months; return a summary.

    The summary: {"accounts", "months", "files", "events": {stream: count}, "seconds"}; `files` counts
    every file written (event files plus the two reference CSVs). `format="stripe"` writes the same company
    as Stripe Events instead of subscription and billing events (sample_data/stripe_rendering.py; API version
    basil, or clover with `format="stripe-clover"`); its summary adds "stripe_events" (by type).

    Each paying account-month's true churn hazard (sample_data/churn_hazard.py) is written to
    `truth_dir/churn_hazard.parquet`, by default the sibling folder `<out_dir>.truth/`: outside the landing
    folder, so the warehouse never reads it. The summary names it ("hazard_file").
    """
    started = time.perf_counter()
    _check_arguments(accounts, months, seed, start_month, usage_granularity)
    if format not in ("native", "stripe", "stripe-clover"):
        raise GeneratorError(f"format must be 'native', 'stripe' or 'stripe-clover', got {format!r}")
    out = Path(out_dir)
    arguments = dict(
        accounts=accounts,
        months=months,
        seed=seed,
        start_month=start_month,
        gzip=gzip,
        usage_granularity=usage_granularity,
    )
    _prepare_output(out, arguments if format == "native" else {**arguments, "format": format})

    root = SeedSequence(seed)
    life_seq, usage_seq, reference_seq, *render_seqs = root.spawn(3 + len(STREAMS))
    render_rngs = {stream: Generator(PCG64(seq)) for stream, seq in zip(STREAMS, render_seqs, strict=True)}
    writer = Writer(out, gzip, render_rngs, accounts)
    simulation = Simulation(
        accounts,
        months,
        start_month,
        Generator(PCG64(life_seq)),
        Generator(PCG64(usage_seq)),
        usage_granularity,
    )
    _write_reference(out, simulation.calendar_months[:months], Generator(PCG64(reference_seq)))
    simulation.hazard_log = HazardLog(
        Path(truth_dir) if truth_dir is not None else truth_dir_for(out), writer.account_ids.to_arrow()
    )
    stripe = None
    if format.startswith("stripe"):
        from sample_data.stripe_rendering import API_VERSION, CLOVER_VERSION, StripeWriter, write_stripe_plans

        for stream in ("subscription_events", "billing_events"):  # Stripe's events hold them
            (out / stream).rmdir()
        write_stripe_plans(out / REFERENCE_DIR / "plans.csv", _stripe_constants(simulation))
        stripe = StripeWriter(out, gzip, _stripe_constants(simulation),
                              CLOVER_VERSION if format == "stripe-clover" else API_VERSION)

    month_iter = tqdm(range(months), desc="generating", unit="month", disable=not progress, file=sys.stderr)
    try:
        for m in month_iter:
            subscription_events, billing_events = simulation.advance(m)
            if stripe is not None:
                stripe.write_month(int(simulation.day0[m + 1]) * DAY, subscription_events, billing_events)
            else:
                writer.write_events("subscription_events", subscription_events)
                writer.write_events("billing_events", billing_events)
            # Usage is produced a day (or a week) at a time and rendered in batches of whole days: few
            # Polars calls for small runs, bounded memory for large ones.
            batch: list[pl.DataFrame] = []
            for usage in simulation.usage(m):
                batch.append(usage)
                if sum(frame.height for frame in batch) >= USAGE_BATCH_ROWS:
                    writer.write_events("usage_events", pl.concat(batch))
                    batch = []
            if batch:
                writer.write_events("usage_events", pl.concat(batch))
            if progress:
                written = sum(writer.events.values()) + (stripe.events if stripe is not None else 0)
                month_iter.set_postfix(events=f"{written:,}")
    finally:
        writer.close()
    simulation.hazard_log.close()

    summary = {
        "accounts": accounts,
        "months": months,
        "files": writer.files + 2,
        "events": dict(writer.events),
        "seconds": round(time.perf_counter() - started, 2),
        "hazard_file": str(simulation.hazard_log.path),
    }
    if stripe is not None:
        summary["files"] += stripe.files
        summary["events"] = {"usage_events": writer.events["usage_events"]}
        summary["stripe_events"] = dict(sorted(stripe.types.items()))
        summary["stripe_refunds_left_out"] = stripe.refunds_skipped  # of invoices never paid: no charge
    return summary


def _stripe_constants(simulation: Simulation) -> dict:
    """What the Stripe rendering needs of the generator's tables."""
    return dict(
        plan_ids=PLAN_IDS, plan_names=PLAN_NAMES, currencies=CURRENCIES, price_book=PRICE_BOOK,
        seat_limits=SEAT_LIMIT, api_limits=API_LIMIT, countries=COUNTRIES, name_stems=NAME_STEMS,
        name_nouns=NAME_NOUNS, segments=SEGMENTS, sales_owners=SALES_OWNERS,
        subscription_event_types=SUBSCRIPTION_EVENT_TYPES, billing_event_types=BILLING_EVENT_TYPES,
        account_currency=simulation.currency, epoch=int(simulation.day0[0]) * DAY,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sample_data.generator", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--accounts", type=int, required=True, help="number of customer accounts (>= 1)")
    parser.add_argument("--months", type=int, required=True, help="number of months to simulate (>= 1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same files)")
    parser.add_argument(
        "--out", required=True, help="landing folder to write (empty, new, or a previous output)"
    )
    parser.add_argument("--start-month", default="2024-01", help="first month, YYYY-MM (default 2024-01)")
    parser.add_argument("--gzip", action="store_true", help="write .jsonl.gz instead of .jsonl")
    parser.add_argument(
        "--usage-granularity",
        choices=["day", "week"],
        default="day",
        help="one usage event per metric per account per day (default) or per week",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        summary = generate(
            args.out,
            accounts=args.accounts,
            months=args.months,
            seed=args.seed,
            start_month=args.start_month,
            gzip=args.gzip,
            usage_granularity=args.usage_granularity,
            progress=not args.no_progress,
        )
    except GeneratorError as error:
        parser.error(str(error))
    print(json.dumps(summary))
    return 0


# ------------------------------------------------------------------------------------ arguments, output


def _check_arguments(accounts, months, seed, start_month, usage_granularity) -> None:
    for name, value in (("accounts", accounts), ("months", months)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise GeneratorError(f"{name} must be a whole number >= 1, got {value!r}")
    if months > 600:
        raise GeneratorError(f"months must be <= 600 (50 years), got {months}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise GeneratorError(f"seed must be a whole number >= 0, got {seed!r}")
    if not isinstance(start_month, str) or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", start_month):
        raise GeneratorError(f"start_month must look like YYYY-MM (e.g. 2024-01), got {start_month!r}")
    if not 1970 <= int(start_month[:4]) <= 2200:
        raise GeneratorError(f"start_month must be between 1970-01 and 2200-12, got {start_month!r}")
    if usage_granularity not in ("day", "week"):
        raise GeneratorError(f"usage_granularity must be 'day' or 'week', got {usage_granularity!r}")


def _prepare_output(out: Path, arguments: dict) -> None:
    """Create `out`, or clear a previous output of the generator; refuse any other non-empty folder."""
    if out.exists() and not out.is_dir():
        raise GeneratorError(f"output {out} exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER_FILE).is_file():
            raise GeneratorError(
                f"output folder {out} is not empty and was not written by this generator (no {MARKER_FILE}); "
                "pass an empty or new folder"
            )
        for name in (*STREAMS, REFERENCE_DIR, "stripe_events"):  # stripe_events: a --format stripe output
            if (out / name).is_dir():
                shutil.rmtree(out / name)
    out.mkdir(parents=True, exist_ok=True)
    marker = {"generator": "sample_data.generator", "arguments": arguments}
    (out / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    for name in (*STREAMS, REFERENCE_DIR):
        (out / name).mkdir()


def _write_reference(out: Path, calendar_months: np.ndarray, rng: Generator) -> None:
    plans = pl.DataFrame(
        {
            "plan_id": PLAN_IDS,
            "plan_name": PLAN_NAMES,
            "tier_rank": np.arange(1, len(PLAN_IDS) + 1),
            "seat_limit": SEAT_LIMIT,
            "api_call_limit": [None if limit < 0 else int(limit) for limit in API_LIMIT],
            "list_price_monthly": [_cents_text(int(c)) for c in PRICE_BOOK[0]],
        }
    )
    plans.write_csv(out / REFERENCE_DIR / "plans.csv", null_value="")

    # A monthly random walk per currency, rounded to 6 decimals (the warehouse stores decimals).
    labels = [str(m) for m in calendar_months]
    rows = []
    for currency, start in FX_START.items():
        steps = rng.normal(0.0, 0.012, size=len(labels))
        steps[0] = 0.0
        rates = start * np.exp(np.cumsum(steps))
        rows.extend((label, currency, f"{rate:.6f}") for label, rate in zip(labels, rates, strict=True))
    rows.sort()
    fx = pl.DataFrame(rows, schema=["month", "currency", "usd_per_unit"], orient="row")
    fx.write_csv(out / REFERENCE_DIR / "fx_rates.csv")


def _cents_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


if __name__ == "__main__":
    sys.exit(main())
