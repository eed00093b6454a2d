"""The sample-data generator writes clean, consistent, deterministic landing folders (docs/input-format.md)."""

from __future__ import annotations

import csv
import gzip
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from sample_data.generator import MARKER_FILE, GeneratorError, generate, main

STREAMS = ("subscription_events", "billing_events", "usage_events")
SPEC_EVENT_TYPES = {
    "subscription_events": {
        "account_created",
        "trial_started",
        "subscription_started",
        "subscription_changed",
        "subscription_paused",
        "subscription_resumed",
        "subscription_canceled",
    },
    "billing_events": {"invoice_issued", "payment_succeeded", "payment_failed", "refund_issued"},
    "usage_events": {"usage"},
}
TERMS = ("subscription_id", "plan_id", "billing_interval", "quantity", "unit_price", "currency")
REQUIRED = {
    "account_created": ("account_name", "segment", "country"),
    "trial_started": ("subscription_id", "plan_id"),
    "subscription_started": TERMS,
    "subscription_changed": ("subscription_id",),
    "subscription_paused": ("subscription_id",),
    "subscription_resumed": ("subscription_id",),
    "subscription_canceled": ("subscription_id",),
    "invoice_issued": ("invoice_id", "subscription_id", "amount", "currency", "period_start", "period_end"),
    "payment_succeeded": ("invoice_id", "subscription_id", "amount", "currency"),
    "payment_failed": ("invoice_id", "subscription_id", "amount", "currency"),
    "refund_issued": ("invoice_id", "subscription_id", "amount", "currency"),
    "usage": ("metric", "quantity"),
}
ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")
FILE_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}\.jsonl(\.gz)?$")

# 120 accounts over 14 months is the smallest run in which every event type shows up for any seed
# tried (pauses and resumes are the rare ones); it takes about a second.
ACCOUNTS, MONTHS, SEED = 120, 14, 3


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("landing")
    summary = generate(
        out, accounts=ACCOUNTS, months=MONTHS, seed=SEED, start_month="2024-11", progress=False
    )
    return out, summary


@pytest.fixture(scope="module")
def events(landing) -> dict[str, list[dict]]:
    return {stream: [e for _, _, e in read_stream(landing[0], stream)] for stream in STREAMS}


@pytest.fixture(scope="module", params=["daily", "weekly_larger"])
def any_events(request, events, tmp_path_factory) -> dict[str, list[dict]]:
    """The small daily run, and a larger weekly one where rare paths (pauses, dunning) occur more often."""
    if request.param == "daily":
        return events
    out = tmp_path_factory.mktemp("weekly_larger")
    generate(out, accounts=400, months=18, seed=11, usage_granularity="week", progress=False)
    return {stream: [e for _, _, e in read_stream(out, stream)] for stream in STREAMS}


def read_stream(root: Path, stream: str):
    """(file, raw line, event) for every line of a stream, events parsed with exact decimals."""
    for path in sorted((root / stream).iterdir()):
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            for raw in handle:
                yield path, raw, json.loads(raw, parse_float=Decimal)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------------------------- layout


def test_summary_matches_what_is_on_disk(landing):
    root, summary = landing
    assert summary["accounts"] == ACCOUNTS and summary["months"] == MONTHS
    assert summary["seconds"] >= 0
    event_files = [p for s in STREAMS for p in (root / s).iterdir()]
    assert summary["files"] == len(event_files) + 2  # plus plans.csv and fx_rates.csv
    for stream in STREAMS:
        lines = sum(1 for _ in read_stream(root, stream))
        assert summary["events"][stream] == lines > 0


def test_one_file_per_stream_per_utc_day_holding_that_days_events(landing):
    root, _ = landing
    for stream in STREAMS:
        names = sorted(p.name for p in (root / stream).iterdir())
        assert names and all(FILE_NAME.match(n) for n in names), names[:5]
        assert names[0][:10] >= "2024-11-01" and names[-1][:10] <= "2025-12-31"
        for path, raw, event in read_stream(root, stream):
            assert ISO_WITH_OFFSET.match(event["occurred_at"]), raw
            assert instant(event["occurred_at"]).date().isoformat() == path.name[:10], (path.name, raw)


def test_occurred_at_mostly_utc_with_a_few_local_offsets(events):
    suffixes = Counter(e["occurred_at"][19:] for stream in STREAMS for e in events[stream])
    total = sum(suffixes.values())
    assert (suffixes["Z"] + suffixes["+00:00"]) / total > 0.9
    assert suffixes["+00:00"] > 0
    assert any(s not in ("Z", "+00:00") for s in suffixes)


def test_every_spec_event_type_present_in_each_stream(events):
    for stream, expected in SPEC_EVENT_TYPES.items():
        seen = Counter(e["event_type"] for e in events[stream])
        assert set(seen) == expected, (stream, seen)


def test_event_ids_unique_across_all_streams(any_events):
    ids = [e["event_id"] for stream in STREAMS for e in any_events[stream]]
    assert all(isinstance(i, str) and i for i in ids)
    assert len(ids) == len(set(ids))


def test_required_fields_present(any_events):
    for stream in STREAMS:
        for event in any_events[stream]:
            for field in (
                "event_id",
                "event_type",
                "occurred_at",
                "account_id",
                *REQUIRED[event["event_type"]],
            ):
                assert event.get(field) not in (None, ""), (field, event)


def test_fields_have_spec_types_and_values(any_events):
    for event in any_events["subscription_events"]:
        if event["event_type"] == "account_created":
            assert event["segment"] in {"SMB", "Mid-Market", "Enterprise"}
            assert re.fullmatch(r"[A-Z]{2}", event["country"])
        if "billing_interval" in event:
            assert event["billing_interval"] in {"month", "quarter", "year"}
        if "quantity" in event:
            assert isinstance(event["quantity"], int) and event["quantity"] >= 1
        if "discount_pct" in event:
            assert 0 <= event["discount_pct"] <= 100
        if "currency" in event:
            assert event["currency"] in {"USD", "EUR", "GBP"}
    for event in any_events["billing_events"]:
        if event["event_type"] == "invoice_issued":
            assert date.fromisoformat(event["period_start"]) < date.fromisoformat(event["period_end"])
    for event in any_events["usage_events"]:
        assert event["metric"] in {"active_seats", "api_calls"}
        assert isinstance(event["quantity"], int | Decimal) and event["quantity"] >= 0
    owners = [
        e.get("sales_owner")
        for e in any_events["subscription_events"]
        if e["event_type"] == "account_created"
    ]
    assert None in owners and any(owners), "sales_owner is optional: some accounts have one, some not"


def test_amounts_are_non_negative_decimals_with_at_most_two_places(any_events):
    styles = Counter()
    for stream, field in (("billing_events", "amount"), ("subscription_events", "unit_price")):
        for event in any_events[stream]:
            if field not in event:
                continue
            value = event[field]
            styles[type(value).__name__] += 1
            if isinstance(value, str):
                assert re.fullmatch(r"\d+(\.\d{1,2})?", value), value
                value = Decimal(value)
            assert isinstance(value, Decimal | int), value  # a JSON number, read exactly
            assert value >= 0 and value == value.quantize(Decimal("0.01")), value
    assert styles["str"] > 0 and styles["Decimal"] > 0, f"amounts should mix strings and numbers: {styles}"


def test_each_account_keeps_one_currency_and_eur_gbp_exist(any_events):
    currencies = defaultdict(set)
    for stream in ("subscription_events", "billing_events"):
        for event in any_events[stream]:
            if "currency" in event:
                currencies[event["account_id"]].add(event["currency"])
    assert all(len(c) == 1 for c in currencies.values())
    assert {"USD", "EUR", "GBP"} <= set().union(*currencies.values())


# ---------------------------------------------------------------------------------------- consistency


def subscription_histories(events) -> tuple[dict[str, datetime], dict[str, list[dict]]]:
    created, history = {}, defaultdict(list)
    for event in events["subscription_events"]:
        if event["event_type"] == "account_created":
            assert event["account_id"] not in created, "an account is created once"
            created[event["account_id"]] = instant(event["occurred_at"])
        else:
            history[event["subscription_id"]].append(event)
    for subscription_events in history.values():
        subscription_events.sort(key=lambda e: (instant(e["occurred_at"]), e["event_id"]))
    return created, history


def test_effective_at_never_before_occurred_at_and_used_for_scheduled_changes(any_events):
    scheduled = Counter()
    for event in any_events["subscription_events"]:
        if "effective_at" in event:
            assert ISO_WITH_OFFSET.match(event["effective_at"])
            assert instant(event["effective_at"]) >= instant(event["occurred_at"]), event
            scheduled[event["event_type"]] += 1
    assert scheduled["subscription_canceled"] > 0 and scheduled["subscription_changed"] > 0


def test_subscription_lifecycles_are_consistent(any_events):
    created, history = subscription_histories(any_events)
    outcomes = Counter()
    for subscription_id, lifecycle in history.items():
        account = lifecycle[0]["account_id"]
        assert created[account] < instant(lifecycle[0]["occurred_at"]), "account_created comes first"
        assert all(e["account_id"] == account for e in lifecycle)
        first = lifecycle[0]["event_type"]
        assert first in ("trial_started", "subscription_started"), (subscription_id, first)
        status, ends_at = ("trialing" if first == "trial_started" else "active"), None
        for event in lifecycle[1:]:
            kind, at = event["event_type"], instant(event["occurred_at"])
            assert ends_at is None, f"{subscription_id}: {kind} after the cancellation"
            assert at > instant(lifecycle[0]["occurred_at"]), "nothing before the start"
            if kind == "subscription_started":
                assert status == "trialing", "a start on an existing id only converts a trial"
                status = "active"
                outcomes["trial converted"] += 1
            elif kind == "subscription_changed":
                assert status == "active", (subscription_id, kind, status)
            elif kind == "subscription_paused":
                assert status == "active"
                status = "paused"
            elif kind == "subscription_resumed":
                assert status == "paused", "a resume only follows a pause"
                status = "active"
            elif kind == "subscription_canceled":
                ends_at = instant(event.get("effective_at", event["occurred_at"]))
                outcomes["trial lapsed" if status == "trialing" else "canceled"] += 1
            else:
                raise AssertionError(kind)
    assert outcomes["trial converted"] and outcomes["trial lapsed"] and outcomes["canceled"], outcomes
    subscriptions_per_account = Counter(lifecycle[0]["account_id"] for lifecycle in history.values())
    assert max(subscriptions_per_account.values()) > 1, "some churned accounts come back (reactivation)"


def paid_at(lifecycle: list[dict], at: datetime) -> bool:
    """Is the subscription paid (active, not trialing/paused/canceled) at `at`, in the order docs/input-format.md gives?"""
    in_force = [e for e in lifecycle if instant(e.get("effective_at", e["occurred_at"])) <= at]
    in_force.sort(key=lambda e: (instant(e.get("effective_at", e["occurred_at"])), instant(e["occurred_at"])))
    status = None
    for event in in_force:
        status = {
            "trial_started": "trialing",
            "subscription_started": "active",
            "subscription_paused": "paused",
            "subscription_resumed": "active",
            "subscription_canceled": "canceled",
        }.get(event["event_type"], status)
    return status == "active"


def test_billing_follows_paid_subscriptions(any_events):
    _, history = subscription_histories(any_events)
    invoices, outcomes = {}, Counter()
    billing = sorted(any_events["billing_events"], key=lambda e: (instant(e["occurred_at"]), e["event_id"]))
    for event in billing:
        at, amount = instant(event["occurred_at"]), Decimal(str(event["amount"]))
        lifecycle = history[event["subscription_id"]]
        if event["event_type"] == "invoice_issued":
            assert event["invoice_id"] not in invoices
            assert paid_at(lifecycle, at), f"invoice for an unpaid subscription: {event}"
            invoices[event["invoice_id"]] = {
                "amount": amount,
                "at": at,
                "sub": event["subscription_id"],
                "paid": 0,
            }
            continue
        invoice = invoices[event["invoice_id"]]
        assert invoice["sub"] == event["subscription_id"] and at > invoice["at"]
        if event["event_type"] in ("payment_succeeded", "payment_failed"):
            assert amount == invoice["amount"]
            invoice["paid"] += event["event_type"] == "payment_succeeded"
            outcomes[event["event_type"]] += 1
        else:
            assert invoice["paid"] == 1 and 0 < amount <= invoice["amount"], (event, invoice)
    failed = {e["invoice_id"] for e in billing if e["event_type"] == "payment_failed"}
    recovered = {i for i in failed if invoices[i]["paid"]}
    assert all(i["paid"] <= 1 for i in invoices.values())
    assert recovered and failed - recovered, "some failed payments are retried successfully, some not"


def live_windows(events) -> dict[str, list[tuple[datetime, datetime]]]:
    """Per account, the [from, to) windows in which one of its subscriptions is trialing or active."""
    _, history = subscription_histories(events)
    never = datetime.max.replace(tzinfo=UTC)
    windows = defaultdict(list)
    for lifecycle in history.values():
        account, opened = lifecycle[0]["account_id"], instant(lifecycle[0]["occurred_at"])
        for event in lifecycle[1:]:
            at = instant(event.get("effective_at", event["occurred_at"]))
            if event["event_type"] in ("subscription_paused", "subscription_canceled") and opened:
                windows[account].append((opened, at))
                opened = None
            elif event["event_type"] == "subscription_resumed":
                opened = at
        if opened:
            windows[account].append((opened, never))
    return windows


def test_usage_only_while_a_subscription_is_live(any_events):
    windows = live_windows(any_events)
    for event in any_events["usage_events"]:
        day_start = instant(event["occurred_at"]).replace(hour=0, minute=0, second=0)
        day_end = day_start + timedelta(days=1)
        assert any(start < day_end and end > day_start for start, end in windows[event["account_id"]]), event
    per_metric = Counter(e["metric"] for e in any_events["usage_events"])
    assert per_metric["active_seats"] == per_metric["api_calls"]


# ----------------------------------------------------------------------------------------- reference


def test_plans_csv(landing):
    with (landing[0] / "reference" / "plans.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames == [
        "plan_id",
        "plan_name",
        "tier_rank",
        "seat_limit",
        "api_call_limit",
        "list_price_monthly",
    ]
    assert len(rows) >= 4
    ranks = [int(r["tier_rank"]) for r in rows]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    assert all(int(r["seat_limit"]) > 0 for r in rows), "every tier, the top one too, has a seat limit"
    assert all(Decimal(r["list_price_monthly"]) > 0 for r in rows)
    assert rows[-1]["api_call_limit"] == "" and all(int(r["api_call_limit"]) > 0 for r in rows[:-1])


def test_plan_ids_in_events_exist_in_plans_csv(landing, events):
    with (landing[0] / "reference" / "plans.csv").open(newline="") as handle:
        plan_ids = {r["plan_id"] for r in csv.DictReader(handle)}
    used = {e["plan_id"] for e in events["subscription_events"] if "plan_id" in e}
    assert used and used <= plan_ids


def test_fx_rates_csv_has_eur_and_gbp_for_every_month(landing):
    with (landing[0] / "reference" / "fx_rates.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames == ["month", "currency", "usd_per_unit"]
    months = {r["month"] for r in rows}
    assert len(months) == MONTHS and min(months) == "2024-11" and max(months) == "2025-12"
    for currency in ("EUR", "GBP"):
        rates = [
            Decimal(r["usd_per_unit"])
            for r in sorted(rows, key=lambda r: r["month"])
            if r["currency"] == currency
        ]
        assert len(rates) == MONTHS and all(r > 0 for r in rates)
        assert len(set(rates)) > 1, "rates drift month to month"


# ------------------------------------------------------------------------------ determinism, options


def test_same_arguments_give_byte_identical_files(landing, tmp_path):
    root, _ = landing
    again = tmp_path / "again"
    generate(again, accounts=ACCOUNTS, months=MONTHS, seed=SEED, start_month="2024-11", progress=False)
    assert tree_bytes(again) == tree_bytes(root)


def test_another_seed_gives_other_data(tmp_path):
    for seed in (1, 2):
        generate(tmp_path / str(seed), accounts=15, months=3, seed=seed, progress=False)
    first, second = tree_bytes(tmp_path / "1"), tree_bytes(tmp_path / "2")
    assert first.keys() != second.keys() or first != second
    assert first["reference/fx_rates.csv"] != second["reference/fx_rates.csv"]


def test_gzip_output_is_deterministic_and_matches_plain_text(tmp_path):
    plain, zipped, zipped_again = tmp_path / "plain", tmp_path / "gz", tmp_path / "gz2"
    for out, gz in ((plain, False), (zipped, True), (zipped_again, True)):
        generate(out, accounts=15, months=3, seed=5, gzip=gz, progress=False)
    assert tree_bytes(zipped) == tree_bytes(zipped_again)
    for stream in STREAMS:
        for path in (plain / stream).iterdir():
            assert gzip.decompress((zipped / stream / (path.name + ".gz")).read_bytes()) == path.read_bytes()


def test_weekly_usage_is_smaller_and_leaves_other_streams_untouched(landing, tmp_path):
    root, daily = landing
    weekly_root = tmp_path / "weekly"
    weekly = generate(
        weekly_root,
        accounts=ACCOUNTS,
        months=MONTHS,
        seed=SEED,
        start_month="2024-11",
        usage_granularity="week",
        progress=False,
    )
    assert weekly["events"]["usage_events"] < daily["events"]["usage_events"] / 4
    for stream in ("subscription_events", "billing_events"):
        assert tree_bytes(weekly_root / stream) == tree_bytes(root / stream)
    # One event per metric per account per (Monday-Sunday, month-bounded) week.
    weeks = Counter()
    for _, _, event in read_stream(weekly_root, "usage_events"):
        day = instant(event["occurred_at"]).date()
        weeks[(event["account_id"], event["metric"], day.isocalendar()[:2], day.month)] += 1
    assert max(weeks.values()) == 1


# -------------------------------------------------------------------------------- arguments, folders


@pytest.mark.parametrize(
    "arguments",
    [
        {"accounts": 0},
        {"accounts": -3},
        {"months": 0},
        {"start_month": "2024-13"},
        {"start_month": "24-01"},
        {"start_month": "2024-1"},
        {"usage_granularity": "month"},
        {"seed": -1},
    ],
)
def test_bad_arguments_are_refused_before_writing(tmp_path, arguments):
    out = tmp_path / "out"
    with pytest.raises(GeneratorError):
        generate(out, **{"accounts": 5, "months": 2, "progress": False, **arguments})
    assert not out.exists()


def test_refuses_a_non_empty_folder_it_did_not_write(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(GeneratorError, match="not empty"):
        generate(tmp_path, accounts=5, months=2, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_overwrites_its_own_previous_output_cleanly(tmp_path):
    generate(tmp_path, accounts=20, months=3, seed=1, progress=False)
    assert (tmp_path / MARKER_FILE).is_file()
    generate(tmp_path, accounts=20, months=1, seed=1, start_month="2023-06", gzip=True, progress=False)
    files = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()]
    event_files = [f for f in files if f.split("/")[0] in STREAMS]
    assert event_files and all(f.endswith(".jsonl.gz") and "/2023-06-" in f for f in event_files)


def test_command_line(tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["--accounts", "8", "--months", "2", "--seed", "4", "--out", str(out), "--no-progress"]
    assert main([*argv, "--usage-granularity", "week", "--start-month", "2025-02"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["accounts"] == 8 and set(summary["events"]) == set(STREAMS)
    assert min(p.name for p in (out / "subscription_events").iterdir()).startswith("2025-02")
    with pytest.raises(SystemExit) as exit_info:
        main(["--accounts", "0", "--months", "2", "--out", str(tmp_path / "bad"), "--no-progress"])
    assert exit_info.value.code == 2
