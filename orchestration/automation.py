"""When assets below ingestion rebuild on their own: the one AutomationCondition they share.

`AutomationCondition.eager()` rebuilds an asset once any input updated and none is in progress. But
Dagster counts an input as no longer in progress as soon as it materialized, even while the run that
materialized it is still loading the other streams. A sensor-started ingestion run materializes
raw.plans and raw.fx_rates first and the event streams seconds later; plain eager() starts most of the
models (and the CRM export) in between, on the new reference data without the new events, then
rebuilds everything again. Waiting until no ingestion asset is planned or running means nothing below
ingestion starts before the whole batch is loaded.

What one landing batch then leads to (tests/integration/test_automation.py evaluates it tick by tick):
- Usually one downstream run. When every blocking check has passed against the marts' current version,
  the models, the sales lists, the report, the CRM export and the publication are all requested on the
  same tick, so they become one run, publication last; a check failing inside it skips what follows.
- Two downstream runs when a blocking check has not passed against the current marts: on an instance
  that has never run the checks (the first automated run; a warehouse built by an earlier version, which
  kept no check results beside the warehouse), or after a check failed. The first
  run rebuilds the models and runs their checks; the report, the CRM export and the publication wait
  for `all_deps_blocking_checks_passed()` and follow in a second run once the checks have passed.
"""

import functools
import operator

import dagster as dg

from orchestration.assets import ingestion
from orchestration.instance import WAREHOUSE_TAG, warehouse_tag_value

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


def for_warehouse(condition: dg.AutomationCondition, warehouse_path) -> dg.AutomationCondition:
    """`condition` following only updates made by runs on this warehouse (tagged `subwh/warehouse` with its
    path, orchestration/instance.py). An instance holds the runs of one warehouse, but one shared by
    hand (DAGSTER_HOME) or copied must never let a run on another warehouse start a run that rewrites this
    one: the run automation would launch writes the warehouse of its own code location, not the one the
    update came from. Definitions applies it to every asset's condition."""
    by_this_warehouse = (
        dg.AutomationCondition.newly_updated()
        & ~dg.AutomationCondition.executed_with_root_target()
        & dg.AutomationCondition.executed_with_tags(tag_values={WAREHOUSE_TAG: warehouse_tag_value(warehouse_path)})
    ).with_label("newly_updated_by_a_run_on_this_warehouse")
    return condition.replace("newly_updated_without_root", by_this_warehouse)
