"""`subwh import stripe`: turn a Stripe event log into landing files (docs/stripe.md).

    subwh import stripe --input PATH --landing DIR
    subwh import stripe --landing DIR [--api-key-env NAME]    (pull from the Stripe API: orchestration/stripe_pull.py)

The work is `transforms.stripe.import_stripe_log`; this module only parses the arguments and prints.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path


def register(commands) -> None:
    """Add `import stripe` to the `subwh` parser's subcommands."""
    importer = commands.add_parser("import", help="import billing data from another system into a landing folder")
    sources = importer.add_subparsers(dest="source", required=True)
    stripe = sources.add_parser("stripe", help="Stripe events (a file or folder of .jsonl, .jsonl.gz, .json list pages)")
    stripe.add_argument("--input", help="a Stripe event file, or a folder of them (without it: pull from the Stripe API)")
    stripe.add_argument("--landing", required=True, help="landing folder to write (the layout of docs/input-format.md)")
    stripe.add_argument("--api-key-env", metavar="NAME",
                        help="without --input: the environment variable holding the Stripe API key (default STRIPE_API_KEY)")
    stripe.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    stripe.add_argument("--verbose", action="store_true", help="a stack trace on errors")


def run(args: argparse.Namespace) -> int:
    from transforms.stripe import StripeImportError, import_stripe_log

    if args.input is None:
        from orchestration import stripe_pull

        return stripe_pull.run(args)

    def progress(phase: str, count: int) -> None:
        print(f"  {'read' if phase == 'read' else 'mapped'} {count:,} {'lines' if phase == 'read' else 'events'}",
              file=sys.stderr, flush=True)

    try:
        report = import_stripe_log(Path(args.input), Path(args.landing),
                                   progress=None if args.no_progress else progress)
    except (StripeImportError, OSError, sqlite3.Error) as error:
        if args.verbose:
            raise
        if isinstance(error, OSError):
            message = f"{error.filename or args.landing}: {error.strerror or error}"
        elif isinstance(error, sqlite3.Error):
            message = f"the importer's state in {Path(args.landing) / '.stripe'} failed: {error}"
        else:
            message = str(error)
        print(f"subwh import stripe: {message}", file=sys.stderr)
        return 2
    print("\n".join(report.summary_lines()))
    return 0
