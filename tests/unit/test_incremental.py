"""keyed_incremental models (sql/macros/materializations/keyed_incremental.sql): a run that restates only the
changed keys leaves every table exactly as a full rebuild from the same landing folder would, keys whose rows
all disappear included, and it rebuilds in full whenever restating could be wrong. What a build did is read
from pipeline.model_builds, the bookkeeping the materialization writes (transforms/model_builds.py)."""

import shutil
from pathlib import Path

import pytest

from tests.support.dbt import ALL, SALES, DbtFailed, qualified, run_models
from tests.support.story import (
    DEFAULT_PLANS,
    Landing,
    account,
    build,
    build_metrics,
    cancels,
    changes,
    load_new_files,
    payment,
    starts,
    trial,
    usage,
)
from transforms.dbt_project import model_doc
from transforms.ingestion.event_schema import STREAMS
from transforms.model_builds import latest_outcomes

KEYED = [name for name in qualified(ALL) if model_doc(name).materialized == "keyed_incremental"]
# Every table downstream of a keyed_incremental one too: they read restated tables.
COMPARED = [name for name in qualified(ALL) if model_doc(name).materialized != "view"]


def test_the_large_account_and_subscription_models_are_keyed_incremental():
    assert {name: model_doc(name).unique_key for name in KEYED} == {
        "intermediate.subscription_periods": "subscription_id", "intermediate.subscription_mrr_monthly":
        "subscription_id", "marts.account_mrr_monthly": "account_id", "marts.mrr_movements": "account_id",
        "marts.accounts": "account_id", "intermediate.collected_revenue_monthly": "account_id",
        "intermediate.account_plan_months": "account_id", "intermediate.subscriptions_in_force": "subscription_id",
        "intermediate.account_plan_seats": "account_id"}


def run_all(con, *dbt_args: str, **variables) -> dict[str, str]:
    """Run every model, as a scheduled run does after loading; returns what each keyed_incremental one did,
    in the words of dbt's log ("restated 3 subscription_id value(s) whose inputs changed")."""
    run_models(con, ALL, dbt_args=dbt_args, variables=variables)
    outcomes = latest_outcomes(con)
    return {name: outcomes[name] for name in KEYED}


def assert_same_as_full_rebuild(con, root: Path) -> None:
    fresh = build_metrics(build(root))
    run_models(fresh, SALES)
    for table in COMPARED:
        restated, rebuilt = (sorted(c.sql(f"select * from {table}").fetchall(), key=repr) for c in (con, fresh))
        assert restated == rebuilt, f"{table} differs from a full rebuild"
    fresh.close()


def test_a_day_of_changes_is_restated_and_equals_a_full_rebuild(tmp_path):
    landing = Landing(tmp_path)
    landing.add(
        account("A", "2025-01-02"), starts("A", "2025-01-05", plan="growth", seats=5, price="20"),
        account("B", "2025-01-03"), starts("B", "2025-01-06", seats=2, price="120", interval="year", currency="EUR"),
        account("C", "2025-01-04"), starts("C", "2025-01-07", seats=3, price="10"),
        # C cancels at the end of its term: the cancellation is due after the data's as-of instant today
        cancels("C", "2025-03-10", effective="2025-03-25"),
        account("D", "2025-01-04"), starts("D", "2025-01-08", seats=1, price="10"),
        payment("A", "2025-03-01", "100.00"), usage("A", "2025-03-20", "api_calls", 10),
    )
    con = build_metrics(build(landing))
    run_all(con)
    assert con.sql("select mrr from marts.account_mrr_monthly where account_id = 'C' and month = '2025-03-01'"
                   ).fetchall() == [(30,)]

    # The next day: A adds seats, B pays, D's subscription moves to account E; and the as-of instant passes
    # C's cancellation, so C's March restates with no event of C's delivered that day.
    landing.add(
        changes("A", "2025-03-26", seats=8),
        payment("B", "2025-03-26", "50.00", currency="EUR"),
        account("E", "2025-03-26"), changes("E", "2025-03-26", sub="D-1"),
    )
    load_new_files(con, landing.root)
    outcomes = run_all(con)
    assert all(outcome.startswith("restated") for outcome in outcomes.values()), outcomes
    assert outcomes["intermediate.subscription_periods"].startswith("restated 3 subscription_id")  # A, C (due), D
    assert outcomes["marts.account_mrr_monthly"].startswith("restated 4 account_id")  # A, C, D and E
    assert outcomes["marts.accounts"].startswith("restated 4 account_id")  # not B: accounts read no payments
    assert con.sql("select count(*) from marts.account_mrr_monthly where account_id = 'C' and month = '2025-03-01'"
                   ).fetchall() == [(0,)]
    assert_same_as_full_rebuild(con, landing.root)

    # A run with nothing new changes nothing
    load_new_files(con, landing.root)
    assert all(outcome.startswith("unchanged") for outcome in run_all(con).values())
    assert_same_as_full_rebuild(con, landing.root)


def test_a_key_whose_rows_all_disappear_is_deleted(tmp_path):
    """D's only subscription turns out to be E's from its first day (a change effective at its start): every
    row of D's leaves the account tables and none comes back. Deleting only the keys of the new rows (dbt's
    delete+insert) would keep D's month of 10.00 MRR and its `new` movement."""
    landing = Landing(tmp_path)
    landing.add(account("D", "2025-01-04"), starts("D", "2025-01-08", seats=1, price="10"),
                account("E", "2025-01-04"), account("F", "2025-01-04"), starts("F", "2025-01-08", seats=2, price="10"))
    con = build_metrics(build(landing))
    run_all(con)
    tables = ("marts.account_mrr_monthly", "marts.mrr_movements", "intermediate.account_plan_months")
    for table in tables:
        assert con.sql(f"select count(*) from {table} where account_id = 'D'").fetchall() == [(1,)], table

    landing.add(changes("E", "2025-01-20", sub="D-1", effective="2025-01-08T12:00:00Z"))
    load_new_files(con, landing.root)
    outcomes = run_all(con)
    assert outcomes["marts.account_mrr_monthly"].startswith("restated 2 account_id"), outcomes  # D and E
    assert outcomes["marts.mrr_movements"].startswith("restated 2 account_id"), outcomes
    for table in tables:
        assert con.sql(f"select count(*) from {table} where account_id = 'D'").fetchall() == [(0,)], table
        assert con.sql(f"select count(*) from {table} where account_id = 'E'").fetchall() == [(1,)], table
    assert_same_as_full_rebuild(con, landing.root)


def test_accounts_sharing_a_subscription_are_restated_together(tmp_path):
    landing = Landing(tmp_path)
    # X's trial subscription S moves to Y: Y is trialing, by the trial_started event X's history holds
    landing.add(account("X", "2025-03-01"), trial("X", "2025-03-01", sub="S"), account("Y", "2025-03-02"),
                changes("Y", "2025-03-03", sub="S"), account("Z", "2025-03-01"))
    con = build_metrics(build(landing))
    run_all(con)
    assert con.sql("select account_id, status from marts.accounts order by 1").fetchall() == [
        ("X", "never_paid"), ("Y", "trialing"), ("Z", "never_paid")]
    # only Y has news: restating Y alone would lose the trial, which is in X's events
    landing.add(account("Y", "2025-03-05", name="Y Holdings"))
    load_new_files(con, landing.root)
    assert run_all(con)["marts.accounts"].startswith("restated 2 account_id")  # Y, and X through S
    assert_same_as_full_rebuild(con, landing.root)
    assert con.sql("select account_name, status from marts.accounts where account_id = 'Y'").fetchall() == [
        ("Y Holdings", "trialing")]


def test_what_changes_for_every_account_rebuilds_in_full(tmp_path):
    landing = Landing(tmp_path)
    landing.add(account("A", "2025-01-02"), starts("A", "2025-01-05", plan="growth", seats=5, price="20"),
                account("B", "2025-01-03"), starts("B", "2025-01-06", seats=2, price="10", currency="EUR"),
                payment("A", "2025-01-10", "100.00"))
    con = build_metrics(build(landing))
    run_all(con)

    # new FX rates: every EUR month is worth something else
    landing.write_fx([("2025-01", "EUR", "1.20")])
    load_new_files(con, landing.root)
    outcomes = run_all(con)
    assert outcomes["marts.account_mrr_monthly"].startswith("rebuilt in full (the calendar, FX rates, plans or SQL")
    # the calendar and the periods did not change; movements follow their input's full rebuild
    assert outcomes["intermediate.subscription_periods"].startswith("unchanged")
    assert outcomes["marts.mrr_movements"].startswith("rebuilt in full (marts.account_mrr_monthly was rebuilt")
    assert_same_as_full_rebuild(con, landing.root)

    # a new month: every open-ended period reaches it
    landing.add(changes("A", "2025-02-03", seats=6))
    load_new_files(con, landing.root)
    assert run_all(con)["intermediate.subscription_periods"].startswith("rebuilt in full (the calendar")
    assert_same_as_full_rebuild(con, landing.root)

    # rows of a raw table were removed (by hand): what was built from them is unknown
    con.execute("delete from raw.billing_events")
    landing.add(payment("A", "2025-02-04", "10.00"))
    load_new_files(con, landing.root)
    assert run_all(con)["intermediate.collected_revenue_monthly"].startswith(
        "rebuilt in full (rows of raw.billing_events loaded before the last build changed")

    # plans changed: the plan an account with two subscriptions reports may too
    landing.write_plans([(*plan[:2], 5 - plan[2], *plan[3:]) for plan in DEFAULT_PLANS])
    load_new_files(con, landing.root)
    assert run_all(con)["marts.account_mrr_monthly"].startswith("rebuilt in full (the calendar, FX rates, plans")

    # asked for
    outcomes = run_all(con, "--full-refresh")
    assert all(outcome.startswith("rebuilt in full (a full refresh was asked for)") for outcome in outcomes.values())


def test_a_table_changed_by_hand_is_rebuilt(tmp_path):
    landing = Landing(tmp_path)
    landing.add(account("A", "2025-01-02"), starts("A", "2025-01-05", seats=5, price="20"))
    con = build_metrics(build(landing))
    con.execute("delete from marts.mrr_movements")
    assert run_all(con)["marts.mrr_movements"].startswith(
        "rebuilt in full (marts.mrr_movements is not as its last build left it")
    assert con.sql("select count(*) from marts.mrr_movements").fetchall() == [(1,)]


def test_more_than_the_share_of_keys_to_restate_rebuilds_in_full(tmp_path):
    """Past 30% of a table's keys, restating costs more than a full build. The share counts from tables of
    keyed_incremental_restate_share_from keys (10,000; 10 here): ten accounts with payments, then three new
    payments (3 of 10 is not more than 30%: restated), then four (4 of 10 is: rebuilt)."""
    share_from = {"keyed_incremental_restate_share_from": 10}
    names = [f"P{n}" for n in range(10)]
    landing = Landing(tmp_path)
    landing.add(*(event for name in names for event in (account(name, "2025-01-02"),
                                                         payment(name, "2025-01-03", "10.00"))))
    con = build_metrics(build(landing))
    run_all(con, **share_from)

    landing.add(*(payment(name, "2025-01-04", "5.00") for name in names[:3]))
    load_new_files(con, landing.root)
    assert run_all(con, **share_from)["intermediate.collected_revenue_monthly"].startswith("restated 3 account_id")

    landing.add(*(payment(name, "2025-01-05", "5.00") for name in names[:4]))
    load_new_files(con, landing.root)
    assert run_all(con, **share_from)["intermediate.collected_revenue_monthly"].startswith(
        "rebuilt in full (4 of about 10 account_id values changed)")
    assert_same_as_full_rebuild(con, landing.root)


@pytest.fixture(scope="module")
def generated_landing(tmp_path_factory):
    generator = pytest.importorskip("sample_data.generator")
    root = tmp_path_factory.mktemp("generated")
    generator.generate(root, accounts=150, months=5, seed=11, progress=False)
    return root


def test_generated_days_restated_one_by_one_equal_a_full_rebuild(generated_landing, tmp_path):
    """The last days of generated data (upgrades, cancellations, payments, reactivations) arrive one day at
    a time; after each, every table equals a full rebuild."""
    files = sorted(p for stream in STREAMS for p in (generated_landing / stream).glob("*.jsonl*"))
    days = sorted({p.name.split(".")[0] for p in files})
    held_back = days[-4:]
    root = tmp_path / "landing"
    shutil.copytree(generated_landing / "reference", root / "reference")
    for p in files:
        if p.name.split(".")[0] not in held_back:
            (root / p.parent.name).mkdir(exist_ok=True)
            shutil.copy(p, root / p.parent.name / p.name)
    con = build_metrics(build(root))
    run_all(con)
    restated = 0
    for day in held_back:
        for p in files:
            if p.name.split(".")[0] == day:
                (root / p.parent.name).mkdir(exist_ok=True)
                shutil.copy(p, root / p.parent.name / p.name)
        load_new_files(con, root)
        outcomes = run_all(con)
        assert not any(outcome.startswith("rebuilt") for outcome in outcomes.values()), outcomes
        restated += sum(outcome.startswith("restated") for outcome in outcomes.values())
        assert_same_as_full_rebuild(con, root)
    assert restated >= 8  # the days did change something: this compared restated tables, not untouched ones


def test_a_failed_restatement_changes_nothing(tmp_path):
    """The bookkeeping fails after the rows were restated (a build log that takes no restated build): the
    restated rows, the change log and the build log stay as they were, and dbt's error says why."""
    landing = Landing(tmp_path)
    landing.add(account("A", "2025-01-02"), starts("A", "2025-01-05", seats=5, price="20"))
    con = build_metrics(build(landing))
    run_models(con, SALES)  # every model's first build: a full one
    landing.add(changes("A", "2025-01-20", seats=6))
    load_new_files(con, landing.root)
    before = {table: sorted(con.sql(f"select * from {table}").fetchall(), key=repr) for table in KEYED}
    builds = con.sql("select count(*) from pipeline.model_builds").fetchall()
    con.execute("create type build_kind as enum ('full')")
    con.execute("alter table pipeline.model_builds alter kind set data type build_kind")
    with pytest.raises(DbtFailed, match="restated"):
        run_all(con)
    assert con.sql("select count(*) from pipeline.model_builds").fetchall() == builds
    assert con.sql("select count(*) from pipeline.model_changes").fetchall() == [(0,)]
    for table, rows in before.items():
        assert sorted(con.sql(f"select * from {table}").fetchall(), key=repr) == rows, table


def test_emptying_the_build_log_forces_full_builds(tmp_path):
    """docs/operations.md: `delete from pipeline.model_builds` makes every keyed_incremental model's next build
    a full one (the way to rebuild the models without reloading the landing folder)."""
    landing = Landing(tmp_path)
    landing.add(account("A", "2025-01-02"), starts("A", "2025-01-05", seats=5, price="20"))
    con = build_metrics(build(landing))
    run_all(con)
    con.execute("delete from pipeline.model_builds")
    outcomes = run_all(con)
    assert all(outcome.startswith("rebuilt in full (first build)") for outcome in outcomes.values()), outcomes
    assert_same_as_full_rebuild(con, landing.root)
