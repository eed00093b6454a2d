"""The base a month's rate stands on, and whether it is small enough to say so next to the rate.

A rate on a small base swings from month to month for reasons that are not trends: an NRR 12m of 208% may
be one large account's upgrade among a few, a quick ratio of 55 may be $1,342 of losses. As ChartMogul
does, the headline figures (the report's cards, the Dagster asset's metadata) then show what they stand
on: "NRR (12 months) 208% (on $95,189 from 81 accounts, the largest 27%)".

A base is small when fewer than SMALL_BASE_ACCOUNTS accounts stand under the rate's denominator, or, for a
rate on MRR, when one account holds LARGEST_SHARE or more of that MRR (docs/metrics.md, "Small bases").

| rate | its base (month M) |
|---|---|
| nrr, grr, gross/net MRR churn | opening MRR: the accounts paying in M−1, their MRR |
| logo_churn_rate | the customers at the end of M−1 |
| nrr_12m, grr_12m | the accounts paying in M−12, their MRR then |
| quick_ratio | the MRR lost in M (churned + contraction) and the accounts that lost it |
| ltv | the churned customers of the six months before M (the churn it divides by) |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import duckdb

from transforms.core.formatting import money

SMALL_BASE_ACCOUNTS = 30  # one account moves a logo rate on fewer than 30 by more than 3 points
LARGEST_SHARE = Decimal("0.25")  # one account holding a quarter of an MRR base moves the rate by as much


@dataclass(frozen=True)
class Base:
    accounts: int  # accounts under the denominator
    amount: Decimal | None = None  # the denominator in USD, for rates on MRR
    largest: Decimal | None = None  # the largest single account's part of `amount`
    kind: str = "mrr"  # "mrr": on MRR; "customers": a count of customers; "lost": MRR lost; "churned": churn events

    @property
    def largest_share(self) -> Decimal | None:
        if self.amount is None or self.largest is None or self.amount <= 0:
            return None
        return self.largest / self.amount

    @property
    def small(self) -> bool:
        share = self.largest_share
        return self.accounts < SMALL_BASE_ACCOUNTS or (share is not None and share >= LARGEST_SHARE)

    @property
    def text(self) -> str:
        """'on $1,234 from 5 accounts', 'of 12 customers', 'on $980 lost by 3 accounts', …"""
        accounts = _plural(self.accounts, "account")
        if self.kind == "customers":
            return f"of {_plural(self.accounts, 'customer')}"
        if self.kind == "churned":
            return f"from {_plural(self.accounts, 'churned customer')} in 6 months"
        verb = "lost by" if self.kind == "lost" else "from"
        text = f"on {_dollars(self.amount or Decimal(0))} {verb} {accounts}"
        share = self.largest_share
        if share is not None and share >= LARGEST_SHARE and self.accounts > 1:
            text += f", the largest {(share * 100).quantize(Decimal('1'), rounding=ROUND_HALF_UP)}%"
        return text


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _dollars(amount: Decimal) -> str:
    """Whole dollars, half up ($1,234); cents below $1,000 ($12.50)."""
    return money(amount)


def _paying(con: duckdb.DuckDBPyConnection, month: date) -> tuple[int, Decimal, Decimal | None]:
    count, total, largest = con.execute(
        "select count(*), coalesce(sum(mrr), 0), max(mrr) from marts.account_mrr_monthly where month = ? and mrr > 0",
        [month],
    ).fetchall()[0]
    return count, Decimal(total), largest


def metric_bases(con: duckdb.DuckDBPyConnection, month: date) -> dict[str, Base]:
    """The base of every rate of marts.saas_metrics_monthly in `month` (reads the marts it is built from)."""
    previous = con.execute("select (?::date - interval 1 month)::date", [month]).fetchall()[0][0]
    year_ago = con.execute("select (?::date - interval 12 month)::date", [month]).fetchall()[0][0]
    opening = Base(*_paying(con, previous))
    twelve = Base(*_paying(con, year_ago))
    lost_accounts, lost, largest_loss = con.execute(
        "select count(distinct account_id), coalesce(sum(prev_mrr - mrr), 0), max(prev_mrr - mrr) "
        "from marts.mrr_movements where month = ? and movement in ('churn', 'contraction')", [month],
    ).fetchall()[0]
    churned = con.execute(
        "select coalesce(sum(churned_customers), 0) from marts.mrr_waterfall "
        "where month >= (?::date - interval 6 month) and month < ?", [month, month],
    ).fetchall()[0][0]
    return {
        "nrr": opening, "grr": opening, "gross_mrr_churn_rate": opening, "net_mrr_churn_rate": opening,
        "logo_churn_rate": Base(opening.accounts, kind="customers"),
        "nrr_12m": twelve, "grr_12m": twelve,
        "quick_ratio": Base(lost_accounts, Decimal(lost), largest_loss, kind="lost"),
        "ltv": Base(int(churned), kind="churned"),
    }
