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
import gzip as gzip_format
import io
import json
import re
import shutil
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl
from numpy.random import PCG64, Generator, SeedSequence
from tqdm import tqdm

STREAMS = ("subscription_events", "billing_events", "usage_events")
REFERENCE_DIR = "reference"
# Written first into every output folder: it is what makes a non-empty folder safe to overwrite.
MARKER_FILE = ".subwh-generator.json"

# ------------------------------------------------------------------------------------------ reference data

# Tiers, cheapest first; index = tier_rank - 1. Limits are per month; the top tier has no API limit but a
# seat limit (docs/sales.md: `seat_limit_near` needs one).
PLAN_IDS = ("starter", "growth", "scale", "enterprise")
PLAN_NAMES = ("Starter", "Growth", "Scale", "Enterprise")
SEAT_LIMIT = np.array([5, 25, 100, 1000])
API_LIMIT = np.array([15_000, 100_000, 500_000, -1])  # -1 = unlimited
TOP_TIER = len(PLAN_IDS) - 1
UNLIMITED_API = np.iinfo(np.int64).max // 4

CURRENCIES = ("USD", "EUR", "GBP")
# Price books in cents per seat per month; index [currency, tier]. USD is plans.csv's list price.
PRICE_BOOK = np.array(
    [
        [1500, 3500, 6500, 11000],
        [1400, 3200, 5900, 9900],
        [1200, 2800, 5100, 8600],
    ],
    dtype=np.int64,
)
INTERVAL_NAMES = {1: "month", 3: "quarter", 12: "year"}
FX_START = {"EUR": 1.085, "GBP": 1.265}

SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
SEGMENT_SHARE = (0.62, 0.28, 0.10)

# country, currency index, weight, legal form
COUNTRIES = (
    ("US", 0, 34, "Inc."),
    ("CA", 0, 5, "Ltd."),
    ("AU", 0, 4, "Pty Ltd"),
    ("SG", 0, 2, "Pte. Ltd."),
    ("IN", 0, 3, "Pvt. Ltd."),
    ("BR", 0, 2, "Ltda."),
    ("JP", 0, 2, "K.K."),
    ("SE", 0, 2, "AB"),
    ("CH", 0, 2, "AG"),
    ("GB", 2, 13, "Ltd"),
    ("DE", 1, 10, "GmbH"),
    ("FR", 1, 6, "SAS"),
    ("NL", 1, 4, "B.V."),
    ("ES", 1, 3, "S.L."),
    ("IT", 1, 3, "S.r.l."),
    ("IE", 1, 2, "Ltd"),
    ("AT", 1, 1, "GmbH"),
    ("BE", 1, 1, "BV"),
    ("FI", 1, 1, "Oy"),
)
NAME_STEMS = (
    "Acme",
    "Northwind",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Cyberdyne",
    "Aperture",
    "Blue Harbor",
    "Redwood",
    "Silverline",
    "Bright Path",
    "Evergreen",
    "Nimbus",
    "Quantum",
    "Polaris",
    "Summit",
    "Cedar",
    "Lumen",
    "Atlas",
    "Orbit",
    "Kestrel",
    "Falcon",
    "Meridian",
    "Nova",
    "Pioneer",
    "Zenith",
    "Cobalt",
    "Crimson",
    "Juniper",
    "Maple",
    "Obsidian",
    "Sterling",
    "Tidal",
    "Müller",
    "Lindqvist",
    "Brontë",
    "Ørsted",
    "Dvořák",
    "Saint-Étienne",
    "Açaí",
    "Fjord",
    "Halcyon",
    "Ironbark",
    "Larkspur",
    "Mistral",
    "Osprey",
    "Quill",
    "Riverbend",
    "Sable",
    "Tern",
    "Willow",
)
NAME_NOUNS = (
    "Analytics",
    "Labs",
    "Logistics",
    "Health",
    "Foods",
    "Robotics",
    "Software",
    "Studios",
    "Capital",
    "Systems",
    "Media",
    "Energy",
    "Retail",
    "Bikes",
    "Design",
    "Consulting",
    "Security",
    "Travel",
    "Cloud",
    "Data",
    "Works",
    "Partners",
    "Ventures",
    "Dynamics",
    "Networks",
    "Biotech",
    "Insurance",
    "Learning",
)
SALES_OWNERS = (
    "Ana Silva",
    "Ben Okafor",
    "Chloé Martin",
    "Dev Patel",
    "Emma Schultz",
    "Farid Haddad",
    "Grace Kim",
    "Hugo Larsen",
    "Isla Murphy",
    "Jonas Weber",
)

# Timestamp offsets used when rendering occurred_at: most events say Z, a few +00:00, a small share a
# local offset (same UTC instant, so the event stays in its UTC day's file).
OFFSET_SUFFIX = ("Z", "+00:00", "+01:00", "+02:00", "-05:00", "+05:30", "-07:00")
OFFSET_SECONDS = (0, 0, 3600, 7200, -18000, 19800, -25200)
OFFSET_SHARE = (0.88, 0.07, 0.015, 0.015, 0.01, 0.005, 0.005)

# Event type codes per stream; rendering maps them back to names.
ACCOUNT_CREATED, TRIAL_STARTED, SUB_STARTED, SUB_CHANGED, SUB_PAUSED, SUB_RESUMED, SUB_CANCELED = range(7)
SUBSCRIPTION_EVENT_TYPES = (
    "account_created",
    "trial_started",
    "subscription_started",
    "subscription_changed",
    "subscription_paused",
    "subscription_resumed",
    "subscription_canceled",
)
INVOICE_ISSUED, PAYMENT_SUCCEEDED, PAYMENT_FAILED, REFUND_ISSUED = range(4)
BILLING_EVENT_TYPES = ("invoice_issued", "payment_succeeded", "payment_failed", "refund_issued")
USAGE_METRICS = ("active_seats", "api_calls")
EVENT_TYPES = {
    "subscription_events": SUBSCRIPTION_EVENT_TYPES,
    "billing_events": BILLING_EVENT_TYPES,
    "usage_events": ("usage",),
}
EVENT_ID_PREFIX = {"subscription_events": "se_", "billing_events": "be_", "usage_events": "ue_"}

# Account status codes of the simulation.
NOT_CREATED, PROSPECT, TRIALING, ACTIVE, PAUSED, CHURNED = range(6)

HOUR = 3600
USAGE_BATCH_ROWS = 1_000_000
DAY = 86400
LATEST_ACTION_SECOND = DAY - 1200  # leaves room for a refund 10 minutes after a cancellation, same day

# ------------------------------------------------------------------------------------------- behaviour
# Monthly probabilities, by segment (SMB, Mid-Market, Enterprise) where it matters.
P_TRIAL_CONVERTS = np.array([0.6, 0.68, 0.75])
P_PAYMENT_FAILS = np.array([0.06, 0.04, 0.025])
P_FAILED_PAYMENT_RECOVERS = 0.65
P_AT_RISK = np.array([0.03, 0.02, 0.012])  # usage collapses this month ...
P_AT_RISK_CHURNS = 0.7  # ... and the account cancels the next month
P_SILENT_CHURN = np.array([0.008, 0.005, 0.003])  # cancels without a usage warning
P_REACTIVATES = 0.03
P_PROSPECT_STARTS, P_LAPSED_TRIAL_RETRIES = 0.08, 0.02
# A new account starts a trial, buys at once, or waits (and may start later as a prospect).
P_SIGNUP_TRIAL, P_SIGNUP_PAID = 0.45, 0.42
SIGNUP_GROWTH = 1.025  # sign-ups per month grow 2.5% a month
P_GROWTH_SPURT = 0.03
P_PAUSE, P_PAUSE_AT_RISK = 0.02, 0.06
P_PAUSE_ENDS_IN_CANCEL = 0.15
P_REFUND_GOODWILL = 0.015
INTERVAL_SHARE = np.array([[0.80, 0.10, 0.10], [0.55, 0.20, 0.25], [0.30, 0.20, 0.50]])  # month/quarter/year
SEATS_MEDIAN = np.array([3.0, 14.0, 60.0])
SEATS_SIGMA = np.array([0.6, 0.6, 0.6])
P_HAS_SALES_OWNER = np.array([0.6, 0.92, 1.0])
API_CALLS_PER_SEAT_DAY = 45.0  # median; lognormal across accounts
SEAT_WEEKEND_FACTOR, API_WEEKEND_FACTOR = 0.9, 0.3


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
) -> dict:
    """Write a landing folder (docs/input-format.md) for `accounts` accounts over `months` months; return a summary.

    The summary: {"accounts", "months", "files", "events": {stream: count}, "seconds"}; `files` counts
    every file written (event files plus the two reference CSVs). `format="stripe"` writes the same company
    as Stripe Events instead of subscription and billing events (sample_data/stripe_rendering.py; API version
    basil, or clover with `format="stripe-clover"`); its summary adds "stripe_events" (by type).
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
    writer = _Writer(out, gzip, render_rngs, accounts)
    simulation = _Simulation(
        accounts,
        months,
        start_month,
        Generator(PCG64(life_seq)),
        Generator(PCG64(usage_seq)),
        usage_granularity,
    )
    _write_reference(out, simulation.calendar_months[:months], Generator(PCG64(reference_seq)))
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

    summary = {
        "accounts": accounts,
        "months": months,
        "files": writer.files + 2,
        "events": dict(writer.events),
        "seconds": round(time.perf_counter() - started, 2),
    }
    if stripe is not None:
        summary["files"] += stripe.files
        summary["events"] = {"usage_events": writer.events["usage_events"]}
        summary["stripe_events"] = dict(sorted(stripe.types.items()))
        summary["stripe_refunds_left_out"] = stripe.refunds_skipped  # of invoices never paid: no charge
    return summary


def _stripe_constants(simulation: _Simulation) -> dict:
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


# ---------------------------------------------------------------------------------------------- events


class _EventBuffer:
    """Columns of one month's events for one stream, as numpy arrays; -1 means 'field absent'."""

    def __init__(self, fields: dict[str, type]):
        self.fields = fields
        self.parts: list[dict[str, np.ndarray]] = []

    def add(self, event_type: int, accounts: np.ndarray, seconds: np.ndarray, **columns) -> None:
        n = len(accounts)
        if n == 0:
            return
        part = {
            "event_type": np.full(n, event_type, dtype=np.int8),
            "account": np.asarray(accounts, dtype=np.int64),
            "second": np.asarray(seconds, dtype=np.int64),
        }
        for name, values in columns.items():
            part[name] = np.broadcast_to(np.asarray(values, dtype=self.fields[name]), (n,))
        self.parts.append(part)

    def frame(self) -> pl.DataFrame:
        names = ("event_type", "account", "second", *self.fields)
        dtypes = {"event_type": np.int8, "account": np.int64, "second": np.int64, **self.fields}
        columns = {}
        for name in names:
            arrays = [
                p[name] if name in p else np.full(len(p["account"]), -1, dtypes[name]) for p in self.parts
            ]
            columns[name] = np.concatenate(arrays) if arrays else np.empty(0, dtypes[name])
        frame = pl.DataFrame(columns)
        return frame.with_columns(
            pl.when(pl.col(name) != -1).then(pl.col(name)).alias(name) for name in self.fields
        )


def _subscription_buffer() -> _EventBuffer:
    return _EventBuffer(
        dict(
            effective=np.int64,
            seq=np.int16,
            tier=np.int8,
            interval=np.int8,
            quantity=np.int32,
            unit_price=np.int64,
            currency=np.int8,
            discount=np.int8,
            segment=np.int8,
            country=np.int8,
            owner=np.int16,
            name_stem=np.int16,
            name_noun=np.int16,
        )
    )


def _billing_buffer() -> _EventBuffer:
    return _EventBuffer(
        dict(
            seq=np.int16,
            invoice=np.int64,
            amount=np.int64,
            currency=np.int8,
            period_start=np.int64,
            period_end=np.int64,
        )
    )


# ------------------------------------------------------------------------------------------ simulation


class _Simulation:
    """All accounts' state as arrays; `advance(m)` moves every account through month m."""

    def __init__(
        self,
        accounts: int,
        months: int,
        start_month: str,
        rng: Generator,
        usage_rng: Generator,
        usage_granularity: str,
    ):
        self.n = n = accounts
        self.months = months
        self.rng = rng
        self.usage_rng = usage_rng
        self.granularity = usage_granularity

        # Calendar: month k's first day (days since the epoch) and length; 13 spare months so a
        # scheduled change or an annual invoice period can end after the last simulated month.
        self.calendar_months = np.datetime64(start_month, "M") + np.arange(months + 14)
        first_days = self.calendar_months.astype("datetime64[D]").astype(np.int64)
        self.day0 = first_days[:-1]
        self.dim = np.diff(first_days)

        # Static account attributes. Sign-ups grow each month; ids follow the order of creation.
        weights = SIGNUP_GROWTH ** np.arange(months)
        cumulative = np.round(np.cumsum(weights) / weights.sum() * n).astype(np.int64)
        created_month = np.repeat(np.arange(months), np.diff(cumulative, prepend=0))
        created_day = 1 + (rng.random(n) * self.dim[created_month]).astype(np.int64)
        created_second = rng.integers(6 * HOUR, 18 * HOUR, size=n)
        order = np.lexsort((created_second, created_day, created_month))
        self.created_month = created_month[order]
        self.created_day = created_day[order]
        self.created_second = created_second[order]

        self.segment = rng.choice(3, size=n, p=SEGMENT_SHARE).astype(np.int8)
        weights = np.array([c[2] for c in COUNTRIES], dtype=float)
        self.country = rng.choice(len(COUNTRIES), size=n, p=weights / weights.sum()).astype(np.int8)
        self.currency = np.array([c[1] for c in COUNTRIES], dtype=np.int8)[self.country]
        has_owner = rng.random(n) < P_HAS_SALES_OWNER[self.segment]
        self.owner = np.where(has_owner, rng.integers(0, len(SALES_OWNERS), size=n), -1).astype(np.int16)
        self.name_stem = rng.integers(0, len(NAME_STEMS), size=n).astype(np.int16)
        # -1 = no noun ("Acme GmbH"), else "Acme Robotics GmbH"
        self.name_noun = np.where(rng.random(n) < 0.8, rng.integers(0, len(NAME_NOUNS), size=n), -1).astype(
            np.int16
        )

        # Dynamic state.
        self.status = np.full(n, NOT_CREATED, dtype=np.int8)
        self.ever_paid = np.zeros(n, dtype=bool)
        self.lapsed_trial = np.zeros(n, dtype=bool)
        self.seq = np.zeros(n, dtype=np.int16)  # subscription number of the account, in its id
        self.tier = np.zeros(n, dtype=np.int8)
        self.quantity = np.zeros(n, dtype=np.int32)
        self.interval = np.ones(n, dtype=np.int8)
        self.discount = np.zeros(n, dtype=np.int8)
        self.unit_price = np.zeros(n, dtype=np.int64)  # cents per seat per billing interval
        self.anchor = np.ones(n, dtype=np.int64)  # billing day of month (clamped to the month's length)
        self.bill_second = np.full(n, 8 * HOUR, dtype=np.int64)  # time of day of invoices
        self.next_invoice = np.zeros(n, dtype=np.int64)  # month index of the next renewal
        self.pending = np.zeros(n, dtype=np.int8)  # 0 none, 1 scheduled cancel, 2 scheduled change
        self.pending_month = np.zeros(n, dtype=np.int64)
        self.pending_tier = np.zeros(n, dtype=np.int8)
        self.pending_quantity = np.zeros(n, dtype=np.int32)
        self.pending_interval = np.zeros(n, dtype=np.int8)
        self.pending_discount = np.zeros(n, dtype=np.int8)
        self.dunning = np.zeros(n, dtype=bool)  # unpaid invoice: canceled at next month's anchor day
        self.pause_until = np.zeros(n, dtype=np.int64)
        self.at_risk_month = np.full(n, -9, dtype=np.int64)
        self.growth_left = np.zeros(n, dtype=np.int8)
        self.seats = np.clip(
            rng.lognormal(np.log(SEATS_MEDIAN[self.segment]), SEATS_SIGMA[self.segment]), 1, 900
        )
        self.intensity = np.clip(rng.lognormal(np.log(API_CALLS_PER_SEAT_DAY), 0.8, size=n), 2, 2000)
        self.last_invoice = np.zeros(n, dtype=np.int64)
        self.last_invoice_amount = np.zeros(n, dtype=np.int64)
        self.invoice_counter = 0

        # Filled by advance(m) for usage(m).
        self._usage_state: dict[str, np.ndarray] | None = None

    # -------------------------------------------------------------------------------- small helpers

    def _uniform(self) -> np.ndarray:
        return self.rng.random(self.n)

    def _instant(self, month: int, day: np.ndarray, second: np.ndarray) -> np.ndarray:
        return (self.day0[month] + np.asarray(day, dtype=np.int64) - 1) * DAY + np.asarray(
            second, dtype=np.int64
        )

    def _anchor_day(self, month) -> np.ndarray:
        """Billing day in `month` (scalar or per-account array of months), clamped like Stripe does."""
        return np.minimum(self.anchor, self.dim[month])

    def _renewal_instant(self, idx: np.ndarray) -> np.ndarray:
        """00:00 UTC of the next renewal (= the end of the paid period) of accounts idx."""
        month = self.next_invoice[idx]
        day = np.minimum(self.anchor[idx], self.dim[month])
        return (self.day0[month] + day - 1) * DAY

    def _fitting_tier(
        self, quantity: np.ndarray, seats: np.ndarray, intensity: np.ndarray, headroom: float = 0.9
    ) -> np.ndarray:
        """Smallest tier whose seat limit holds `quantity` and whose API limit holds the usage."""
        monthly_calls = np.minimum(seats, quantity) * intensity * 26
        tier = np.full(len(quantity), TOP_TIER, dtype=np.int8)
        for t in range(TOP_TIER - 1, -1, -1):
            fits = (quantity <= SEAT_LIMIT[t]) & (monthly_calls <= headroom * API_LIMIT[t])
            tier[fits] = t
        return tier

    def _start_terms(self, idx: np.ndarray, keep_tier: bool = False) -> None:
        """Plan, seats, interval, discount and price of new paid subscriptions (or trial conversions)."""
        rng = self.rng
        k = len(idx)
        seats = self.seats[idx]
        quantity = np.maximum(1, np.ceil(seats * rng.uniform(1.0, 1.25, k))).astype(np.int32)
        quantity = np.minimum(quantity, SEAT_LIMIT[TOP_TIER])
        tier = self._fitting_tier(quantity, seats, self.intensity[idx])
        tier = np.where(rng.random(k) < 0.15, np.minimum(tier + 1, TOP_TIER), tier).astype(np.int8)
        if keep_tier:
            tier = np.maximum(tier, self.tier[idx])
        quantity = np.minimum(quantity, SEAT_LIMIT[tier]).astype(np.int32)
        segment = self.segment[idx]
        draw = rng.random(k)
        share = INTERVAL_SHARE[segment]
        interval = np.where(draw < share[:, 0], 1, np.where(draw < share[:, 0] + share[:, 1], 3, 12)).astype(
            np.int8
        )
        annual_discount = (interval == 12) & (rng.random(k) < 0.6)
        negotiated = np.where(segment == 2, rng.random(k) < 0.5, rng.random(k) < 0.06)
        discount = np.where(annual_discount, 15, 0)
        discount = np.maximum(discount, np.where(negotiated, rng.choice([10, 20, 25, 30], size=k), 0))
        self.tier[idx] = tier
        self.quantity[idx] = quantity
        self.interval[idx] = interval
        self.discount[idx] = discount
        self.unit_price[idx] = PRICE_BOOK[self.currency[idx], tier] * interval

    def _emit_start(
        self, events: _EventBuffer, event_type: int, idx: np.ndarray, seconds: np.ndarray
    ) -> None:
        if event_type == TRIAL_STARTED:
            events.add(TRIAL_STARTED, idx, seconds, seq=self.seq[idx], tier=self.tier[idx])
            return
        events.add(
            event_type,
            idx,
            seconds,
            seq=self.seq[idx],
            tier=self.tier[idx],
            interval=self.interval[idx],
            quantity=self.quantity[idx],
            unit_price=self.unit_price[idx],
            currency=self.currency[idx],
            discount=np.where(self.discount[idx] > 0, self.discount[idx], -1),
        )

    # ------------------------------------------------------------------------------------- one month

    def advance(self, m: int) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Move every account through month m; return that month's subscription and billing events."""
        n, rng = self.n, self.rng
        dim = int(self.dim[m])
        sub = _subscription_buffer()
        bill = _billing_buffer()
        status0 = self.status.copy()
        live_at_start = (status0 == TRIALING) | (status0 == ACTIVE)
        reports_usage = live_at_start.copy()
        usage_first = np.ones(n, dtype=np.int64)
        usage_last = np.full(n, dim, dtype=np.int64)
        touched = np.zeros(n, dtype=bool)  # had a start/resume/cancel this month: no further action
        seats_start = self.seats.copy()
        anchor_day = self._anchor_day(m)

        # 1. Unpaid invoices from last month end in cancellation on this month's billing day.
        idx = np.flatnonzero(self.dunning & (status0 == ACTIVE))
        sub.add(
            SUB_CANCELED,
            idx,
            self._instant(m, anchor_day[idx], self.bill_second[idx] - 1800),
            seq=self.seq[idx],
        )
        self.status[idx] = CHURNED
        self.dunning[idx] = False
        usage_last[idx] = anchor_day[idx] - 1
        touched[idx] = True

        # 2. Scheduled cancellations and changes take effect at 00:00 of the billing day (sent earlier).
        due = (self.pending > 0) & (self.pending_month == m) & (self.status == ACTIVE)
        idx = np.flatnonzero(due & (self.pending == 1))
        self.status[idx] = CHURNED
        usage_last[idx] = anchor_day[idx] - 1
        touched[idx] = True
        idx = np.flatnonzero(due & (self.pending == 2))
        self.tier[idx] = self.pending_tier[idx]
        self.quantity[idx] = self.pending_quantity[idx]
        self.interval[idx] = self.pending_interval[idx]
        self.discount[idx] = self.pending_discount[idx]
        self.unit_price[idx] = PRICE_BOOK[self.currency[idx], self.tier[idx]] * self.interval[idx]
        self.pending[due] = 0

        # 3. Trials started last month convert (same subscription_id) or lapse on the anniversary day.
        trial = status0 == TRIALING
        converts = trial & (self._uniform() < P_TRIAL_CONVERTS[self.segment])
        idx = np.flatnonzero(converts)
        self._start_terms(idx, keep_tier=True)
        self._emit_start(
            sub, SUB_STARTED, idx, self._instant(m, anchor_day[idx], self.bill_second[idx] - 120)
        )
        self.status[idx] = ACTIVE
        self.ever_paid[idx] = True
        self.next_invoice[idx] = m
        touched[idx] = True
        idx = np.flatnonzero(trial & ~converts)
        sub.add(
            SUB_CANCELED,
            idx,
            self._instant(m, anchor_day[idx], self.bill_second[idx] - 120),
            seq=self.seq[idx],
        )
        self.status[idx] = PROSPECT
        self.lapsed_trial[idx] = True
        usage_last[idx] = anchor_day[idx] - 1
        touched[idx] = True

        # Start days and times for anything that begins this month (resumes, sign-ups, reactivations).
        start_day = 1 + (self._uniform() * dim).astype(np.int64)
        start_second = rng.integers(6 * HOUR, 18 * HOUR, size=n)

        # 4. Paused subscriptions resume (a new billing anchor, invoiced at once) or are canceled.
        due = (status0 == PAUSED) & (self.pause_until == m)
        cancels = due & (self._uniform() < P_PAUSE_ENDS_IN_CANCEL)
        idx = np.flatnonzero(cancels)
        sub.add(SUB_CANCELED, idx, self._instant(m, start_day[idx], start_second[idx]), seq=self.seq[idx])
        self.status[idx] = CHURNED
        touched[idx] = True
        idx = np.flatnonzero(due & ~cancels)
        sub.add(SUB_RESUMED, idx, self._instant(m, start_day[idx], start_second[idx]), seq=self.seq[idx])
        self._begin_paid_period(idx, m, start_day[idx], start_second[idx])
        reports_usage[idx] = True
        usage_first[idx] = start_day[idx]
        touched[idx] = True

        # 5. New accounts: a trial, a paid start, or nothing yet.
        idx = np.flatnonzero(self.created_month == m)
        created_at = self._instant(m, self.created_day[idx], self.created_second[idx])
        sub.add(
            ACCOUNT_CREATED,
            idx,
            created_at,
            segment=self.segment[idx],
            country=self.country[idx],
            owner=self.owner[idx],
            name_stem=self.name_stem[idx],
            name_noun=self.name_noun[idx],
        )
        self.status[idx] = PROSPECT
        path = rng.random(len(idx))
        trial = path < P_SIGNUP_TRIAL
        direct = (path >= P_SIGNUP_TRIAL) & (path < P_SIGNUP_TRIAL + P_SIGNUP_PAID)
        self._begin(
            sub,
            idx[trial],
            m,
            self.created_day[idx][trial],
            self.created_second[idx][trial] + 300,
            trial=True,
        )
        self._begin(
            sub,
            idx[direct],
            m,
            self.created_day[idx][direct],
            self.created_second[idx][direct] + 300,
            trial=False,
        )
        for chosen in (idx[trial], idx[direct]):
            reports_usage[chosen] = True
            usage_first[chosen] = self.created_day[chosen]
            touched[chosen] = True

        # 6. Older prospects (including lapsed trials) start a trial or a paid subscription.
        p_start = np.where(self.lapsed_trial, P_LAPSED_TRIAL_RETRIES, P_PROSPECT_STARTS)
        starts = (status0 == PROSPECT) & (self._uniform() < p_start)
        as_trial = self._uniform() < 0.55
        for trial_path in (True, False):
            idx = np.flatnonzero(starts & (as_trial == trial_path))
            self._begin(sub, idx, m, start_day[idx], start_second[idx], trial=trial_path)
            reports_usage[idx] = True
            usage_first[idx] = start_day[idx]
            touched[idx] = True

        # 7. Reactivations: a churned customer comes back with a NEW subscription_id.
        idx = np.flatnonzero((status0 == CHURNED) & (self._uniform() < P_REACTIVATES))
        self.seats[idx] = np.maximum(1.0, self.seats[idx] * rng.uniform(0.7, 1.3, len(idx)))
        seats_start[idx] = self.seats[idx]
        self._begin(sub, idx, m, start_day[idx], start_second[idx], trial=False)
        reports_usage[idx] = True
        usage_first[idx] = start_day[idx]
        touched[idx] = True

        anchor_day = self._anchor_day(m)
        seats_start = np.where(touched & ~live_at_start, self.seats, seats_start)

        # 8. Usage levels for the month: a trend, growth spurts, and collapses ahead of churn.
        eligible = (self.status == ACTIVE) & ~touched & (self.pending == 0) & ~self.dunning
        at_risk_before = self.at_risk_month == m - 1
        churn_intent = at_risk_before & (self._uniform() < P_AT_RISK_CHURNS)
        new_risk = eligible & ~at_risk_before & (self._uniform() < P_AT_RISK[self.segment])
        self.at_risk_month[new_risk] = m
        spurt_starts = (
            (self.status == ACTIVE) & (self.growth_left == 0) & ~new_risk & (self._uniform() < P_GROWTH_SPURT)
        )
        self.growth_left[spurt_starts] = rng.integers(2, 5, size=int(spurt_starts.sum()))
        spurting = (self.growth_left > 0) & ~new_risk
        seat_growth = np.exp(rng.normal(0.01, 0.05, n))
        api_growth = np.exp(rng.normal(0.01, 0.04, n))
        seat_growth = np.where(spurting, rng.uniform(1.12, 1.3, n), seat_growth)
        api_growth = np.where(spurting, rng.uniform(1.55, 1.9, n), api_growth)
        recovering = at_risk_before & ~churn_intent
        seat_growth = np.where(recovering, rng.uniform(1.5, 2.2, n), seat_growth)
        api_growth = np.where(recovering, rng.uniform(1.5, 2.2, n), api_growth)
        declining = churn_intent | (self.pending == 1)
        seat_growth = np.where(declining, rng.uniform(0.75, 0.95, n), seat_growth)
        api_growth = np.where(declining, rng.uniform(0.75, 0.95, n), api_growth)
        seat_growth = np.where(new_risk, rng.uniform(0.22, 0.4, n), seat_growth)
        api_growth = np.where(new_risk, rng.uniform(0.25, 0.45, n), api_growth)
        self.growth_left[spurting] -= 1
        seats_end = np.clip(seats_start * seat_growth, 0.6, 0.97 * SEAT_LIMIT[TOP_TIER])
        intensity_start = self.intensity.copy()
        intensity_end = np.clip(intensity_start * api_growth, 1.0, 5000.0)
        # Seats a trial may use are the plan's; a paid subscription's are its quantity.
        was_trial = (self.status == TRIALING) | ((status0 == TRIALING) & (self.status != ACTIVE))
        seat_cap = np.where(was_trial, SEAT_LIMIT[self.tier], self.quantity)

        # 9. Billing: an invoice on each renewal, a payment attempt, retries, dunning, goodwill refunds.
        invoiced = (self.status == ACTIVE) & (self.next_invoice == m)
        idx = np.flatnonzero(invoiced)
        k = len(idx)
        invoice_ids = self.invoice_counter + np.arange(k, dtype=np.int64)
        self.invoice_counter += k
        amount = (
            self.unit_price[idx] * self.quantity[idx] * (100 - self.discount[idx].astype(np.int64)) + 50
        ) // 100
        end_month = m + self.interval[idx].astype(np.int64)
        period_start = self.day0[m] + anchor_day[idx] - 1
        period_end = self.day0[end_month] + np.minimum(self.anchor[idx], self.dim[end_month]) - 2
        invoice_at = self._instant(m, anchor_day[idx], self.bill_second[idx])
        seq, currency = self.seq[idx], self.currency[idx]
        bill.add(
            INVOICE_ISSUED,
            idx,
            invoice_at,
            seq=seq,
            invoice=invoice_ids,
            amount=amount,
            currency=currency,
            period_start=period_start,
            period_end=period_end,
        )
        attempt_at = invoice_at + rng.integers(30, 900, size=k)
        fails = rng.random(k) < P_PAYMENT_FAILS[self.segment[idx]]
        recovers = fails & (rng.random(k) < P_FAILED_PAYMENT_RECOVERS)
        ok = ~fails
        bill.add(
            PAYMENT_SUCCEEDED,
            idx[ok],
            attempt_at[ok],
            seq=seq[ok],
            invoice=invoice_ids[ok],
            amount=amount[ok],
            currency=currency[ok],
        )
        bill.add(
            PAYMENT_FAILED,
            idx[fails],
            attempt_at[fails],
            seq=seq[fails],
            invoice=invoice_ids[fails],
            amount=amount[fails],
            currency=currency[fails],
        )
        retry_day = np.minimum(anchor_day[idx] + 3, dim)
        retry_second = np.where(
            retry_day == anchor_day[idx],
            self.bill_second[idx] + 4 * HOUR,
            rng.integers(0, LATEST_ACTION_SECOND, size=k),
        )
        retry_at = self._instant(m, retry_day, retry_second)
        bill.add(
            PAYMENT_SUCCEEDED,
            idx[recovers],
            retry_at[recovers],
            seq=seq[recovers],
            invoice=invoice_ids[recovers],
            amount=amount[recovers],
            currency=currency[recovers],
        )
        self.dunning[idx[fails & ~recovers]] = True
        failed_this_month = np.zeros(n, dtype=bool)
        failed_this_month[idx[fails]] = True
        refund = ok & (rng.random(k) < P_REFUND_GOODWILL) & (amount > 0)
        refund_day = np.minimum(anchor_day[idx] + rng.integers(1, 8, size=k), dim)
        refund_second = np.where(
            refund_day == anchor_day[idx],
            self.bill_second[idx] + 2 * HOUR,
            rng.integers(0, LATEST_ACTION_SECOND, size=k),
        )
        refund_amount = np.maximum(1, np.round(amount * rng.uniform(0.1, 0.5, k))).astype(np.int64)
        bill.add(
            REFUND_ISSUED,
            idx[refund],
            self._instant(m, refund_day, refund_second)[refund],
            seq=seq[refund],
            invoice=invoice_ids[refund],
            amount=refund_amount[refund],
            currency=currency[refund],
        )
        self.next_invoice[idx] += self.interval[idx]
        self.last_invoice[idx] = invoice_ids
        self.last_invoice_amount[idx] = amount

        # 10. At most one lifecycle action per paying account, after this month's invoice if any.
        self._lifecycle_actions(
            m,
            sub,
            bill,
            eligible & ~failed_this_month,
            invoiced,
            churn_intent,
            recovering,
            seats_end,
            intensity_end,
            usage_last,
        )

        # Remember what usage(m) needs, then move the usage levels forward.
        self._usage_state = dict(
            reports=reports_usage & (usage_first <= usage_last),
            first=usage_first,
            last=usage_last,
            collapsing=new_risk,
            seats_start=seats_start,
            seats_end=seats_end,
            intensity_start=intensity_start,
            intensity_end=intensity_end,
            seat_cap=np.maximum(seat_cap, 1),
        )
        moved = reports_usage
        self.seats[moved] = seats_end[moved]
        self.intensity[moved] = intensity_end[moved]
        return sub.frame(), bill.frame()

    def _begin(
        self, sub: _EventBuffer, idx: np.ndarray, m: int, day: np.ndarray, second: np.ndarray, trial: bool
    ) -> None:
        """Start a trial or a paid subscription (a new subscription_id) for accounts idx at (m, day, second)."""
        self.seq[idx] += 1
        at = self._instant(m, day, second)
        if trial:
            self.tier[idx] = self._fitting_tier(
                np.ceil(self.seats[idx]), self.seats[idx], self.intensity[idx]
            )
            self._emit_start(sub, TRIAL_STARTED, idx, at)
            self.status[idx] = TRIALING
            self.anchor[idx] = day  # the trial ends on the same day next month
            self.bill_second[idx] = second + 600
            return
        self._start_terms(idx)
        self._emit_start(sub, SUB_STARTED, idx, at)
        self._begin_paid_period(idx, m, day, second)

    def _begin_paid_period(self, idx: np.ndarray, m: int, day: np.ndarray, second: np.ndarray) -> None:
        self.status[idx] = ACTIVE
        self.ever_paid[idx] = True
        self.lapsed_trial[idx] = False
        self.anchor[idx] = day
        self.bill_second[idx] = second + 120
        self.next_invoice[idx] = m

    def _lifecycle_actions(
        self, m, sub, bill, eligible, invoiced, churn_intent, recovering, seats_end, intensity_end, usage_last
    ) -> None:
        rng, n, dim = self.rng, self.n, int(self.dim[m])
        anchor_day = self._anchor_day(m)
        # Accounts invoiced this month act after the invoice (billing day or later); others any day.
        first = np.where(invoiced, anchor_day, 1)
        day = first + (self._uniform() * (dim - first + 1)).astype(np.int64)
        same_day = invoiced & (day == anchor_day)
        earliest = np.where(same_day, self.bill_second + HOUR, 0)
        second = earliest + (self._uniform() * (LATEST_ACTION_SECOND - earliest)).astype(np.int64)
        when = self._instant(m, day, second)
        free = eligible.copy()

        def pick(condition: np.ndarray, probability) -> np.ndarray:
            chosen = free & condition & (self._uniform() < probability)
            free[chosen] = False
            return chosen

        tier, quantity = self.tier, self.quantity
        api_month = np.minimum(seats_end, quantity) * intensity_end * 26
        api_limit = np.where(API_LIMIT[tier] < 0, UNLIMITED_API, API_LIMIT[tier])
        one = np.ones(n, dtype=bool)

        # Churn: most after a usage collapse last month, a few out of the blue. Monthly plans often
        # cancel at once; longer terms almost always at the end of the paid period.
        churn = pick(churn_intent, 1.0) | pick(one, P_SILENT_CHURN[self.segment])
        scheduled = churn & (self._uniform() < np.where(self.interval == 1, 0.5, 0.85))
        idx = np.flatnonzero(churn & ~scheduled)
        sub.add(SUB_CANCELED, idx, when[idx], seq=self.seq[idx])
        self.status[idx] = CHURNED
        usage_last[idx] = day[idx] - 1
        refund = idx[
            self._uniform()[idx] < np.where(invoiced[idx], 0.5, np.where(self.interval[idx] > 1, 0.3, 0.0))
        ]
        refund_amount = np.maximum(
            1, np.round(self.last_invoice_amount[refund] * rng.uniform(0.2, 0.9, len(refund)))
        )
        bill.add(
            REFUND_ISSUED,
            refund,
            when[refund] + 600,
            seq=self.seq[refund],
            invoice=self.last_invoice[refund],
            amount=refund_amount.astype(np.int64),
            currency=self.currency[refund],
        )
        idx = np.flatnonzero(scheduled)
        sub.add(SUB_CANCELED, idx, when[idx], effective=self._renewal_instant(idx), seq=self.seq[idx])
        self.pending[idx] = 1
        self.pending_month[idx] = self.next_invoice[idx]

        # Seat growth: more seats, or the next tier when the seat limit is in the way. Buying seats is
        # quick; moving up a tier takes longer, so some accounts sit at their plan's seat limit a while.
        wanted = np.minimum(np.ceil(seats_end * rng.uniform(1.15, 1.4, n)), SEAT_LIMIT[TOP_TIER]).astype(
            np.int32
        )
        new_tier = np.maximum(tier, self._fitting_tier(wanted, seats_end, intensity_end))
        idx = np.flatnonzero(
            pick((seats_end > 0.9 * quantity) & (wanted > quantity), np.where(new_tier > tier, 0.15, 0.6))
        )
        self._change_now(sub, idx, when[idx], new_tier[idx], wanted[idx], new_tier[idx] != tier[idx])

        # API usage at the plan's limit: the next tier, after a month or two over 80%.
        idx = np.flatnonzero(pick((api_month > 0.95 * api_limit) & (tier < TOP_TIER), 0.3))
        self._change_now(
            sub,
            idx,
            when[idx],
            (tier[idx] + 1).astype(np.int8),
            quantity[idx],
            np.ones(len(idx), dtype=bool),
            send_quantity=False,
        )

        # Unused seats: fewer seats, sometimes with a lower tier; mostly at the end of the paid period.
        idx = np.flatnonzero(pick((seats_end < 0.65 * quantity) & (quantity > 1), 0.3))
        new_quantity = np.maximum(1, np.ceil(seats_end[idx] * 1.2)).astype(np.int32)
        lower = self._fitting_tier(new_quantity, seats_end[idx], intensity_end[idx])
        new_tier = np.where(
            (lower < tier[idx]) & (rng.random(len(idx)) < 0.4), tier[idx] - 1, tier[idx]
        ).astype(np.int8)
        now = rng.random(len(idx)) < 0.3
        self._change_now(
            sub, idx[now], when[idx[now]], new_tier[now], new_quantity[now], new_tier[now] != tier[idx[now]]
        )
        self._change_later(
            sub,
            idx[~now],
            when[idx[~now]],
            new_tier[~now],
            new_quantity[~now],
            self.interval[idx[~now]],
            self.discount[idx[~now]],
        )

        # Plan downgrade at renewal when a cheaper tier would do.
        fits_lower = (tier > 0) & (self._fitting_tier(quantity, seats_end, intensity_end) < tier)
        idx = np.flatnonzero(pick(fits_lower, 0.02))
        self._change_later(
            sub,
            idx,
            when[idx],
            (tier[idx] - 1).astype(np.int8),
            quantity[idx],
            self.interval[idx],
            self.discount[idx],
        )

        # Monthly customers commit to a year (15% off) from their next renewal.
        idx = np.flatnonzero(pick(self.interval == 1, 0.012))
        self._change_later(
            sub,
            idx,
            when[idx],
            tier[idx],
            quantity[idx],
            np.full(len(idx), 12, np.int8),
            np.maximum(self.discount[idx], 15).astype(np.int8),
        )

        # Discounts: a retention offer after a usage scare, an expiring promotion, a rare new one.
        idx = np.flatnonzero(pick(recovering & (self.discount == 0), 0.4))
        self._discount_now(sub, idx, when[idx], 20)
        idx = np.flatnonzero(pick((self.discount > 0) & (self.interval == 1), 0.03))
        self._discount_now(sub, idx, when[idx], 0)
        idx = np.flatnonzero(pick(self.discount == 0, 0.003))
        self._discount_now(sub, idx, when[idx], 10)

        # Pauses (monthly plans): resumed or canceled 1-3 months later.
        idx = np.flatnonzero(pick(self.interval == 1, np.where(recovering, P_PAUSE_AT_RISK, P_PAUSE)))
        sub.add(SUB_PAUSED, idx, when[idx], seq=self.seq[idx])
        self.status[idx] = PAUSED
        self.pause_until[idx] = m + rng.integers(1, 4, size=len(idx))
        usage_last[idx] = day[idx] - 1

    def _change_now(self, sub, idx, when, new_tier, new_quantity, send_plan, send_quantity=True) -> None:
        """Immediate subscription_changed: only the fields that change are sent."""
        new_price = PRICE_BOOK[self.currency[idx], new_tier] * self.interval[idx]
        quantity_changes = send_quantity & (new_quantity != self.quantity[idx])
        sub.add(
            SUB_CHANGED,
            idx,
            when,
            seq=self.seq[idx],
            tier=np.where(send_plan, new_tier, -1),
            unit_price=np.where(send_plan, new_price, -1),
            quantity=np.where(quantity_changes, new_quantity, -1),
        )
        self.tier[idx] = new_tier
        self.quantity[idx] = new_quantity
        self.unit_price[idx] = new_price

    def _change_later(self, sub, idx, when, new_tier, new_quantity, new_interval, new_discount) -> None:
        """subscription_changed sent now, effective at the end of the paid period (effective_at)."""
        new_price = PRICE_BOOK[self.currency[idx], new_tier] * new_interval
        changes_plan = new_tier != self.tier[idx]
        changes_price = new_price != self.unit_price[idx]
        changes_interval = new_interval != self.interval[idx]
        sub.add(
            SUB_CHANGED,
            idx,
            when,
            effective=self._renewal_instant(idx),
            seq=self.seq[idx],
            tier=np.where(changes_plan, new_tier, -1),
            unit_price=np.where(changes_price, new_price, -1),
            quantity=np.where(new_quantity != self.quantity[idx], new_quantity, -1),
            interval=np.where(changes_interval, new_interval, -1),
            discount=np.where(new_discount != self.discount[idx], new_discount, -1),
        )
        self.pending[idx] = 2
        self.pending_month[idx] = self.next_invoice[idx]
        self.pending_tier[idx] = new_tier
        self.pending_quantity[idx] = new_quantity
        self.pending_interval[idx] = new_interval
        self.pending_discount[idx] = new_discount

    def _discount_now(self, sub, idx, when, discount: int) -> None:
        sub.add(SUB_CHANGED, idx, when, seq=self.seq[idx], discount=np.full(len(idx), discount, np.int8))
        self.discount[idx] = discount

    # ------------------------------------------------------------------------------------------ usage

    def usage(self, m: int):
        """Yield month m's usage events in chunks: one per day, or one per week-of-month bucket."""
        state = self._usage_state
        rng = self.usage_rng
        dim = int(self.dim[m])
        weekday = (self.day0[m] + np.arange(dim) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        weekend_before = np.concatenate([[0], np.cumsum(weekday >= 5)])  # weekend days among days 1..k
        if self.granularity == "day":
            periods = [(d, d) for d in range(1, dim + 1)]
        else:
            # Monday-to-Sunday weeks, cut at the month's end so a week never spans two months (a week
            # straddling a month boundary reports twice, once per part).
            week_ends = [int(d) + 1 for d in np.flatnonzero(weekday == 6)]
            if not week_ends or week_ends[-1] != dim:
                week_ends.append(dim)
            periods = list(zip([1, *(end + 1 for end in week_ends[:-1])], week_ends, strict=True))
        reporting = np.flatnonzero(state["reports"])
        first_all, last_all = state["first"][reporting], state["last"][reporting]
        for period_first, period_last in periods:
            inside = (first_all <= period_last) & (last_all >= period_first)
            idx = reporting[inside]
            k = len(idx)
            if k == 0:
                continue
            first = np.maximum(first_all[inside], period_first)
            last = np.minimum(last_all[inside], period_last)
            days = last - first + 1
            weekend = weekend_before[last] - weekend_before[first - 1]
            t = ((first + last) / 2 - 0.5) / dim
            # A collapse ahead of churn happens in the first third of the month, so the last 30 days
            # show it clearly (docs/sales.md: usage down >= 50%).
            t = np.where(state["collapsing"][idx], np.minimum(1.0, 3 * t), t)
            seats = state["seats_start"][idx] + (state["seats_end"][idx] - state["seats_start"][idx]) * t
            intensity = (
                state["intensity_start"][idx]
                + (state["intensity_end"][idx] - state["intensity_start"][idx]) * t
            )
            cap = state["seat_cap"][idx]
            seat_factor = (days - weekend + SEAT_WEEKEND_FACTOR * weekend) / days
            active = seats * seat_factor * np.exp(rng.normal(0.0, 0.04, k))
            # Active seats stay within the licensed quantity, apart from the odd day one over.
            over_by_one = rng.random(k) < 0.01
            active_hundredths = np.minimum(np.round(active * 100), cap * 100 + over_by_one * 100)
            if self.granularity == "day":
                active_hundredths = np.round(active_hundredths / 100) * 100
            calls = (
                np.minimum(seats, cap)
                * intensity
                * (days - weekend + API_WEEKEND_FACTOR * weekend)
                * rng.gamma(25.0, 1 / 25.0, k)
            )
            # Rows in file order: by day, then account, then metric (active_seats, api_calls).
            order = np.argsort(last, kind="stable")
            quantity = np.column_stack([active_hundredths[order], np.round(calls[order]) * 100])
            yield pl.DataFrame(
                {
                    "account": np.repeat(idx[order], 2).astype(np.int64),
                    "day": np.repeat(self.day0[m] + last[order] - 1, 2).astype(np.int64),
                    "metric": np.tile(np.arange(2, dtype=np.int8), k),
                    "quantity": quantity.ravel().astype(np.int64),
                }
            )


# ---------------------------------------------------------------------------------------------- output


def _string_field(name: str, value: pl.Expr) -> pl.Expr:
    return pl.lit(f'"{name}":"') + value + pl.lit('"')


def _raw_field(name: str, value: pl.Expr) -> pl.Expr:
    return pl.lit(f'"{name}":') + value


def _padded(number: pl.Expr, width: int) -> pl.Expr:
    """Zero-padded decimal text of a non-negative number (pad_start is faster than zfill)."""
    return number.cast(pl.String).str.pad_start(width, "0")


def _money_text(cents: pl.Expr) -> pl.Expr:
    return (cents // 100).cast(pl.String) + pl.lit(".") + _padded(cents % 100, 2)


def _money_field(name: str, cents: pl.Expr, as_number: pl.Expr) -> pl.Expr:
    # docs/input-format.md accepts a JSON number or a numeric string: deliver both.
    text = _money_text(cents)
    return pl.lit(f'"{name}":') + pl.when(as_number).then(text).otherwise(pl.lit('"') + text + pl.lit('"'))


def _lookup(codes: pl.Expr, values) -> pl.Expr:
    """values[code], null where the code is null."""
    return pl.lit(pl.Series(list(values))).gather(codes)


def _timestamp(seconds: pl.Expr, offset: pl.Expr) -> pl.Expr:
    local = seconds + _lookup(offset, OFFSET_SECONDS)
    return pl.from_epoch(local, time_unit="s").dt.to_string("%Y-%m-%dT%H:%M:%S") + _lookup(
        offset, OFFSET_SUFFIX
    )


def _subscription_id(account: pl.Expr, seq: pl.Expr) -> pl.Expr:
    return pl.lit("sub_") + _padded(account + 1, 7) + pl.lit("_") + _padded(seq, 2)


class _Writer:
    """Renders event frames to JSON lines and writes one file per stream per UTC day.

    Files are compressed and written on a background thread while the next batch is rendered; at
    most one batch waits, so memory stays bounded.
    """

    def __init__(self, out: Path, gzip: bool, rngs: dict[str, Generator], accounts: int):
        self.out = out
        self.gzip = gzip
        self.rngs = rngs  # one per stream, so usage granularity leaves the other streams' bytes alone
        self.events = {stream: 0 for stream in STREAMS}
        self.files = 0
        self.account_ids = pl.lit("acc_") + _padded(pl.int_range(1, accounts + 1, dtype=pl.Int64), 7)
        self.account_ids = pl.select(self.account_ids.alias("id"))["id"]
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="landing-writer")
        self._pending: Future | None = None

    def close(self) -> None:
        self._wait()
        self._io.shutdown()

    def _wait(self) -> None:
        if self._pending is not None:
            self._pending.result()  # re-raises a failed write
            self._pending = None

    def write_events(self, stream: str, frame: pl.DataFrame) -> None:
        k = frame.height
        if k == 0:
            return
        if stream != "usage_events":  # usage arrives in file order already
            frame = frame.sort(["second", "event_type", "account"]).with_columns(day=pl.col("second") // DAY)
        # Rendering choices (offset style, money as number or string) come from their own stream.
        rng = self.rngs[stream]
        offset = rng.choice(len(OFFSET_SUFFIX), size=k, p=OFFSET_SHARE).astype(np.int8)
        as_number = rng.random(k) < 0.3
        first_id = self.events[stream]
        frame = frame.with_columns(
            event_number=pl.Series(np.arange(first_id + 1, first_id + k + 1, dtype=np.int64)),
            offset=pl.Series(offset),
            as_number=pl.Series(as_number),
        )
        # Absent (null) fields are left out, separator included; usage has none, and skipping the
        # null handling there is measurably faster.
        usage = stream == "usage_events"
        fields = self._usage_fields(frame) if usage else self._fields(stream)
        body = pl.concat_str(fields, separator=",", ignore_nulls=not usage)
        lines = frame.select("day", line=pl.concat_str([pl.lit("{"), body, pl.lit("}")]))
        self.events[stream] += k
        self._write_days(stream, lines)

    def _common(self, stream: str, event_type: pl.Expr, occurred_at: pl.Expr) -> list[pl.Expr]:
        return [
            _string_field("event_id", pl.lit(EVENT_ID_PREFIX[stream]) + _padded(pl.col("event_number"), 10)),
            _string_field("event_type", event_type),
            _string_field("occurred_at", occurred_at),
        ]

    def _usage_fields(self, frame: pl.DataFrame) -> list[pl.Expr]:
        # Usage is most of the volume and every event sits at 00:00 UTC of its day: format the few
        # (day, offset) pairs once and pick them by index.
        c = pl.col
        first_day, last_day = frame["day"].min(), frame["day"].max()
        table = [
            str(np.datetime64((day * DAY + OFFSET_SECONDS[o]), "s")) + OFFSET_SUFFIX[o]
            for day in range(first_day, last_day + 1)
            for o in range(len(OFFSET_SUFFIX))
        ]
        occurred_at = pl.lit(pl.Series(table, dtype=pl.String)).gather(
            (c("day") - first_day) * len(OFFSET_SUFFIX) + c("offset").cast(pl.Int64)
        )
        quantity = c("quantity")
        text = (
            pl.when(quantity % 100 == 0)
            .then((quantity // 100).cast(pl.String))
            .otherwise(_money_text(quantity))
        )
        return [
            *self._common("usage_events", pl.lit("usage"), occurred_at),
            _string_field("account_id", pl.lit(self.account_ids).gather(c("account"))),
            _string_field("metric", _lookup(c("metric"), USAGE_METRICS)),
            _raw_field("quantity", text),
        ]

    def _fields(self, stream: str) -> list[pl.Expr]:
        c = pl.col
        names = SUBSCRIPTION_EVENT_TYPES if stream == "subscription_events" else BILLING_EVENT_TYPES
        common = self._common(stream, _lookup(c("event_type"), names), _timestamp(c("second"), c("offset")))
        account = _string_field("account_id", pl.lit(self.account_ids).gather(c("account")))
        subscription = _string_field("subscription_id", _subscription_id(c("account"), c("seq")))
        currency = _string_field("currency", _lookup(c("currency"), CURRENCIES))
        if stream == "billing_events":

            def date(col: str) -> pl.Expr:
                return c(col).cast(pl.Int32).cast(pl.Date).dt.to_string("%Y-%m-%d")

            return [
                *common,
                account,
                _string_field("invoice_id", pl.lit("inv_") + _padded(c("invoice") + 1, 10)),
                subscription,
                _money_field("amount", c("amount"), c("as_number")),
                currency,
                _string_field("period_start", date("period_start")),
                _string_field("period_end", date("period_end")),
            ]
        noun = _lookup(c("name_noun"), NAME_NOUNS)
        legal_form = _lookup(c("country"), [country[3] for country in COUNTRIES])
        name = pl.concat_str(
            [_lookup(c("name_stem"), NAME_STEMS), noun, legal_form], separator=" ", ignore_nulls=True
        )
        effective = pl.from_epoch(c("effective"), time_unit="s").dt.to_string("%Y-%m-%dT%H:%M:%SZ")
        interval = c("interval").replace_strict(INTERVAL_NAMES, default=None, return_dtype=pl.String)
        return [
            *common,
            _string_field("effective_at", effective),
            account,
            _string_field("account_name", pl.when(c("event_type") == ACCOUNT_CREATED).then(name)),
            _string_field("segment", _lookup(c("segment"), SEGMENTS)),
            _string_field("country", _lookup(c("country"), [country[0] for country in COUNTRIES])),
            _string_field("sales_owner", _lookup(c("owner"), SALES_OWNERS)),
            subscription,
            _string_field("plan_id", _lookup(c("tier"), PLAN_IDS)),
            _string_field("billing_interval", interval),
            _raw_field("quantity", c("quantity").cast(pl.String)),
            _money_field("unit_price", c("unit_price"), c("as_number")),
            currency,
            _raw_field("discount_pct", c("discount").cast(pl.String)),
        ]

    def _write_days(self, stream: str, lines: pl.DataFrame) -> None:
        # One native CSV write of the whole batch (lines are sorted by day, so each day is a
        # contiguous byte range), then one file per day cut out of the buffer.
        buffer = io.BytesIO()
        lines.select("line").write_csv(buffer, include_header=False, quote_style="never")
        data = buffer.getvalue()
        line_end = np.cumsum(lines["line"].str.len_bytes().to_numpy().astype(np.int64) + 1)
        days = lines["day"].to_numpy()
        last_rows = np.append(np.flatnonzero(days[1:] != days[:-1]), len(days) - 1)
        if line_end[-1] != len(data):
            raise RuntimeError("rendered lines and written bytes disagree")
        suffix = ".jsonl.gz" if self.gzip else ".jsonl"
        files, start = [], 0
        for last_row in last_rows:
            end = int(line_end[last_row])
            path = self.out / stream / (str(np.datetime64(int(days[last_row]), "D")) + suffix)
            files.append((path, start, end))
            start = end
        self.files += len(files)
        self._wait()
        self._pending = self._io.submit(_write_files, data, files, self.gzip)


def _write_files(data: bytes, files: list[tuple[Path, int, int]], gzip: bool) -> None:
    view = memoryview(data)
    for path, start, end in files:
        if path.exists():  # each UTC day is rendered once per stream; guard the invariant
            raise RuntimeError(f"{path} written twice")
        chunk = view[start:end]
        # mtime=0 keeps gzip files byte-identical from run to run.
        path.write_bytes(gzip_format.compress(chunk, compresslevel=6, mtime=0) if gzip else chunk)


if __name__ == "__main__":
    sys.exit(main())
