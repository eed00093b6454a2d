"""The round trip of issue 15: the generator's company as Stripe events, imported, builds the same MRR.

generate (native, seed S) and generate --format stripe (seed S) -> import_stripe_log -> build: the MRR marts
must agree to the cent. Ids differ only as Stripe spells them: accounts are customers (`acc_0000012` is
`cus_0000012`), and a plan is a price's lookup key (`growth_eur_quarterly` for the native `growth`).
"""

import shutil

import pytest

from sample_data.generator import generate
from tests.support.story import build, rows
from transforms.reconciliation import waterfall_breaks
from transforms.stripe.importer import import_stripe_log

ACCOUNTS, MONTHS, SEED = 300, 12, 11


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    root = tmp_path_factory.mktemp("round_trip_native")
    generate(root / "native", ACCOUNTS, MONTHS, SEED, progress=False)
    return build(root / "native")


# Both Stripe shapes: basil (a Discount embeds its coupon) and clover (it names the coupon by id, which the
# importer resolves from coupon.created events; without that, MRR would be overstated by the discounts).
@pytest.fixture(scope="module", params=["stripe", "stripe-clover"])
def both(request, native, tmp_path_factory):
    root = tmp_path_factory.mktemp("round_trip")
    summary = generate(root / "stripe", ACCOUNTS, MONTHS, SEED, format=request.param, gzip=True, progress=False)
    landing = root / "landing"
    (landing / "reference").mkdir(parents=True)
    # what a user copies beside the import: usage (Stripe does not hold it) and the reference files
    shutil.copytree(root / "stripe" / "usage_events", landing / "usage_events")
    for name in ("fx_rates.csv", "plans.csv"):
        shutil.copy(root / "stripe" / "reference" / name, landing / "reference" / name)
    report = import_stripe_log(root / "stripe" / "stripe_events", landing)
    return native, build(landing), summary, report


def test_account_mrr_monthly_is_the_same_to_the_cent(both):
    native, stripe, _, _ = both
    expected = [(r["account_id"].replace("acc_", "cus_"), r["month"], r["mrr"], r["plan_id"]) for r in rows(
        native, "select * from marts.account_mrr_monthly order by account_id, month")]
    got = [(r["account_id"], r["month"], r["mrr"], r["plan_id"].split("_")[0]) for r in rows(
        stripe, "select * from marts.account_mrr_monthly order by account_id, month")]
    assert len(expected) > 1000
    assert got == expected


def test_mrr_waterfall_is_the_same_to_the_cent(both):
    native, stripe, _, _ = both
    sql = "select * from marts.mrr_waterfall order by month"
    assert rows(stripe, sql) == rows(native, sql)
    assert waterfall_breaks(stripe) == []
    # the data's as-of instant, which measures the latest month, is the same too
    as_of = "select max(as_of) from staging.calendar"
    assert stripe.sql(as_of).fetchall() == native.sql(as_of).fetchall()


def test_the_company_is_the_same_company(both):
    native, stripe, summary, report = both
    count = "select event_type, count(*) from raw.{} group by 1 order by 1"
    # every invoice, payment and failure arrives; each refund of a paid invoice too
    native_billing = dict(native.sql(count.format("billing_events")).fetchall())
    stripe_billing = dict(stripe.sql(count.format("billing_events")).fetchall())
    assert {k: native_billing[k] for k in ("invoice_issued", "payment_failed", "payment_succeeded")} == {
        k: stripe_billing[k] for k in ("invoice_issued", "payment_failed", "payment_succeeded")}
    assert native_billing["refund_issued"] - stripe_billing["refund_issued"] == summary["stripe_refunds_left_out"]
    money = "select sum(amount) from raw.billing_events where event_type = 'payment_succeeded'"
    assert stripe.sql(money).fetchall() == native.sql(money).fetchall()
    accounts = ("select replace(account_id, 'acc_', 'cus_'), account_name, segment, country, sales_owner, mrr, "
                "status, first_paid_month from marts.accounts order by 1")
    assert stripe.sql(accounts).fetchall() == native.sql(accounts).fetchall()
    assert report.lines_rejected == 0 and report.not_imported == {}
    assert report.customers_seen == ACCOUNTS
    assert sum(summary["stripe_events"].values()) == sum(report.events_read.values())
