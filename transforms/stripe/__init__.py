"""Import from Stripe (docs/stripe.md): Stripe Events -> landing files (docs/input-format.md). No Dagster here.

    from transforms.stripe import import_stripe_log
    report = import_stripe_log(Path("events.jsonl.gz"), Path("landing"))
    print("\\n".join(report.summary_lines()))
"""

from transforms.stripe.importer import StripeImportError, StripeImportReport, import_stripe_log

__all__ = ["StripeImportError", "StripeImportReport", "import_stripe_log"]
