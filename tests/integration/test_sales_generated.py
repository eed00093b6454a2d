"""The sales lists on generated data: their rules hold, each signal agrees with a recomputation from the raw
events, and the Dagster assets write the marts, the metadata and the CRM file."""

import dagster as dg
import polars as pl
import pytest

from orchestration.assets import sales as sales_assets
from orchestration.assets.dbt_models import dbt_models, dbt_resource
from orchestration.resources import Warehouse
from tests.support.dbt import SALES, qualified, run_models
from tests.support.story import build
from transforms import sales
from transforms.sql_models import connect

generator = pytest.importorskip("sample_data.generator")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """200 accounts x 6 months, built to a warehouse file with the MRR models (no sales tables yet)."""
    root = tmp_path_factory.mktemp("sales_generated")
    landing = root / "landing"
    generator.generate(landing, accounts=200, months=6, seed=11, progress=False)
    warehouse = root / "warehouse.duckdb"
    build(landing, warehouse).close()
    return root, landing, warehouse


@pytest.fixture(scope="module")
def materialized(generated):
    root, landing, warehouse = generated
    resource = Warehouse(path=str(warehouse), landing_dir=str(landing), serving_path=str(root / "serving.duckdb"),
                         exports_dir=str(root / "exports"), reports_dir=str(root / "reports"))
    sales_models = [dg.AssetKey(name.split(".")) for name in qualified(SALES)]
    result = dg.materialize(
        [dbt_models, sales_assets.sales_follow_up_lists, sales_assets.follow_up_export,
         sales_assets.upsell_list_keeps_its_rules, sales_assets.churn_risk_list_keeps_its_rules],
        selection=[*sales_models, sales_assets.UPSELL, sales_assets.CHURN_RISK, sales_assets.JOURNEY,
                   sales_assets.FOLLOW_UP_EXPORT],
        resources={"warehouse": resource, "dbt": dbt_resource()},
        instance=dg.DagsterInstance.ephemeral(),
    )
    with resource.connect() as con:
        upsell = con.sql(f"select * from {sales.UPSELL_TABLE} order by rank").pl()
        churn_risk = con.sql(f"select * from {sales.CHURN_RISK_TABLE} order by rank").pl()
        accounts = con.sql("select account_id, status from marts.accounts").pl()
        violations = sales.list_violations(con)
        independent = independent_signals(con)
    return result, upsell, churn_risk, accounts, violations, independent, root / "exports"


def independent_signals(con) -> dict[str, set[str]]:
    """Signals recomputed straight from raw events, without the sales models, for active accounts."""
    def ids(sql: str) -> set[str]:
        return {r[0] for r in con.sql(sql).fetchall()}

    window = "(select max(as_of)::date from staging.calendar)"
    return {
        "payment_failed": ids(f"""
            select f.account_id from raw.billing_events f join marts.accounts a using (account_id)
            where a.status = 'active' and f.event_type = 'payment_failed'
              and f.occurred_at::date >= {window} - 29
              and not exists (select 1 from raw.billing_events s where s.event_type = 'payment_succeeded'
                              and s.occurred_at >= f.occurred_at
                              and (s.invoice_id = f.invoice_id or s.subscription_id = f.subscription_id))"""),
        "cancellation_scheduled": ids("""
            select c.account_id from raw.subscription_events c join marts.accounts a using (account_id)
            where a.status = 'active' and c.event_type = 'subscription_canceled'
              and c.effective_at > (select max(as_of) from staging.calendar)"""),
        "seat_limit_near": ids(f"""
            with daily as (
                select account_id, occurred_at::date as day, sum(quantity) as seats from raw.usage_events
                where metric = 'active_seats' and occurred_at::date between {window} - 29 and {window}
                group by all
            )
            select daily.account_id from daily join marts.accounts a using (account_id)
            join raw.plans p on p.plan_id = a.plan_id
            where a.status = 'active' group by daily.account_id, p.seat_limit
            having avg(seats) >= 0.8 * p.seat_limit"""),
    }


def test_the_assets_and_their_checks_succeed(materialized):
    result = materialized[0]
    assert result.success
    checks = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
              for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert checks == {"upsell_list_keeps_its_rules": True, "churn_risk_list_keeps_its_rules": True}


def test_every_listed_account_is_active_and_on_one_list_only(materialized):
    _, upsell, churn_risk, accounts, violations, _, _ = materialized
    assert violations == {}
    assert upsell.height > 0 and churn_risk.height > 0
    status = dict(accounts.iter_rows())
    assert {status[a] for a in [*upsell["account_id"], *churn_risk["account_id"]]} == {"active"}
    assert set(upsell["account_id"]).isdisjoint(churn_risk["account_id"])


def test_reasons_scores_and_uplift(materialized):
    _, upsell, churn_risk, *_ = materialized
    for frame in (upsell, churn_risk):
        assert frame.filter(pl.col("reasons") == "").height == 0
        assert frame["reason_codes"].list.len().min() >= 1
        assert frame["score"].is_between(0, 100).all()
        assert frame["score"].to_list() == sorted(frame["score"].to_list(), reverse=True)
        assert frame["summary"].str.len_chars().min() > 10
    assert (upsell["expected_mrr_uplift"] > 0).all()
    assert upsell["recommended_plan_id"].null_count() == 0
    assert upsell.select(pl.col("summary").str.contains(r"\+\$[\d,.]+ MRR$")).to_series().all()


def test_signals_agree_with_the_raw_events(materialized):
    _, upsell, churn_risk, _, _, independent, _ = materialized

    def flagged(frame: pl.DataFrame, code: str) -> set[str]:
        return set(frame.filter(pl.col("reason_codes").list.contains(code))["account_id"])

    assert flagged(churn_risk, "payment_failed") == independent["payment_failed"]
    assert flagged(churn_risk, "cancellation_scheduled") == independent["cancellation_scheduled"]
    # Seat pressure: on the upsell list unless at risk (docs/sales.md: even with nothing more to sell).
    at_risk = set(churn_risk["account_id"])
    assert flagged(upsell, "seat_limit_near") <= independent["seat_limit_near"]
    assert independent["seat_limit_near"] - at_risk - flagged(upsell, "seat_limit_near") <= set()


def test_metadata_shows_top_accounts_and_counts_by_reason(materialized):
    result, upsell, churn_risk, *_ = materialized
    metadata = result.asset_materializations_for_node("sales_follow_up_lists")
    by_key = {m.asset_key.to_user_string(): m.metadata for m in metadata}
    upsell_metadata = by_key["marts/upsell_opportunities"]
    assert upsell_metadata["dagster/row_count"].value == upsell.height
    top = upsell_metadata["top_accounts"]  # a table: the UI shows it inline
    assert [c.name for c in top.schema.columns][:2] == ["rank", "account_id"]
    assert [r.data["rank"] for r in top.records] == list(range(1, min(10, upsell.height) + 1))
    assert set(upsell_metadata["accounts_by_reason"].value) == set(sales.UPSELL_REASONS)
    assert set(by_key["marts/churn_risk_accounts"]["accounts_by_reason"].value) == set(sales.CHURN_RISK_REASONS)
    columns = {c.name for c in upsell_metadata["dagster/column_schema"].schema.columns}
    assert {"account_id", "as_of", "plan_id", "mrr", "recommended_plan_id", "expected_mrr_uplift", "score",
            "reasons", "sales_owner"} <= columns


def test_the_crm_file_lists_both_lists_by_score(materialized):
    _, upsell, churn_risk, _, _, _, exports = materialized
    files = sorted(p.name for p in exports.iterdir())
    assert files[-1] == "follow_up_latest.csv" and len(files) == 2 and files[0].startswith("follow_up_20")
    exported = pl.read_csv(exports / "follow_up_latest.csv")
    assert exported.height == upsell.height + churn_risk.height
    assert exported["score"].to_list() == sorted(exported["score"].to_list(), reverse=True)
    assert set(exported["follow_up"]) == {"upsell", "churn_risk"}


def test_rerunning_the_models_gives_the_same_lists(generated, materialized):
    """The lists are a function of the warehouse: computing them again changes nothing."""
    _, upsell, churn_risk, *_ = materialized
    _, _, warehouse = generated

    con = connect(warehouse)
    try:
        run_models(con, SALES)
        again = sales.follow_up_lists(sales.read_inputs(con))
    finally:
        con.close()
    assert again.upsell.equals(upsell)
    assert again.churn_risk.equals(churn_risk)


def test_usage_growth_agrees_with_the_raw_events(generated, materialized):
    """docs/sales.md: some metric >= 1.5x the 30 days before (which must be > 0), sums, the daily mean for
    active_seats; nothing about how long the account has been a customer."""
    _, upsell, *_ = materialized
    _, _, warehouse = generated
    con = connect(warehouse)
    try:
        independent = {r[0] for r in con.sql("""
            with days as (
                select max(as_of)::date as latest from staging.calendar
            ),
            daily as (
                select account_id, metric, occurred_at::date as day, sum(quantity) as quantity
                from raw.usage_events, days
                where occurred_at::date between days.latest - 59 and days.latest
                group by account_id, metric, occurred_at::date
            ),
            windows as (
                select account_id, metric,
                       case when metric = 'active_seats' then avg(quantity) filter (where day > latest - 30)
                            else sum(quantity) filter (where day > latest - 30) end as current,
                       case when metric = 'active_seats' then avg(quantity) filter (where day <= latest - 30)
                            else sum(quantity) filter (where day <= latest - 30) end as previous
                from daily, days group by account_id, metric, latest
            )
            select distinct windows.account_id from windows join marts.accounts a using (account_id)
            where a.status = 'active' and windows.previous > 0
              and coalesce(windows.current, 0) * 2 >= windows.previous * 3""").fetchall()}
        signals = sales.account_signals(sales.read_inputs(con))
        started_late = {r[0] for r in con.sql("""
            select account_id from intermediate.account_plan_seats
            where customer_since > (select max(as_of)::date - 59 from staging.calendar)""").fetchall()}
    finally:
        con.close()
    assert independent
    assert set(signals.filter(pl.col("has_usage_growth"))["account_id"]) == independent
    assert set(upsell.filter(pl.col("reason_codes").list.contains("usage_growth"))["account_id"]) <= independent
    assert independent & started_late  # accounts that started during the previous window count too


def test_the_journey_and_the_contact_days_keep_their_rules(generated, materialized):
    """docs/sales.md: every account that started a trial or subscription has one stage; churn-risk accounts are
    at_risk; upsell accounts are called on a working day after the latest data day, never in the first 6 weeks
    after signup nor in the 14 days after a failed payment (recomputed here from the raw events)."""
    _, upsell, churn_risk, *_ = materialized
    _, _, warehouse = generated
    con = connect(warehouse, read_only=True)
    try:
        journey = con.sql("select * from marts.account_journey").pl()
        started = {r[0] for r in con.sql("select distinct account_id from staging.subscription_events "
                                         "where event_type in ('trial_started', 'subscription_started')").fetchall()}
        too_early = con.sql("""
            with latest as (select max(as_of) as as_of, max(as_of)::date as day from staging.calendar),
            signup as (
                select account_id, min(effective_at)::date as day from staging.subscription_events, latest
                where event_type in ('trial_started', 'subscription_started') and effective_at <= latest.as_of
                group by account_id),
            failed as (
                select account_id, max(occurred_at)::date as day from raw.billing_events, latest
                where event_type = 'payment_failed' and occurred_at::date >= latest.day - 29
                  and occurred_at <= latest.as_of
                group by account_id)
            select upsell.account_id from marts.upsell_opportunities as upsell
            cross join latest
            left join signup on signup.account_id = upsell.account_id
            left join failed on failed.account_id = upsell.account_id
            where upsell.contact_on <= latest.day or upsell.contact_on < signup.day + 42
               or upsell.contact_on < failed.day + 14 or isodow(upsell.contact_on) > 5""").fetchall()
    finally:
        con.close()
    assert set(journey["account_id"]) == started and journey["account_id"].is_unique().all()
    assert set(journey["stage"]) <= set(sales.STAGES) and journey["stage_since"].null_count() == 0
    stage = dict(zip(journey["account_id"], journey["stage"], strict=True))
    assert {stage[a] for a in churn_risk["account_id"]} <= {"at_risk"}
    assert {stage[a] for a in upsell["account_id"]} <= {"onboarding", "expanding", "reactivated"}
    assert upsell["contact_on"].null_count() == 0 and too_early == []
    assert journey.filter(pl.col("contact_on").is_not_null()).height == upsell.height
