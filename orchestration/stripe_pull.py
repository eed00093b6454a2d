"""`subwh import stripe --landing DIR` without `--input`: pull from the Stripe API (docs/stripe-api.md).

The key comes from the environment only: `STRIPE_API_KEY`, or the variable `--api-key-env NAME` names;
the API's base address from `SUBWH_STRIPE_API_BASE` when set. The work is
`transforms.stripe.api.pull_stripe`; this module reads the environment, prints, and picks the exit code.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

DEFAULT_KEY_ENV = "STRIPE_API_KEY"
API_BASE_ENV = "SUBWH_STRIPE_API_BASE"


def counts(counter: Counter) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))) or "none"


def pull_summary_lines(report) -> list[str]:
    """What a pull did, for the CLI and the Dagster asset's log (the import's own lines follow)."""
    lines = [f"pulled {sum(report.events_by_type.values()):,} events from the Stripe Events API"
             + (f" (by type: {counts(report.events_by_type)})" if report.events_by_type else "")]
    if report.first_pull:
        lines.append(f"first pull: listed {counts(report.objects_listed)}; backfilled "
                     f"{sum(report.backfill_by_type.values()):,} events from before the events Stripe keeps "
                     f"({counts(report.backfill_by_type)})")
    if report.cursor_expired:
        lines.append(f"note: the last pull's event {report.previous_cursor} is no longer kept by Stripe (more than "
                     "30 days ago): changes between then and Stripe's oldest event are missing")
    if report.rate_limit_retries:
        lines.append(f"rate-limited: retried {report.rate_limit_retries} time(s)")
    lines.append(f"cursor: {report.cursor or 'none'}" + (f" (was {report.previous_cursor})" if report.previous_cursor else ""))
    if report.pull_file:
        lines.append(f"pulled events kept in {report.pull_file}")
    return lines


def run(args: argparse.Namespace) -> int:
    from transforms.stripe import StripeImportError
    from transforms.stripe.api import StripePullError, pull_stripe

    key_env = getattr(args, "api_key_env", None) or DEFAULT_KEY_ENV
    api_key = os.environ.get(key_env, "").strip()
    if not api_key:
        print(f"subwh import stripe: no Stripe API key in ${key_env}: set it (a secret key sk_... or a restricted "
              "key rk_... with read access), or give --input PATH to import an event log", file=sys.stderr)
        return 2
    show_progress = not getattr(args, "no_progress", False)

    def say(message: str) -> None:
        if show_progress:
            print(message, file=sys.stderr, flush=True)

    try:
        report = pull_stripe(
            Path(args.landing), api_key=api_key, api_base=os.environ.get(API_BASE_ENV) or None, key_source=f"${key_env}",
            progress=say, progress_bar=show_progress and sys.stderr.isatty(),
        )
    except (StripePullError, StripeImportError) as error:
        if getattr(args, "verbose", False):
            raise
        print(f"subwh import stripe: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        if getattr(args, "verbose", False):
            raise
        print(f"subwh import stripe: {error.filename or args.landing}: {error.strerror or error}", file=sys.stderr)
        return 1
    print("\n".join(pull_summary_lines(report)))
    if report.import_report is not None:
        print("\n".join(report.import_report.summary_lines()))
    else:
        print(f"nothing new: {args.landing} unchanged")
    return 0
