"""Asset checks: the invariants that must hold before anyone reads the numbers."""


import dagster as dg

from orchestration.resources import Warehouse
from transforms.reconciliation import never_started_subscriptions, waterfall_breaks


@dg.asset_check(asset=["marts", "mrr_waterfall"], blocking=True,
                description="Every month: opening + movements + FX = closing to the cent, opening = last closing, "
                            "closing = sum of account_mrr_monthly, and the customer counts bridge.")
def mrr_waterfall_reconciles(warehouse: Warehouse) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        breaks = waterfall_breaks(con)
        months = con.sql("select count(*) from marts.mrr_waterfall").fetchall()[0][0]
    return dg.AssetCheckResult(
        passed=not breaks,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"months_checked": months, "months_not_reconciling": len(breaks),
                  "first_breaks": dg.MetadataValue.json([{k: str(v) for k, v in b.items()} for b in breaks[:5]])},
    )


@dg.asset_check(asset=["raw", "subscription_events"],
                description="Warns on events for subscriptions that never started; they take effect once the start lands.")
def subscriptions_have_started(warehouse: Warehouse) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        waiting = never_started_subscriptions(con)
    return dg.AssetCheckResult(
        passed=not waiting,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"subscriptions_waiting": len(waiting),
                  "examples": dg.MetadataValue.json([w["subscription_id"] for w in waiting[:10]])},
    )
