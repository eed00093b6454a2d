"""When assets below ingestion rebuild on their own: the one AutomationCondition they share.

`AutomationCondition.eager()` rebuilds an asset once any input updated and none is in progress. But
Dagster counts an input as no longer in progress as soon as it materialized, even while the run that
materialized it is still loading the other streams. A sensor-started ingestion run materializes
raw.plans and raw.fx_rates first and raw.subscription_events seconds later; plain eager() starts the
FX-dependent half of the marts (and a publication without the new events) in between, then rebuilds
everything again. Waiting until no ingestion asset is planned or running keeps one landing batch to
one downstream run that sees all of it.
"""

import functools
import operator

import dagster as dg

from orchestration.assets import ingestion

INGESTION_KEYS = tuple(
    sorted({*ingestion.reference_data.keys, *(asset.key for asset in ingestion.event_streams)}, key=str)
)


def ingestion_finished() -> dg.AutomationCondition:
    loading = functools.reduce(
        operator.or_, (dg.AutomationCondition.asset_matches(key, dg.AutomationCondition.in_progress())
                       for key in INGESTION_KEYS),
    )
    return (~loading).with_label("no ingestion run in progress")


def follows_inputs() -> dg.AutomationCondition:
    """For every asset below ingestion: rebuild after its inputs update, once ingestion has finished."""
    return (dg.AutomationCondition.eager() & ingestion_finished()).with_label("eager, after ingestion")
