"""Import from Stripe (SPEC §7): Stripe Events -> SPEC §1 landing files. No Dagster here.

    from transforms.stripe import import_stripe_log
    report = import_stripe_log(Path("events.jsonl.gz"), Path("landing"))
    print("\\n".join(report.summary_lines()))
"""

from transforms.stripe.importer import StripeImportError, StripeImportReport, import_stripe_log

__all__ = ["StripeImportError", "StripeImportReport", "import_stripe_log"]
