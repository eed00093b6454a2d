"""The landing sensor, the daily schedule and the automation wiring, evaluated without a daemon."""

import os
import random
from datetime import UTC, datetime

import dagster as dg
import pytest

from orchestration import sensors
from orchestration.assets.serving import SERVING_KEY
from orchestration.definitions import build_definitions
from orchestration.schedules import build_daily_schedule
from orchestration.sensors import EDGE_NS, LandedFile, LandingCursor, build_landing_sensor
from orchestration.settings import WAREHOUSE_POOL, Settings
from tests.support.story import Landing, account, starts


@pytest.fixture
def landing(tmp_path):
    return Landing(tmp_path / "landing")


def settings_for(tmp_path, **env) -> Settings:
    return Settings.from_env(
        {"SUBWH_LANDING_DIR": str(tmp_path / "landing"), "SUBWH_WAREHOUSE_PATH": str(tmp_path / "w.duckdb"), **env}
    )


def evaluate(sensor: dg.SensorDefinition, cursor: str | None):
    return sensor.evaluate_tick(dg.build_sensor_context(cursor=cursor))


def test_new_files_start_one_run_and_the_same_files_none(tmp_path, landing):
    sensor = build_landing_sensor(settings_for(tmp_path))
    first = evaluate(sensor, None)  # the reference files are new at the first look
    assert len(first.run_requests) == 1

    landing.add(account("A", on="2025-01-02"), starts("A", on="2025-01-05"))  # two new files
    burst = evaluate(sensor, first.cursor)
    assert len(burst.run_requests) == 1
    assert burst.run_requests[0].tags["subwh/new_files"] == "2"

    again = evaluate(sensor, burst.cursor)
    assert again.run_requests == []
    assert again.skip_message == "no new files"


def test_run_key_makes_a_restarted_sensor_safe(tmp_path, landing):
    # A sensor that crashed after requesting a run but before saving its cursor sees the same files
    # again: the same run key, which Dagster refuses to launch twice.
    sensor = build_landing_sensor(settings_for(tmp_path))
    cursor = evaluate(sensor, None).cursor
    landing.add(account("A", on="2025-01-02"))
    once = evaluate(sensor, cursor).run_requests[0].run_key
    twice = evaluate(sensor, cursor).run_requests[0].run_key
    assert once == twice
    landing.add(account("B", on="2025-01-03"))
    assert evaluate(sensor, cursor).run_requests[0].run_key != once


def test_a_file_copied_with_an_old_modification_time_still_triggers(tmp_path, landing):
    sensor = build_landing_sensor(settings_for(tmp_path))
    cursor = evaluate(sensor, None).cursor
    [late] = landing.add(account("A", on="2024-06-01"), suffix="-late")
    os.utime(late, (0, 0))  # `cp -p` or rsync keep the sender's mtime; arrival time is what counts
    result = evaluate(sensor, cursor)
    assert len(result.run_requests) == 1


def test_a_file_stamped_in_the_future_does_not_hide_later_files():
    now = 1_000 * 10**9
    future = LandedFile("usage_events/2025-03-01.jsonl", now + 3600 * 10**9)  # a skewed file server
    cursor = LandingCursor().advance([future], listed_ns=now)
    assert cursor.new_files([future]) == []
    later = LandedFile("usage_events/2025-03-02.jsonl", now + 60 * 10**9)
    assert cursor.new_files([future, later]) == [later]


SECOND = 10**9


def test_the_cursor_stays_small_with_thousands_of_files(tmp_path, landing, monkeypatch):
    # 3,000 files landed at once (a backfill, a generated folder): the first look names them all once,
    # in the run it requests; from the next look on, the cursor holds no file names at all.
    for day in range(1000):
        for stream in ("subscription_events", "billing_events", "usage_events"):
            (landing.root / stream / f"2024-{day:04d}.jsonl").write_text("{}\n")
    sensor = build_landing_sensor(settings_for(tmp_path))
    first = evaluate(sensor, None)
    assert first.run_requests[0].tags["subwh/new_files"] == "3002"  # and the two reference files
    first_look = LandingCursor.parse(first.cursor).listed_ns
    result = first
    for minutes in (1, 3, 60):  # the sensor looks again, minutes later: nothing new, nothing named
        later = first_look + minutes * 60 * SECOND
        monkeypatch.setattr(sensors.time, "time_ns", lambda at=later: at)
        result = evaluate(sensor, result.cursor)
        assert result.run_requests == []
    assert len(result.cursor) < 60, result.cursor  # {"listed_ns": ..., "edge": []}
    assert LandingCursor.parse(result.cursor).edge == frozenset()
    # (that a file landing after a look is never missed: the next test)


def test_no_file_is_missed_or_reported_twice_while_files_land_during_listings():
    """Files land while the sensor lists the folder (a listing sees what landed before it started and
    some of what lands while it runs), with ctimes on a file server up to EDGE_NS behind or ahead of this
    host, or in the future. Every file is reported exactly once, and the cursor stays small."""
    rng = random.Random(17)
    clock = 1_700_000_000 * SECOND
    landed: list[tuple[int, LandedFile]] = []  # (true arrival on this host's clock, as the file server stamps it)
    reported: list[str] = []
    cursor = LandingCursor()
    biggest = 0
    for _ in range(400):
        for _ in range(rng.choice([0, 0, 1, 3, 40])):  # quiet spells and bursts
            clock += rng.randrange(0, 5 * SECOND)
            skew = rng.choice([0, 0, -EDGE_NS + SECOND, -30 * SECOND, 2 * SECOND, 3600 * SECOND])
            name = f"usage_events/f{len(landed):05d}.jsonl"
            landed.append((clock, LandedFile(name, clock + skew)))
        clock += rng.randrange(0, 90 * SECOND)
        started, listing_takes = clock, rng.randrange(0, 3 * SECOND)
        # files landing during the listing: some seen, some not (a folder already walked)
        during = []
        for _ in range(rng.choice([0, 2])):
            at = started + rng.randrange(0, listing_takes + 1)
            during.append((at, LandedFile(f"usage_events/d{len(landed):05d}.jsonl", at)))
        landed.extend(during)
        seen = [f for at, f in landed if at < started] + [f for _, f in during if rng.random() < 0.5]
        new = cursor.new_files(seen)
        reported += [f.name for f in new]
        cursor = cursor.advance(seen, listed_ns=started)
        biggest = max(biggest, len(cursor.serialize()))
        clock = started + listing_takes
    final = cursor.new_files([f for _, f in landed])
    reported += [f.name for f in final]
    assert sorted(reported) == sorted(f.name for _, f in landed)  # each exactly once
    assert len(landed) > 2000
    # names only of files landed in the EDGE_NS before a look (and of those stamped in the future)
    assert biggest < 8_000, biggest


def test_a_corrected_reference_file_triggers_once(tmp_path, landing):
    sensor = build_landing_sensor(settings_for(tmp_path))
    cursor = evaluate(sensor, None).cursor
    landing.write_fx([("2025-01", "EUR", "1.11")])
    corrected = evaluate(sensor, cursor)
    assert len(corrected.run_requests) == 1
    assert evaluate(sensor, corrected.cursor).run_requests == []


def test_sensor_waits_the_minimum_interval_and_starts_running(tmp_path):
    sensor = build_landing_sensor(settings_for(tmp_path, SUBWH_SENSOR_MIN_INTERVAL_SECONDS="120"))
    assert sensor.minimum_interval_seconds == 120
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert evaluate(sensor, None).skip_message.startswith("landing folder")  # no folder: skip, not fail


def test_daily_schedule_defaults_to_0200_utc_and_evaluates_to_a_run(tmp_path):
    schedule = build_daily_schedule(settings_for(tmp_path))
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *", "UTC")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2025, 3, 2, 2, 0, tzinfo=UTC))
    data = schedule.evaluate_tick(context)
    assert len(data.run_requests) == 1


def test_schedule_time_and_zone_come_from_the_environment(tmp_path):
    schedule = build_daily_schedule(
        settings_for(tmp_path, SUBWH_SCHEDULE_CRON="30 5 * * *", SUBWH_SCHEDULE_TIMEZONE="Europe/Berlin")
    )
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 5 * * *", "Europe/Berlin")
    with pytest.raises(ValueError, match="SUBWH_SCHEDULE_TIMEZONE='Europe/Berln' is not an IANA time zone"):
        build_daily_schedule(settings_for(tmp_path, SUBWH_SCHEDULE_TIMEZONE="Europe/Berln"))
    with pytest.raises(ValueError, match="SUBWH_SCHEDULE_CRON='at two' is not a cron string"):
        build_daily_schedule(settings_for(tmp_path, SUBWH_SCHEDULE_CRON="at two"))


def test_definitions_wire_automation_pools_and_publication(tmp_path):
    defs = build_definitions(settings_for(tmp_path))
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    assert {s.name: s.default_status for s in defs.sensors} == {
        "landing_files": dg.DefaultSensorStatus.RUNNING,
        "warehouse_automation": dg.DefaultSensorStatus.RUNNING,
    }
    # One writer: every asset opens the warehouse, so every one is in the pool the queue limits.
    assert {key.to_user_string() for key in keys if graph.get(key).pools != {WAREHOUSE_POOL}} == set()
    # Everything below ingestion follows its inputs by declarative automation, once ingestion finished
    # (orchestration/automation.py explains why plain eager() is not enough).
    not_automated = {
        key.to_user_string() for key in keys
        if key.path[0] != "raw" and "eager, after ingestion" not in labels(graph.get(key).automation_condition)
    }
    assert not_automated == set()
    # Publication is the last step: it depends on every other asset (the report and the CRM export too),
    # whoever added it, so a run in which anything fails publishes nothing.
    assert set(graph.get(SERVING_KEY).parent_keys) == keys - {SERVING_KEY}
    assert graph.get(SERVING_KEY).child_keys == set()


def labels(condition: dg.AutomationCondition | None) -> set[str]:
    if condition is None:
        return set()
    return {condition.get_label() or "", *(label for child in condition.children for label in labels(child))}


def test_the_cursor_of_earlier_versions_is_read():
    # {"watermark_ns", "recent"}: the watermark stands for the last look, the names for the edge (event
    # files were named without their arrival time: at worst they are reported once more, and ingestion
    # skips files already loaded)
    old = '{"watermark_ns": 5000000000000, "recent": ["reference/plans.csv@4999000000000"]}'
    cursor = LandingCursor.parse(old)
    plans = LandedFile("reference/plans.csv", 4_999 * SECOND)
    arrived = LandedFile("usage_events/2025-03-02.jsonl", 5_001 * SECOND)
    assert cursor.new_files([plans, arrived]) == [arrived]
    assert LandingCursor.parse(cursor.serialize()) == cursor
