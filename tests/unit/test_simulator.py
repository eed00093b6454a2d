"""The what-if projection (transforms/simulator.py), with numbers worked out by hand."""

import itertools

import pytest

from transforms.simulator import Assumptions, project, steady_state_mrr


def assume(**overrides) -> Assumptions:
    values = dict(price=100.0, new_customers=10.0, churn=0.03, expansion=0.01, horizon=36, starting_mrr=50_000.0)
    values.update(overrides)
    return Assumptions(**values)


def test_zero_churn_and_zero_growth_keep_mrr_flat():
    projection = project(assume(new_customers=0, churn=0, expansion=0, horizon=24))
    assert projection.subscription.mrr == [50_000.0] * 25
    assert projection.subscription.revenue_at_horizon == 50_000.0
    assert projection.subscription.nrr_12m == 1.0
    # Nothing is sold and nothing runs off: the one-time business stays flat too.
    assert projection.one_time.revenue == [50_000.0] * 25


def test_nrr_above_one_when_expansion_exceeds_churn():
    for churn, expansion in [(0.0, 0.001), (0.02, 0.025), (0.10, 0.11), (0.5, 0.6)]:
        projection = project(assume(churn=churn, expansion=expansion, new_customers=0))
        assert projection.subscription.nrr_12m > 1, (churn, expansion)
        # With no new customers, MRR above 1× NRR grows from the existing customers alone.
        assert projection.subscription.mrr_at_horizon > 50_000.0
    assert project(assume(churn=0.03, expansion=0.01)).subscription.nrr_12m < 1
    assert project(assume(churn=0.02, expansion=0.02)).subscription.nrr_12m == 1.0


def test_subscription_recurrence_by_hand():
    # r = 1 - 0.10 + 0.05 = 0.95; new sales 2 × 50 = 100 a month.
    # MRR_1 = 1000 × 0.95 + 100 = 1050; MRR_2 = 1050 × 0.95 + 100 = 1097.5
    # one-time (multiple 12): book 1000 → 900 → 810; revenue = book + 100 × 12 = 2100, 2010
    projection = project(Assumptions(price=50, new_customers=2, churn=0.10, expansion=0.05, horizon=2,
                                     starting_mrr=1000, one_time_multiple=12))
    assert projection.subscription.mrr == pytest.approx([1000, 1050, 1097.5])
    assert projection.subscription.cumulative_revenue == pytest.approx(2147.5)
    assert projection.one_time.mrr == pytest.approx([1000, 900, 810])
    assert projection.one_time.revenue == pytest.approx([1000, 2100, 2010])
    assert projection.one_time.nrr_12m == pytest.approx(0.9**12)
    assert projection.subscription.nrr_12m == pytest.approx(0.95**12)


def test_one_time_line_decays_and_subscription_compounds():
    projection = project(assume(churn=0.03, expansion=0.04, one_time_multiple=1))
    one_time, subscription = projection.one_time.revenue, projection.subscription.revenue
    assert all(later < earlier for earlier, later in itertools.pairwise(one_time))
    assert all(later > earlier for earlier, later in itertools.pairwise(subscription))


@pytest.mark.parametrize("churn", [0.0, 0.01, 0.05, 0.2, 0.5, 0.9, 0.99])
@pytest.mark.parametrize("expansion", [0.0, 0.02, 0.3])
@pytest.mark.parametrize("starting_mrr", [0.0, 10_000.0])
def test_one_time_never_above_subscription_after_the_first_year_for_the_same_price(churn, expansion, starting_mrr):
    projection = project(assume(churn=churn, expansion=expansion, starting_mrr=starting_mrr, horizon=60,
                                one_time_multiple=1))
    for month in range(12, 61):
        assert projection.one_time.revenue[month] <= projection.subscription.revenue[month], month
    # It even holds from the first projected month: each subscription term is at least the one-time term.
    assert all(o <= s for o, s in zip(projection.one_time.revenue[1:], projection.subscription.revenue[1:],
                                       strict=True))


def test_a_one_time_price_of_a_year_wins_only_while_customers_stay_less_than_a_year():
    # At 20% churn a subscriber stays 5 months on average: 12 months' price up front brings more.
    high_churn = project(assume(churn=0.2, expansion=0, starting_mrr=0, one_time_multiple=12, horizon=60))
    assert high_churn.one_time.revenue_at_horizon > high_churn.subscription.revenue_at_horizon
    # At 2% churn (50 months on average) the subscription overtakes it and stays ahead.
    low_churn = project(assume(churn=0.02, expansion=0, starting_mrr=0, one_time_multiple=12, horizon=60))
    assert low_churn.subscription.revenue_at_horizon > low_churn.one_time.revenue_at_horizon


def test_steady_state_when_churn_outpaces_expansion():
    a = assume(churn=0.05, expansion=0.01, horizon=600)
    assert steady_state_mrr(a) == pytest.approx(10 * 100 / 0.04)
    assert project(a).subscription.mrr_at_horizon == pytest.approx(steady_state_mrr(a))
    assert steady_state_mrr(assume(churn=0.01, expansion=0.01)) is None


@pytest.mark.parametrize("bad", [dict(churn=1.5), dict(churn=-0.1), dict(price=-1), dict(horizon=0),
                                 dict(horizon=2.5), dict(new_customers=float("nan"))])
def test_bad_assumptions_say_what_is_wrong(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        assume(**bad)
