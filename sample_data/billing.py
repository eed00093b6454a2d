"""Billing, one phase of a simulated month: an invoice on every renewal day, a payment attempt minutes
later, retries, unpaid invoices left to dunning, and a few goodwill refunds."""

from __future__ import annotations

import numpy as np

from sample_data.company import (
    ACTIVE,
    HOUR,
    INVOICE_ISSUED,
    LATEST_ACTION_SECOND,
    P_FAILED_PAYMENT_RECOVERS,
    P_PAYMENT_FAILS,
    P_REFUND_GOODWILL,
    PAYMENT_FAILED,
    PAYMENT_SUCCEEDED,
    REFUND_ISSUED,
)


class Billing:
    """The billing phase of Simulation (simulation.py), which holds the state it reads and writes."""

    def _bill(self, month) -> tuple[np.ndarray, np.ndarray]:
        """9. Invoice month.m's renewals; return (failed this month, invoiced this month) per account."""
        n, rng, m, bill = self.n, self.rng, month.m, month.bill
        dim = int(self.dim[m])
        anchor_day = self._anchor_day(m)
        invoiced = (self.status == ACTIVE) & (self.next_invoice == m)
        idx = np.flatnonzero(invoiced)
        k = len(idx)
        invoice_ids = self.invoice_counter + np.arange(k, dtype=np.int64)
        self.invoice_counter += k
        amount = (
            self.unit_price[idx] * self.quantity[idx] * (100 - self.discount[idx].astype(np.int64)) + 50
        ) // 100
        end_month = m + self.interval[idx].astype(np.int64)
        period_start = self.day0[m] + anchor_day[idx] - 1
        period_end = self.day0[end_month] + np.minimum(self.anchor[idx], self.dim[end_month]) - 2
        invoice_at = self._instant(m, anchor_day[idx], self.bill_second[idx])
        seq, currency = self.seq[idx], self.currency[idx]
        bill.add(
            INVOICE_ISSUED,
            idx,
            invoice_at,
            seq=seq,
            invoice=invoice_ids,
            amount=amount,
            currency=currency,
            period_start=period_start,
            period_end=period_end,
        )
        attempt_at = invoice_at + rng.integers(30, 900, size=k)
        fails = rng.random(k) < P_PAYMENT_FAILS[self.segment[idx]]
        recovers = fails & (rng.random(k) < P_FAILED_PAYMENT_RECOVERS)
        ok = ~fails
        bill.add(
            PAYMENT_SUCCEEDED,
            idx[ok],
            attempt_at[ok],
            seq=seq[ok],
            invoice=invoice_ids[ok],
            amount=amount[ok],
            currency=currency[ok],
        )
        bill.add(
            PAYMENT_FAILED,
            idx[fails],
            attempt_at[fails],
            seq=seq[fails],
            invoice=invoice_ids[fails],
            amount=amount[fails],
            currency=currency[fails],
        )
        retry_day = np.minimum(anchor_day[idx] + 3, dim)
        retry_second = np.where(
            retry_day == anchor_day[idx],
            self.bill_second[idx] + 4 * HOUR,
            rng.integers(0, LATEST_ACTION_SECOND, size=k),
        )
        retry_at = self._instant(m, retry_day, retry_second)
        bill.add(
            PAYMENT_SUCCEEDED,
            idx[recovers],
            retry_at[recovers],
            seq=seq[recovers],
            invoice=invoice_ids[recovers],
            amount=amount[recovers],
            currency=currency[recovers],
        )
        self.dunning[idx[fails & ~recovers]] = True
        failed_this_month = np.zeros(n, dtype=bool)
        failed_this_month[idx[fails]] = True
        refund = ok & (rng.random(k) < P_REFUND_GOODWILL) & (amount > 0)
        refund_day = np.minimum(anchor_day[idx] + rng.integers(1, 8, size=k), dim)
        refund_second = np.where(
            refund_day == anchor_day[idx],
            self.bill_second[idx] + 2 * HOUR,
            rng.integers(0, LATEST_ACTION_SECOND, size=k),
        )
        refund_amount = np.maximum(1, np.round(amount * rng.uniform(0.1, 0.5, k))).astype(np.int64)
        bill.add(
            REFUND_ISSUED,
            idx[refund],
            self._instant(m, refund_day, refund_second)[refund],
            seq=seq[refund],
            invoice=invoice_ids[refund],
            amount=refund_amount[refund],
            currency=currency[refund],
        )
        self.next_invoice[idx] += self.interval[idx]
        self.last_invoice[idx] = invoice_ids
        self.last_invoice_amount[idx] = amount
        return failed_this_month, invoiced
