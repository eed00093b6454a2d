"""De-duplication: an event delivered twice (the same `event_id`, in this chunk, in an earlier load, or in
another stream) is skipped when its payload is identical and quarantined as `conflicting_duplicate` when not."""

from __future__ import annotations

from transforms.core.sql_text import sql_string
from transforms.ingestion.event_schema import STREAMS, stream_fields


def find_redeliveries(con, stream: str) -> None:
    """validated_events -> suspect_events: re-deliveries, identical (is_repeat) or conflicting.

    Only rows whose event_id was seen before (in this chunk, in raw, or in another stream) need their
    payloads compared; everything else is accepted as is, which keeps a large load cheap."""
    names = [f.name for f in stream_fields(stream)]

    def payload(prefix: str = "") -> str:
        return "to_json(struct_pack(" + ", ".join(f"{n} := {prefix}{n}" for n in names) + "))::varchar"

    others = [s for s in STREAMS if s != stream]
    # Earlier loads are searched only within the chunk's range of ids, given as constants: DuckDB then
    # skips the row groups of raw tables whose min/max statistics lie outside it. Ids that grow over
    # time (most event logs) make this a read of a few row groups instead of whole tables, so a load
    # costs the same on the first day and after years of history.
    low, high = con.sql("select min(event_id), max(event_id) from validated_events where reason is null").fetchall()[0]
    def in_range(column: str) -> str:
        return f"{column} between {sql_string(low)} and {sql_string(high)}" if low is not None else "false"

    def earlier(table: str, ids: str) -> str:
        return f"select event_id from {table} where {in_range('event_id')} and event_id in (select event_id from {ids})"

    con.execute(
        f"""
        create temp table suspect_events as
        with valid as (select event_id from validated_events where reason is null),
        repeated_here as (select event_id from valid group by event_id having count(*) > 1),
        loaded_before as ({earlier(f"raw.{stream}", "valid")}),
        in_other_streams as (
            {" union ".join(earlier(f"raw.{s}", "valid") for s in others)}
        ),
        suspect_ids as (
            select event_id from repeated_here union select event_id from loaded_before
            union select event_id from in_other_streams
        ),
        suspects as (
            select v.*, {payload("v.")} as payload,
                   row_number() over (partition by v.event_id order by v.source_file, v.line_number) as delivery
            from validated_events v semi join suspect_ids using (event_id)
            where v.reason is null
        ),
        first_delivery as (select event_id, payload from suspects where delivery = 1),
        already_loaded as (
            select r.event_id, {payload("r.")} as payload
            from raw.{stream} r
            where {in_range('r.event_id')} and r.event_id in (select event_id from suspect_ids)
        )
        select s.source_file, s.line_number,
            case
                when s.event_id in (select event_id from in_other_streams) then 'conflicting_duplicate'
                -- once loaded, the loaded payload is the one every later delivery must match, whatever
                -- this chunk delivered first
                when a.payload is not null then
                    case when a.payload <> s.payload then 'conflicting_duplicate' end
                when s.delivery > 1 and s.payload <> f.payload then 'conflicting_duplicate'
            end as duplicate_reason,
            a.payload is not null or s.delivery > 1 as is_repeat
        from suspects s
        join first_delivery f using (event_id)
        left join already_loaded a using (event_id)
        """
    )

