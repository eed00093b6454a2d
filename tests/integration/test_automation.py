"""Declarative automation, tick by tick, as the `warehouse_automation` sensor would evaluate it.

`dg.evaluate_automation_conditions` evaluates every asset's AutomationCondition against a Dagster
instance; the runs it asks for are then executed in this process, as the daemon would launch them. The
landing folder is the story of tests/integration/test_serving.py (version 1, then version 2).
"""

import threading

import dagster as dg
import duckdb
import pytest

import transforms.ingestion
from orchestration.assets.serving import SERVING_KEY
from orchestration.automation import INGESTION_KEYS
from orchestration.definitions import build_definitions
from orchestration.settings import Settings
from tests.integration.test_serving import CLOSING, VERSION_1, VERSION_2
from tests.support.story import Landing

MRR = {dg.AssetKey(["marts", name]) for name in ("account_mrr_monthly", "mrr_movements", "mrr_waterfall")}
AFTER_THE_CHECKS = {dg.AssetKey(["reports", "revenue_report"]), dg.AssetKey(["exports", "follow_up"]), SERVING_KEY}


@pytest.fixture
def instance(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        yield instance


class Daemon:
    """Ticks of the automation sensor and the runs they request, against one instance."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance):
        self.defs, self.instance, self.cursor = defs, instance, None
        self.job = defs.resolve_implicit_global_asset_job_def()
        self.keys = defs.resolve_asset_graph().get_all_asset_keys()

    def tick(self, defs: dg.Definitions | None = None) -> set[dg.AssetKey]:
        result = dg.evaluate_automation_conditions(defs or self.defs, self.instance, cursor=self.cursor)
        if defs is None:  # a what-if evaluation with other conditions does not advance the sensor
            self.cursor = result.cursor
        return {key for key in self.keys if result.get_num_requested(key)}

    def run(self, keys: set[dg.AssetKey]) -> None:
        # Checks run with their assets, as in a run the daemon launches for these keys.
        result = self.job.get_subset(asset_selection=keys).execute_in_process(instance=self.instance)
        assert result.success


def plain_eager(defs: dg.Definitions) -> dg.Definitions:
    """The same assets with `AutomationCondition.eager()` alone, without the wait for ingestion."""
    def unguarded(spec: dg.AssetSpec) -> dg.AssetSpec:
        if spec.automation_condition is None:
            return spec
        return spec.replace_attributes(automation_condition=dg.AutomationCondition.eager())

    return dg.Definitions(assets=dg.map_asset_specs(unguarded, list(defs.assets)), resources=defs.resources)


def closing_mrr(serving) -> list[str]:
    with duckdb.connect(str(serving), read_only=True) as con:
        return [str(c) for (c,) in con.sql("select closing_mrr from marts.mrr_waterfall order by month").fetchall()]


def test_downstream_assets_follow_ingestion_once_it_has_finished(tmp_path, instance, monkeypatch):
    landing = Landing(tmp_path / "landing")
    landing.add(*VERSION_1)
    settings = Settings.from_env({"SUBWH_LANDING_DIR": str(landing.root),
                                  "SUBWH_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb")})
    defs = build_definitions(settings)
    daemon = Daemon(defs, instance)
    ingestion = set(INGESTION_KEYS)
    below_ingestion = daemon.keys - ingestion

    # Nothing has landed yet: nothing to do.
    assert daemon.tick() == set()

    # A fresh instance, the first batch (the landing sensor's ingestion run). No blocking check has run
    # yet, so the first downstream run builds the models and runs their checks; the report, the CRM
    # export and the publication follow in a second run, once the checks have passed.
    daemon.run(ingestion)
    models = daemon.tick()
    assert models >= MRR
    assert models == below_ingestion - AFTER_THE_CHECKS
    daemon.run(models)
    assert daemon.tick() == AFTER_THE_CHECKS
    daemon.run(AFTER_THE_CHECKS)
    assert daemon.tick() == set(), "the publication's own run does not trigger anything again"
    assert closing_mrr(settings.serving_path) == CLOSING["v1"]

    # The next batch. The ingestion run loads the reference files first and the event streams after:
    # hold it at its first event stream, with raw.plans and raw.fx_rates already materialized.
    landing.add(*VERSION_2)
    loading, release = threading.Event(), threading.Event()
    load_stream = transforms.ingestion.load_stream

    def held_load_stream(*args, **kwargs):
        loading.set()
        assert release.wait(timeout=120), "the test never released the ingestion run"
        return load_stream(*args, **kwargs)

    monkeypatch.setattr(transforms.ingestion, "load_stream", held_load_stream)
    failures = []

    def ingest():
        try:
            daemon.run(ingestion)
        except BaseException as error:  # reported by the test, not lost in the thread
            failures.append(repr(error))

    ingestion_run = threading.Thread(target=ingest)
    ingestion_run.start()
    try:
        assert loading.wait(timeout=120), "the ingestion run never reached the event streams"
        # Plain eager() would already start most of the models (and the publication's inputs) on the
        # new reference data, without the events still loading...
        assert daemon.tick(plain_eager(defs)) >= MRR
        # ...follows_inputs() waits while any ingestion asset is still planned or running.
        assert daemon.tick() == set()
    finally:
        release.set()
        ingestion_run.join(timeout=120)
    assert failures == []

    # Ingestion finished. The checks passed against the marts' current version, so this time
    # everything below ingestion, publication last, is one run.
    everything = daemon.tick()
    assert everything >= MRR
    assert everything == below_ingestion
    daemon.run(everything)
    assert daemon.tick() == set()
    assert closing_mrr(settings.serving_path) == CLOSING["v2"]
