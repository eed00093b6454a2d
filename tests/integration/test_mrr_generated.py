"""Invariants on generated data (several seeds): the waterfall reconciles to the cent every month, no
account-month is counted twice, and clean generated data quarantines nothing."""

import pytest

from tests.support.story import build
from transforms.reconciliation import waterfall_breaks

generator = pytest.importorskip("sample_data.generator")


@pytest.fixture(scope="module", params=[1, 2, 3])
def generated(request, tmp_path_factory):
    landing = tmp_path_factory.mktemp(f"seed{request.param}")
    generator.generate(landing, accounts=120, months=14, seed=request.param, progress=False)
    return build(landing)


def test_waterfall_reconciles_every_month(generated):
    assert generated.sql("select count(*) from marts.mrr_waterfall").fetchall()[0][0] >= 14
    assert waterfall_breaks(generated) == []


def test_no_account_counted_twice(generated):
    assert generated.sql(
        "select count(*) from (select account_id, month from marts.account_mrr_monthly group by all having count(*) > 1)"
    ).fetchall() == [(0,)]
    assert generated.sql(
        "select count(*) from (select account_id from marts.accounts group by all having count(*) > 1)"
    ).fetchall() == [(0,)]


def test_clean_generated_data_quarantines_nothing(generated):
    assert generated.sql("select reason, count(*) from raw.quarantine group by all").fetchall() == []


def test_every_movement_kind_appears(generated):
    kinds = {r[0] for r in generated.sql("select distinct movement from marts.mrr_movements").fetchall()}
    assert kinds == {"new", "expansion", "contraction", "churn", "reactivation"}


def test_movements_sum_to_the_waterfall(generated):
    assert generated.sql("""
        with by_movement as (
            select month, sum(mrr_change) filter (where movement = 'new') as new_mrr,
                   -sum(mrr_change) filter (where movement = 'churn') as churned_mrr
            from marts.mrr_movements group by month
        )
        select count(*) from marts.mrr_waterfall w left join by_movement m using (month)
        where coalesce(m.new_mrr, 0) <> w.new_mrr or coalesce(m.churned_mrr, 0) <> w.churned_mrr
    """).fetchall() == [(0,)]
