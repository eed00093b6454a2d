"""The generator's churn process (sample_data/churn_hazard.py): the drivers push the hazard the way they
should, the true hazards land in a side file outside the landing folder, and an unpaid invoice no longer
always ends in churn."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import polars as pl
import pytest
from numpy.random import PCG64, Generator

from sample_data.churn_hazard import HAZARD_FILE
from sample_data.company import ACTIVE
from sample_data.generator import generate
from sample_data.simulation import Simulation
from tests.unit.test_generator import instant, read_stream


def paying_simulation(n: int = 4) -> Simulation:
    """n identical SMB accounts, paying monthly for a year, mid-cycle, steady usage at 80% of 10 seats."""
    sim = Simulation(n, 24, "2024-01", Generator(PCG64(1)), Generator(PCG64(2)), "day")
    sim.status[:] = ACTIVE
    sim.segment[:] = 0
    sim.interval[:] = 1
    sim.quantity[:] = 10
    sim.seats[:] = 8.0
    sim.seats_before[:] = 8.0
    sim.intensity[:] = 40.0
    sim.intensity_before[:] = 40.0
    sim.paid_since[:] = 0
    sim.next_invoice[:] = 12
    sim.frailty[:] = 0.0
    return sim


def logit_of(sim: Simulation, m: int = 12) -> np.ndarray:
    sim.rng = Generator(PCG64(9))  # the same monthly noise for every variant
    return sim._churn_logit(m)


@pytest.mark.parametrize(
    ("change", "direction"),
    [
        (lambda s: s.failed_months.__setitem__(0, 0b001), +1),  # a failed payment last month
        (lambda s: s.dunning.__setitem__(0, True), +1),  # an invoice still unpaid
        (lambda s: s.seats.__setitem__(0, 2.0), +1),  # 20% of the seats in use (and usage fell)
        (lambda s: s.seats_before.__setitem__((1, 0), 16.0), +1),  # usage halved in two months
        (lambda s: s.paid_since.__setitem__(0, 11), +1),  # a customer of one month
        (lambda s: s.contracted_month.__setitem__(0, 11), +1),  # seats given back last month
        (lambda s: s.discount_ended_month.__setitem__(0, 11), +1),  # a discount ended last month
        (lambda s: s.segment.__setitem__(0, 2), -1),  # Enterprise
        (lambda s: (s.interval.__setitem__(0, 12), s.next_invoice.__setitem__(0, 20)), -1),  # yearly, far off renewal
        (lambda s: s.frailty.__setitem__(0, 1.0), +1),  # unobserved, but real
    ],
)
def test_each_driver_moves_the_hazard_its_way(change, direction):
    sim = paying_simulation()
    baseline = logit_of(sim)[0]
    change(sim)
    assert np.sign(logit_of(sim)[0] - baseline) == direction


def test_yearly_customers_decide_near_their_renewal():
    sim = paying_simulation()
    sim.interval[:] = 12
    sim.next_invoice[:] = [13, 20, 13, 20]  # next month, or eight months away
    logit = logit_of(sim)
    assert logit[0] > logit[1] + 2


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("hazard")
    summary = generate(root / "landing", accounts=600, months=18, seed=4, start_month="2024-01", progress=False,
                       usage_granularity="week")
    return root, summary


def test_true_hazards_are_written_beside_the_landing_folder_not_in_it(generated):
    root, summary = generated
    path = root / "landing.truth" / HAZARD_FILE
    assert summary["hazard_file"] == str(path) and path.is_file()
    assert not list((root / "landing").rglob("*.parquet"))
    truth = pl.read_parquet(path)
    assert truth.columns == ["month", "account_id", "hazard", "leaving", "decided"]
    assert truth.select(pl.struct("month", "account_id").is_unique().all()).item()
    hazard = truth["hazard"].drop_nulls()
    assert hazard.min() > 0 and hazard.max() < 1
    # paying customers decide to leave a few percent of months, as the hazards say they would
    decided = truth.filter(pl.col("hazard").is_not_null())
    assert decided["decided"].mean() == pytest.approx(decided["hazard"].mean(), abs=0.01)
    assert 0.01 < decided["decided"].mean() < 0.08


def test_an_unpaid_invoice_is_either_paid_late_or_ends_in_cancellation(generated):
    root, _ = generated
    billing = [e for _, _, e in read_stream(root / "landing", "billing_events")]
    subscription = [e for _, _, e in read_stream(root / "landing", "subscription_events")]
    attempts = defaultdict(list)
    for event in billing:
        if event["event_type"] in ("payment_failed", "payment_succeeded"):
            attempts[event["invoice_id"]].append((instant(event["occurred_at"]), event["event_type"]))
    canceled = {e["subscription_id"] for e in subscription if e["event_type"] == "subscription_canceled"}
    invoice_sub = {e["invoice_id"]: e["subscription_id"] for e in billing if e["event_type"] == "invoice_issued"}
    end = max(instant(e["occurred_at"]) for e in billing)
    late, dunned = 0, 0
    for invoice, tries in attempts.items():
        tries.sort()
        failed_twice = [t for t in tries if t[1] == "payment_failed"]
        if not failed_twice:
            continue
        paid = [t for t in tries if t[1] == "payment_succeeded"]
        if paid and (paid[0][0] - failed_twice[0][0]).days > 3:  # after the retry window: paid late
            late += 1
        elif not paid and (end - failed_twice[0][0]).days > 31:  # its next billing day is in the data
            assert invoice_sub[invoice] in canceled, invoice
            dunned += 1
    assert late and dunned, (late, dunned)
