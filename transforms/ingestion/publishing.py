"""Publishing a validated chunk: accepted rows into `raw.<stream>`, rejected rows into `raw.quarantine` with
their text as landed, one row per file into `raw.loaded_files`, and the counts into the load's report."""

from __future__ import annotations

from transforms.ingestion.discovery import JSON_SUFFIXES
from transforms.ingestion.event_schema import stream_fields
from transforms.ingestion.instant_bounds import utc_now
from transforms.ingestion.outcome import LoadReport
from transforms.ingestion.readers import json_lines


def publish(con, stream: str, report: LoadReport, files: list[str], absolute: dict[str, str]) -> None:
    names = [f.name for f in stream_fields(stream)]
    now = utc_now()
    columns = ", ".join(names)
    skipped = con.sql(
        "select count(*) from suspect_events where is_repeat or duplicate_reason is not null"
    ).fetchall()[0][0]
    # Usually nothing is a re-delivery: then every valid row goes in without an anti-join.
    not_skipped = (
        """and not exists (select 1 from suspect_events s
                           where s.source_file = v.source_file and s.line_number = v.line_number
                             and (s.is_repeat or s.duplicate_reason is not null))"""
        if skipped else ""
    )
    con.execute(
        f"""
        insert into raw.{stream} ({columns}, source_file, line_number, ingested_at)
        select {columns}, source_file, line_number, ?::timestamp
        from validated_events v
        where reason is null {not_skipped}
        """,
        [now],
    )
    con.execute(
        "insert into raw.quarantine select source_file, line_number, raw, reason, detail, ?, ?::timestamp "
        "from validated_events where reason is not null",
        [stream, now],
    )
    conflicts = con.sql("select count(*) from suspect_events where duplicate_reason is not null").fetchall()[0][0]
    if conflicts:
        _stage_conflicting_lines(con, absolute)
        con.execute(
            """
            insert into raw.quarantine
            select s.source_file, s.line_number, l.raw, s.duplicate_reason,
                   'event_id ' || v.event_id || ' was already delivered with a different payload', ?, ?::timestamp
            from suspect_events s
            join validated_events v using (source_file, line_number)
            join conflicting_lines l using (source_file, line_number)
            where s.duplicate_reason is not null
            """,
            [stream, now],
        )
    # One row per file into raw.loaded_files, straight from the chunk's tables (a daily backfill has
    # thousands of files: one statement, not one insert each).
    per_file = con.execute(
        """
        insert into raw.loaded_files (source_file, stream, rows_read, rows_loaded, rows_duplicate,
                                      rows_quarantined, loaded_at)
        with outcome as (
            -- validated_events holds every non-blank line: what a file delivered
            select source_file,
                   count(*) as rows_read,
                   count(*) filter (where reason is null) as valid,
                   count(*) filter (where reason is not null) as quarantined_invalid
            from validated_events group by all
        ),
        repeats as (
            select source_file,
                   count(*) filter (where duplicate_reason is null and is_repeat) as duplicates,
                   count(*) filter (where duplicate_reason is not null) as conflicts
            from suspect_events group by all
        )
        select f.source_file, ?, coalesce(o.rows_read, 0),
               coalesce(o.valid, 0) - coalesce(a.duplicates, 0) - coalesce(a.conflicts, 0),
               coalesce(a.duplicates, 0),
               coalesce(o.quarantined_invalid, 0) + coalesce(a.conflicts, 0),
               ?::timestamp
        from (select unnest(?::varchar[]) as source_file) f
        left join outcome o using (source_file)
        left join repeats a using (source_file)
        order by f.source_file
        returning rows_read, rows_loaded, rows_duplicate
        """,
        [stream, now, files],
    ).fetchall()
    report.rows_read += sum(r[0] for r in per_file)
    report.rows_loaded += sum(r[1] for r in per_file)
    report.rows_duplicate += sum(r[2] for r in per_file)
    quarantined = dict(
        con.execute(
            """
            select reason, count(*) from (
                select reason from validated_events where reason is not null
                union all select duplicate_reason from suspect_events where duplicate_reason is not null
            ) group by all order by 1
            """
        ).fetchall()
    )
    for reason, count in quarantined.items():
        report.quarantined_by_reason[reason] = report.quarantined_by_reason.get(reason, 0) + count


def _stage_conflicting_lines(con, absolute: dict[str, str]) -> None:
    """conflicting_lines(source_file, line_number, raw): the text of the lines quarantined as conflicting
    duplicates (valid rows keep no text in validated_events, so their files are read again; rare)."""
    wanted = [r[0] for r in con.sql(
        "select distinct source_file from suspect_events where duplicate_reason is not null order by 1"
    ).fetchall()]
    # JSON files read in Python (not UTF-8 throughout) have their lines in landed_lines already.
    in_landed_lines = {r[0] for r in con.execute(
        "select distinct source_file from landed_lines where source_file in (select unnest(?::varchar[]))", [wanted]
    ).fetchall()}
    json_files = [f for f in wanted if f.lower().endswith(JSON_SUFFIXES) and f not in in_landed_lines]
    sources = ["select source_file, line_number, raw from landed_lines"]
    if json_files:
        sources.insert(0, json_lines(json_files, absolute))
    con.execute(
        f"""
        create temp table conflicting_lines as
        select lines.* from ({" union all ".join(sources)}) as lines
        semi join (select source_file, line_number from suspect_events where duplicate_reason is not null) as c
            using (source_file, line_number)
        """
    )

