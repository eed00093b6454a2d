"""The what-if simulator: monthly revenue projected under subscription pricing and under one-time sales.

The HTML report's page recomputes the same projection in JavaScript (`transforms/report/templates/report.js`,
function `project`) whenever a slider moves; `tests/integration/test_report.py` evaluates that function in
a real browser and compares it with this one, so the two stay the same model. Change both or neither.

The model, month by month (t = 0 is today, t = 1 … horizon are projected months):

    r = 1 − churn + expansion                 (the monthly NRR the assumptions imply)

    subscription:   MRR_0 = starting_mrr
                    MRR_t = MRR_{t−1} × r + new_customers × price
                    revenue_t = MRR_t

    one-time:       book_0 = starting_mrr     (the subscriptions already sold)
                    book_t = book_{t−1} × (1 − churn)
                    revenue_t = book_t + new_customers × price × one_time_multiple

One-time sales: from today on, every new customer pays `price × one_time_multiple` once, in the month they
buy, and nothing after. The subscriptions already sold keep paying but run off at the churn rate, with no
expansion (there is no subscription left to upsell into). So the one-time line decays from today's MRR
towards the level of one month's new sales, while the subscription line compounds.

`one_time_multiple` is the one-time price in months of the subscription price: 1 compares the same price
paid once with the same price paid every month; 12 a one-time licence priced at a year of subscription.
With a multiple of 1, the subscription line is never below the one-time line from the first projected
month on (for churn ≤ 100% and expansion ≥ 0): each term of the subscription recurrence is at least the
matching one-time term. With a larger multiple it can be below in a given month: in month H when that month's
one-time sales (new × price × multiple) exceed what H months of subscribers pay then (new × price × Σ r^k,
k < H) plus the expansion of the old book. In the long run, without expansion, that is when customers stay
on average (1 / churn months) for less than `one_time_multiple` months. The page's reading of the figures
(`reading` in report.js) says which amounts make the difference; docs/report.md lists its rules.

NRR at the horizon follows the warehouse's 12-month definition (docs/metrics.md: MRR now of the accounts active
12 months ago / their MRR then). In the model every account's MRR is multiplied by r each month, so it is
r^12 for the subscription business, and (1 − churn)^12 for the one-time business, whose only recurring
revenue is the old book. Rates are fractions, like the warehouse's.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

NRR_WINDOW_MONTHS = 12


@dataclass(frozen=True)
class Assumptions:
    """What the sliders set. Money in USD per month; rates as monthly fractions (0.02 = 2%)."""

    price: float  # a customer's subscription price per month (the report starts it at ARPA)
    new_customers: float  # new customers per month
    churn: float  # share of MRR lost each month (cancellations and downgrades), 0 … 1
    expansion: float  # share of MRR added each month by upsells, ≥ 0
    horizon: int  # months projected
    starting_mrr: float = 0.0  # MRR today
    one_time_multiple: float = 1.0  # a one-time sale's price, in months of `price`

    def __post_init__(self) -> None:
        problems = []
        for name in ("price", "new_customers", "expansion", "starting_mrr", "one_time_multiple"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                problems.append(f"{name} must be a finite number ≥ 0, got {value!r}")
        if not (0 <= self.churn <= 1):
            problems.append(f"churn must be a fraction between 0 and 1, got {self.churn!r}")
        if not isinstance(self.horizon, int) or self.horizon < 1:
            problems.append(f"horizon must be a whole number of months ≥ 1, got {self.horizon!r}")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def monthly_nrr(self) -> float:
        return 1 - self.churn + self.expansion


@dataclass(frozen=True)
class ModelProjection:
    """One pricing model over the horizon; lists are indexed by month t = 0 … horizon."""

    revenue: list[float]  # revenue recognised in month t (MRR, plus one-time sales for one-time)
    mrr: list[float]  # recurring revenue in month t
    nrr_12m: float  # at the horizon, as a fraction
    revenue_at_horizon: float
    mrr_at_horizon: float
    cumulative_revenue: float  # months 1 … horizon


@dataclass(frozen=True)
class Projection:
    subscription: ModelProjection
    one_time: ModelProjection

    def as_dict(self) -> dict:
        return asdict(self)


def project(assumptions: Assumptions) -> Projection:
    """Project both pricing models from the same assumptions (see the module docstring for the formulas)."""
    a = assumptions
    new_sales = a.new_customers * a.price
    rate = a.monthly_nrr

    subscription = [a.starting_mrr]
    book = [a.starting_mrr]
    for _ in range(a.horizon):
        subscription.append(subscription[-1] * rate + new_sales)
        book.append(book[-1] * (1 - a.churn))
    one_time_revenue = [book[0]] + [b + new_sales * a.one_time_multiple for b in book[1:]]

    return Projection(
        subscription=_model(subscription, subscription, rate**NRR_WINDOW_MONTHS),
        one_time=_model(one_time_revenue, book, (1 - a.churn) ** NRR_WINDOW_MONTHS),
    )


def _model(revenue: list[float], mrr: list[float], nrr_12m: float) -> ModelProjection:
    return ModelProjection(
        revenue=revenue,
        mrr=mrr,
        nrr_12m=nrr_12m,
        revenue_at_horizon=revenue[-1],
        mrr_at_horizon=mrr[-1],
        cumulative_revenue=sum(revenue[1:]),
    )


def steady_state_mrr(assumptions: Assumptions) -> float | None:
    """Where subscription MRR levels off when churn outpaces expansion (r < 1); None when it keeps growing."""
    a = assumptions
    if a.monthly_nrr >= 1:
        return None
    return a.new_customers * a.price / (a.churn - a.expansion)
