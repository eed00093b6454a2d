"""The Stripe API pull as an ingestion asset: only in the definitions when a Stripe key is configured.

`build_definitions` adds `stripe_import_asset()` (key landing/stripe) and the `stripe_api` resource when
the key's variable (STRIPE_API_KEY, or the one SUBWH_STRIPE_API_KEY_ENV names) is set, and makes every
raw asset depend on it, so a scheduled or UI run pulls what is new from Stripe into the landing folder
before the files load. The key reaches the resource as `dg.EnvVar`: run configuration shows the
variable's name, never its value; metadata and logs never hold it (transforms/stripe/api.py).
"""


from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from orchestration.assets.ingestion import GROUP
from orchestration.resources import Warehouse

STRIPE_KEY = dg.AssetKey(["landing", "stripe"])


class StripeApi(dg.ConfigurableResource):
    """Where and how to reach the Stripe API. Give `api_key` as dg.EnvVar(NAME), never as a value."""

    api_key: str
    api_base: str = ""  # empty: Stripe's own (https://api.stripe.com)
    key_source: str = "STRIPE_API_KEY"  # the variable's name, for messages


def stripe_import_asset() -> dg.AssetsDefinition:
    @dg.asset(
        key=STRIPE_KEY,
        group_name=GROUP,
        kinds={"stripe", "json"},
        description=(
            "Pulls what is new from the Stripe API into the landing folder (docs/stripe-api.md): events since the "
            "last pull's cursor and, on the first pull, a backfill of older customers, subscriptions and invoices; "
            "then imports them as landing files (docs/input-format.md). Every raw asset waits for it."
        ),
    )
    def stripe_import(context: dg.AssetExecutionContext, warehouse: Warehouse, stripe_api: StripeApi):
        from orchestration.stripe_pull import pull_summary_lines
        from transforms.stripe import StripeImportError
        from transforms.stripe.api import StripePullError, pull_stripe

        try:
            report = pull_stripe(
                Path(warehouse.landing_dir), api_key=stripe_api.api_key, api_base=stripe_api.api_base or None,
                key_source=f"${stripe_api.key_source}", progress=context.log.info,
            )
        except (StripePullError, StripeImportError) as error:
            # one line, without the key; the landing folder and the cursor are as they were
            raise dg.Failure(description=str(error)) from None
        for line in pull_summary_lines(report):
            context.log.info(line)
        written: dict = {}
        if report.import_report is not None:
            for line in report.import_report.summary_lines():
                context.log.info(line)
            written = dict(report.import_report.rows_written)
        return dg.MaterializeResult(metadata={
            "events_pulled": sum(report.events_by_type.values()),
            "events_pulled_by_type": dg.MetadataValue.json(dict(report.events_by_type)),
            "backfilled_by_type": dg.MetadataValue.json(dict(report.backfill_by_type)),
            "written_by_stream": dg.MetadataValue.json(written),
            "cursor": dg.MetadataValue.text(report.cursor or ""),
            "first_pull": report.first_pull,
            "rate_limit_retries": report.rate_limit_retries,
            "pull_file": dg.MetadataValue.path(str(report.pull_file) if report.pull_file else ""),
        })

    return stripe_import


def with_stripe_import(assets: Sequence) -> list:
    """`assets` (the package's) with the ingestion assets rebuilt to depend on landing/stripe, plus the pull."""
    from orchestration.assets import ingestion
    from transforms.ingestion import STREAMS

    rebuilt = {*ingestion.reference_data.keys, *(a.key for a in ingestion.event_streams)}
    return [
        *(a for a in assets if not (isinstance(a, dg.AssetsDefinition) and set(a.keys) & rebuilt)),
        ingestion.reference_data_asset(deps=(STRIPE_KEY,)),
        *(ingestion.event_stream_asset(stream, extra_deps=(STRIPE_KEY,)) for stream in STREAMS),
        stripe_import_asset(),
    ]
