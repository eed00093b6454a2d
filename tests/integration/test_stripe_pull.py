"""The Stripe API pull end to end: into §1 landing files through the real importer, from `subwh import stripe`,
and as the Dagster asset landing/stripe (only there when a key is configured). A local server stands in
for Stripe (tests/support/stripe_server.py); no test reaches the internet."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from orchestration.assets.stripe_api import STRIPE_KEY
from orchestration.cli import main
from orchestration.definitions import build_definitions
from orchestration.settings import Settings
from tests.support.stripe_server import FakeStripe
from tests.unit.test_stripe_api import DAY, KEY, T0, company, upgrade_history
from transforms.stripe import api
from transforms.stripe.api import pull_stripe, read_cursor


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    monkeypatch.setattr(api, "PAGE_SIZE", 2)


@pytest.fixture
def server():
    with FakeStripe(api_key=KEY) as fake:
        company(fake)
        yield fake


def iso(ts: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def landed(landing: Path, stream: str) -> list[dict]:
    return [json.loads(line) for f in sorted((landing / stream).glob("*.jsonl")) for line in f.read_text().splitlines()]


def test_backfill_and_events_land_as_the_subscriptions_history(tmp_path, server):
    pull_stripe(tmp_path, api_key=KEY, api_base=server.url, sleep=lambda _s: None)
    rows = {r["event_id"]: r for r in landed(tmp_path, "subscription_events")}
    trial = [r for r in rows.values() if r.get("subscription_id") == "sub_trial"]
    # sub_trial: a 14-day trial from T0-90d, then 2 seats at 10.00 (the terms before evt_05, which raised it
    # to 5 inside the window: MRR 20.00, then 50.00 from T0-3d), not 5 seats from its start.
    assert [(r["event_type"], r["occurred_at"], r.get("quantity")) for r in trial] == [
        ("trial_started", iso(T0 - 90 * DAY), None),
        ("subscription_started", iso(T0 - 76 * DAY), 2),
        ("subscription_changed", iso(T0 - 3 * DAY), 5),
    ]
    assert rows["evt_backfill_sub_trial_trial_end"]["unit_price"] == "10.00"
    # sub_gone: cancellation asked at T0-70d for the period end T0-60d
    gone = rows["evt_backfill_sub_gone_cancel_requested"]
    assert (gone["event_type"], gone["occurred_at"], gone["effective_at"]) == (
        "subscription_canceled", iso(T0 - 70 * DAY), iso(T0 - 60 * DAY))
    # sub_coupon: full price from T0-100d, 20% off from T0-50d
    assert "discount_pct" not in rows["evt_backfill_sub_coupon"]
    assert rows["evt_backfill_sub_coupon_discount"]["discount_pct"] == "20"
    # one start each for sub_new and sub_edge (their real events), one account each
    assert [r["event_id"] for r in rows.values() if r.get("subscription_id") in ("sub_new", "sub_edge")] == [
        "evt_00", "evt_04"]
    assert sorted(r["event_id"] for r in rows.values() if r["event_type"] == "account_created") == [
        "evt_03", "evt_backfill_cus_old"]
    billing = landed(tmp_path, "billing_events")
    assert sorted((r["invoice_id"], r["event_type"], r["amount"]) for r in billing) == [
        ("in_edge", "invoice_issued", "20.00"), ("in_edge", "payment_succeeded", "20.00"),
        ("in_old", "invoice_issued", "20.00"), ("in_old", "payment_succeeded", "20.00")]
    # a second pull of the same (nothing new) writes nothing
    files = sorted(p.name for p in tmp_path.rglob("*.jsonl"))
    report = pull_stripe(tmp_path, api_key=KEY, api_base=server.url)
    assert report.pull_file is None and sorted(p.name for p in tmp_path.rglob("*.jsonl")) == files


def test_price_changes_from_invoices_land_as_subscription_changes(tmp_path):
    with FakeStripe(api_key=KEY) as server:
        upgrade_history(server)
        pull_stripe(tmp_path, api_key=KEY, api_base=server.url)
    rows = [r for r in landed(tmp_path, "subscription_events") if r.get("subscription_id") == "sub_up"]
    # MRR by hand: 1 x 10.00 = 10.00 from T0-150d; 1 x 30.00 = 30.00 from T0-90d; 3 x 30.00 = 90.00 from
    # T0-60d; 4 x 30.00 = 120.00 from a second before the window (T0-20d).
    # (a change names only the fields that changed: "a field left out keeps its value", docs/input-format.md)
    assert [(r["event_type"], r["occurred_at"], r.get("plan_id"), r.get("quantity"), r.get("unit_price"))
            for r in rows] == [
        ("subscription_started", iso(T0 - 150 * DAY), "price_basic", 1, "10.00"),
        ("subscription_changed", iso(T0 - 90 * DAY), "pro", None, "30.00"),
        ("subscription_changed", iso(T0 - 60 * DAY), None, 3, None),
        ("subscription_changed", iso(T0 - 20 * DAY - 1), None, 4, None),
    ]


# ------------------------------------------------------------------------------------------------ CLI

@pytest.mark.slow
def test_subwh_run_with_a_key_pulls_then_builds_the_mrr_by_hand(tmp_path, monkeypatch, capsys):
    from datetime import date
    from decimal import Decimal

    from transforms.sql_models import connect

    landing = tmp_path / "landing"
    (landing / "reference").mkdir(parents=True)
    (landing / "reference" / "fx_rates.csv").write_text("month,currency,usd_per_unit\n")  # USD only
    with FakeStripe(api_key=KEY) as server:
        upgrade_history(server)
        monkeypatch.setenv("STRIPE_API_KEY", KEY)
        monkeypatch.setenv("SUBWH_STRIPE_API_BASE", server.url)
        code = main(["run", "--landing", str(landing), "--warehouse", str(tmp_path / "w.duckdb")])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert KEY not in out.out + out.err
    con = connect(tmp_path / "w.duckdb", read_only=True)
    # sub_up by hand (tests/unit/test_stripe_api.py upgrade_history), MRR at each month's end:
    # May, June: basic 1 x 10.00 = 10.00; July (pro from 07-11): 1 x 30.00 = 30.00;
    # August (3 seats from 08-10): 3 x 30.00 = 90.00; September (4 seats from 09-19): 4 x 30.00 = 120.00
    assert con.sql("select month, mrr from marts.account_mrr_monthly where account_id = 'cus_up' order by month"
                   ).fetchall() == [(date(2025, 5, 1), Decimal("10.00")), (date(2025, 6, 1), Decimal("10.00")),
                                    (date(2025, 7, 1), Decimal("30.00")), (date(2025, 8, 1), Decimal("90.00")),
                                    (date(2025, 9, 1), Decimal("120.00"))]
    # the waterfall: new 10.00 in May, expansion 20.00, 60.00, 30.00 (30-10, 90-30, 120-90)
    assert con.sql("select month, new_mrr, expansion_mrr from marts.mrr_waterfall order by month").fetchall() == [
        (date(2025, 5, 1), Decimal("10.00"), Decimal("0.00")), (date(2025, 6, 1), Decimal("0.00"), Decimal("0.00")),
        (date(2025, 7, 1), Decimal("0.00"), Decimal("20.00")), (date(2025, 8, 1), Decimal("0.00"), Decimal("60.00")),
        (date(2025, 9, 1), Decimal("0.00"), Decimal("30.00"))]

def test_cli_pulls_and_says_what_it_did(tmp_path, server, monkeypatch, capsys):
    monkeypatch.setenv("MY_STRIPE_KEY", KEY)
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    monkeypatch.setenv("SUBWH_STRIPE_API_BASE", server.url)
    code = main(["import", "stripe", "--landing", str(tmp_path), "--api-key-env", "MY_STRIPE_KEY", "--no-progress"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "pulled 6 events from the Stripe Events API" in out.out
    assert "cursor: evt_05" in out.out and "subscription_events" in out.out
    assert KEY not in out.out + out.err


def test_cli_bad_key_is_one_line_and_non_zero(tmp_path, server, monkeypatch, capsys):
    wrong = "sk_test_51ThisIsNotTheRightKey000000"
    monkeypatch.setenv("STRIPE_API_KEY", wrong)
    monkeypatch.setenv("SUBWH_STRIPE_API_BASE", server.url)
    code = main(["import", "stripe", "--landing", str(tmp_path), "--no-progress"])
    out = capsys.readouterr()
    assert code == 1
    assert out.err.count("\n") == 1 and out.err.startswith("subwh import stripe: Stripe rejected the API key in "
                                                            "$STRIPE_API_KEY (401")
    assert wrong not in out.out + out.err and "Traceback" not in out.err
    assert not (tmp_path / "subscription_events").exists() and read_cursor(tmp_path) == {}


def test_cli_without_a_key_names_the_variable(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    assert main(["import", "stripe", "--landing", str(tmp_path)]) == 2
    assert "no Stripe API key in $STRIPE_API_KEY" in capsys.readouterr().err


def test_cli_network_failure_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(api, "SDK_NETWORK_RETRIES", 0)
    with FakeStripe(api_key=KEY) as closed:
        url = closed.url
    monkeypatch.setenv("STRIPE_API_KEY", KEY)
    monkeypatch.setenv("SUBWH_STRIPE_API_BASE", url)
    assert main(["import", "stripe", "--landing", str(tmp_path), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"subwh import stripe: cannot reach the Stripe API at {url}") and err.count("\n") == 1


# --------------------------------------------------------------------------------------------- Dagster

def settings_for(tmp_path: Path, env: dict) -> Settings:
    return Settings.from_env({"SUBWH_LANDING_DIR": str(tmp_path / "landing"),
                              "SUBWH_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"), **env})


def test_without_a_key_the_definitions_have_no_stripe_asset(tmp_path):
    defs = build_definitions(settings_for(tmp_path, {}))
    graph = defs.resolve_asset_graph()
    assert STRIPE_KEY not in graph.get_all_asset_keys()
    assert "stripe_api" not in defs.resources
    assert graph.get(dg.AssetKey(["raw", "plans"])).parent_keys == set()


def test_the_committed_sample_is_never_pulled_into(tmp_path):
    from orchestration.settings import SAMPLE_LANDING

    settings = Settings.from_env({"SUBWH_LANDING_DIR": str(SAMPLE_LANDING), "STRIPE_API_KEY": KEY,
                                  "SUBWH_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb")})
    assert settings.stripe_api_key_env is None
    assert STRIPE_KEY not in build_definitions(settings).resolve_asset_graph().get_all_asset_keys()
    named = Settings.from_env({"SUBWH_LANDING_DIR": str(tmp_path), "SUBWH_STRIPE_API_KEY_ENV": "OUR_KEY", "OUR_KEY": KEY})
    assert named.stripe_api_key_env == "OUR_KEY"


def test_with_a_key_the_raw_assets_wait_for_the_pull(tmp_path):
    defs = build_definitions(settings_for(tmp_path, {"STRIPE_API_KEY": KEY}))
    graph = defs.resolve_asset_graph()
    spec = {s.key: s for s in defs.resolve_all_asset_specs()}[STRIPE_KEY]
    assert spec.group_name == "ingestion" and spec.description
    for key in graph.get_all_asset_keys():
        if key.path[0] == "raw" and key.path[1] != "quarantine":
            assert STRIPE_KEY in graph.get(key).parent_keys, key
    # the landing sensor's runs (files that landed) do not wait for Stripe; the schedule runs every asset
    from orchestration.sensors import INGESTION

    assert STRIPE_KEY not in INGESTION.resolve(graph)
    assert {k.to_user_string() for k in INGESTION.resolve(graph)} == {
        "raw/plans", "raw/fx_rates", "raw/subscription_events", "raw/billing_events", "raw/usage_events"}
    # the key is an environment variable reference in the resource's configuration, not a value
    resource = defs.resources["stripe_api"]
    assert resource.api_key == "STRIPE_API_KEY" and KEY not in repr(resource)


def write_fx(landing: Path) -> None:
    (landing / "reference").mkdir(parents=True, exist_ok=True)
    (landing / "reference" / "fx_rates.csv").write_text("month,currency,usd_per_unit\n2025-01,USD,1\n")


def test_the_asset_pulls_before_the_files_load_and_never_shows_the_key(tmp_path, server, monkeypatch):
    monkeypatch.setenv("STRIPE_API_KEY", KEY)
    monkeypatch.setenv("SUBWH_STRIPE_API_BASE", server.url)
    settings = settings_for(tmp_path, {"STRIPE_API_KEY": KEY, "SUBWH_STRIPE_API_BASE": server.url})
    write_fx(settings.landing_dir)
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    selection = (dg.AssetSelection.assets(STRIPE_KEY) | dg.AssetSelection.groups("ingestion")).resolve(graph)
    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=selection)
    instance = dg.DagsterInstance.ephemeral()
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert result.success
    (pulled,) = result.asset_materializations_for_node("landing__stripe")
    meta = {k: v.value for k, v in pulled.metadata.items()}
    assert meta["events_pulled"] == 6 and meta["cursor"] == "evt_05" and meta["first_pull"] is True
    assert meta["events_pulled_by_type"]["customer.subscription.updated"] == 1
    assert meta["written_by_stream"] == {"subscription_events": 11, "billing_events": 4}
    # the raw load ran after the pull and read its files
    (loaded,) = result.asset_materializations_for_node("raw__subscription_events")
    assert loaded.metadata["rows_loaded"].value == 11
    # the key: not in the run's configuration, its events (logs, metadata), or anything written
    run = instance.get_run_by_id(result.run_id)
    assert KEY not in json.dumps(run.run_config, default=str)
    logs = instance.all_logs(result.run_id)
    assert KEY not in "\n".join(str(e.user_message) + repr(e.dagster_event) for e in logs)


def test_a_failed_pull_fails_the_run_before_anything_loads(tmp_path, server, monkeypatch):
    wrong = "sk_test_51ThisIsNotTheRightKey000000"
    monkeypatch.setenv("STRIPE_API_KEY", wrong)
    settings = settings_for(tmp_path, {"STRIPE_API_KEY": wrong, "SUBWH_STRIPE_API_BASE": server.url})
    write_fx(settings.landing_dir)
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    selection = (dg.AssetSelection.assets(STRIPE_KEY) | dg.AssetSelection.groups("ingestion")).resolve(graph)
    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=selection)
    instance = dg.DagsterInstance.ephemeral()
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == "landing__stripe"
    assert failure.step_failure_data.error.message.strip().splitlines()[-1].endswith("nothing was imported")
    assert result.asset_materializations_for_node("raw__subscription_events") == []
    logs = "\n".join(str(e.user_message) + repr(e.dagster_event) for e in instance.all_logs(result.run_id))
    assert wrong not in logs
    assert not (settings.landing_dir / "subscription_events").exists()
