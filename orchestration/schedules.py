"""The daily safety net: materialize every asset once a day, whatever the sensor saw.

Time and time zone come from SUBWH_SCHEDULE_CRON / SUBWH_SCHEDULE_TIMEZONE (default 02:00 UTC).
"""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg

from orchestration.instance import run_tags
from orchestration.settings import Settings

SCHEDULE_NAME = "daily_refresh"


def build_daily_schedule(settings: Settings) -> dg.ScheduleDefinition:
    try:
        ZoneInfo(settings.schedule_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"SUBWH_SCHEDULE_TIMEZONE={settings.schedule_timezone!r} is not an IANA time zone "
            "(for example UTC, Europe/Berlin, America/New_York)"
        ) from None
    try:
        return dg.ScheduleDefinition(
            name=SCHEDULE_NAME,
            cron_schedule=settings.schedule_cron,
            execution_timezone=settings.schedule_timezone,
            target=dg.AssetSelection.all(),
            default_status=dg.DefaultScheduleStatus.RUNNING,
            tags=run_tags(settings.landing_dir, settings.warehouse_path),
            description=(
                f"Materializes every asset ({settings.schedule_cron}, {settings.schedule_timezone}): loads any "
                "file the sensor missed, rebuilds the marts and republishes the serving database."
            ),
        )
    except dg.DagsterInvalidDefinitionError as error:
        raise ValueError(
            f"SUBWH_SCHEDULE_CRON={settings.schedule_cron!r} is not a cron string "
            f"(five fields, for example '0 2 * * *' for 02:00 daily): {error}"
        ) from None
