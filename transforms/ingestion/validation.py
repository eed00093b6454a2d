"""Validation: every landed line against the event contract (event_schema), in one SQL statement per chunk:
typed fields, and the first reason a row is unusable with its detail (docs/input-format.md, "Bad input")."""

from __future__ import annotations

from datetime import datetime

from transforms.core.sql_text import sql_string
from transforms.core.sql_types import REPORTING_CURRENCY
from transforms.ingestion import line_limits, strict_json
from transforms.ingestion.event_schema import REQUIRED_FIELDS, Field, stream_fields
from transforms.ingestion.instant_bounds import InstantBounds
from transforms.ingestion.instant_bounds import checks as instant_checks
from transforms.ingestion.readers import json_lines

# JSON's white space within a line (RFC 8259: space, tab, carriage return), as a DuckDB string of trim characters.
JSON_WHITESPACE = "(' ' || chr(9) || chr(13))"


def _field_text(position: int) -> str:
    # JSON null, absent and blank all mean "not given". trim() strips only ' ' among ASCII characters
    # (and Unicode space separators), so an ASCII text that neither starts nor ends with ' ' is already
    # trimmed: checking that is cheaper than trim's copy of every field of every line.
    text = f"field_texts[{position}]"
    return (
        f"case when strlen({text}) = length({text}) and not starts_with({text}, ' ') "
        f"and not ends_with({text}, ' ') then nullif({text}, '') else nullif(trim({text}), '') end"
    )


def validate_lines(con, stream: str, json_files: list[str], absolute: dict[str, str], bounds: InstantBounds,
                    max_line_bytes: int = line_limits.DEFAULT_MAX_LINE_BYTES) -> None:
    """_validate, with the test for JSON objects and arrays in text fields only where one may be. Any extra
    test per row costs about 6% of a large load, and such values are rare; so the lines are validated
    again with it only when an accepted text value starts like one. The probe is written as ranges
    ('[' <= v < '\\' or '{' <= v < '|': v starts with '[' or '{'), which DuckDB answers from each column's
    min/max statistics without reading the values when none can match."""
    ceiling = bounds.ceiling()  # one clock for the whole chunk
    limits = {"bounds": bounds, "ceiling": ceiling, "max_line_bytes": max_line_bytes}
    _validate(con, stream, json_files, absolute, nested_values=False, **limits)
    text = [f.name for f in stream_fields(stream) if f.kind == "text"]
    shaped = " or ".join(f"({name} >= '[' and {name} < '\\') or ({name} >= '{{' and {name} < '|')" for name in text)
    if con.sql(f"select count(*) from validated_events where reason is null and ({shaped})").fetchall()[0][0]:
        _validate(con, stream, json_files, absolute, nested_values=True, **limits)


def _validate(con, stream: str, json_files: list[str], absolute: dict[str, str], *, nested_values: bool,
              bounds: InstantBounds, ceiling: datetime, max_line_bytes: int) -> None:
    """Lines of the JSON files and of landed_lines -> validated_events: typed fields plus the first reason
    a row is unusable (its detail and raw text kept only for those rows). `nested_values`: also reject a
    JSON object or array in a text field."""
    fields = stream_fields(stream)
    required = REQUIRED_FIELDS[stream]
    known_currencies = f"(select currency from raw.fx_rates union select '{REPORTING_CURRENCY}')"

    paths = ", ".join(f"'$.{f.name}'" for f in fields)
    texts = ",\n".join(f"{_field_text(i)} as t_{f.name}" for i, f in enumerate(fields, start=1))
    typed = ",\n".join(f"{_typed_expression(f)} as {f.name}" for f in fields)

    # (condition, reason, detail) in order: the first that holds gives the reason. A row rejected at read
    # (landed_lines.read_reason) keeps its own.
    checks: list[tuple[str, str, str]] = [
        ("read_reason is not null", "read_reason", "read_detail"),
        # strlen is the length DuckDB keeps with every string: no pass over the text
        (f"strlen(raw) > {int(max_line_bytes)}", line_limits.REASON,
         f"'a line of ' || format('{{:,}}', strlen(raw)) || ' bytes is longer than SUBWH_MAX_LINE_BYTES "
         f"({int(max_line_bytes):,}); raw holds only its beginning'"),
        ("field_texts is null", "invalid_json", "'not a JSON object'"),
        # what DuckDB's parser tolerates beyond RFC 8259 (trailing commas, NaN, Infinity)
        # (on `raw`: the landed line itself for JSON files; CSV and Parquet rows are left out)
        (strict_json.lenient_condition("raw"), "invalid_json", strict_json.lenient_detail("raw")),
    ]
    for f in fields[:4]:
        checks.append((f"t_{f.name} is null", "missing_field", f"'missing {f.name}'"))
    event_types = ", ".join(sql_string(t) for t in required)
    checks.append(
        (f"t_event_type not in ({event_types})", "unknown_event_type",
         f"'event_type ' || t_event_type || ' is not a {stream} type'")
    )
    for event_type, names in required.items():
        for name in names:
            checks.append(
                (f"t_event_type = '{event_type}' and t_{name} is null", "missing_field",
                 f"'{event_type} needs {name}'")
            )
    for f in fields:
        bad = _wrong_type_condition(f)
        if bad:
            checks.append((f"t_{f.name} is not null and ({bad})", "wrong_type",
                           f"'{f.name}=' || t_{f.name} || ' is not {_kind_label(f)}'"))
    nested_value = _nested_value_check(fields) if nested_values else None
    if nested_value:
        checks.append(nested_value)
    for f in fields:
        if f.non_negative:
            checks.append((f"{f.name} < 0", "negative_value", f"'{f.name}=' || t_{f.name} || ' is negative'"))
    for f in fields:
        if f.minimum is not None:
            checks.append((f"{f.name} < {f.minimum}", "wrong_type",
                           f"'{f.name}=' || t_{f.name} || ' is below {f.minimum}'"))
        if f.kind == "percent":
            checks.append((f"{f.name} > 100", "wrong_type", f"'{f.name}=' || t_{f.name} || ' is above 100'"))
        if f.kind == "currency":
            checks.append((f"{f.name} not in {known_currencies}", "unknown_currency",
                           f"'no FX rate for currency ' || {f.name}"))
    checks += instant_checks({f.name for f in fields}, bounds, ceiling, shown=lambda name: f"t_{name}")
    reason = "case " + " ".join(f"when {c} then {r if r == 'read_reason' else sql_string(r)}" for c, r, _ in checks) + " end"
    detail = "case " + " ".join(f"when {c} then {d}" for c, _, d in checks) + " end"
    sources = ["select source_file, line_number, raw, record, read_reason, read_detail from landed_lines"]
    if json_files:
        sources.insert(0, "select source_file, line_number, raw, raw as record, null::varchar as read_reason, "
                          f"null::varchar as read_detail from ({json_lines(json_files, absolute)})")
    con.execute("drop table if exists validated_events")
    con.execute(
        f"""
        create temp table validated_events as
        with lines as ({" union all ".join(sources)}),
        parsed as (
            -- one JSON parse per line: every field's text at once. The starts_with tests come first
            -- so that the copies ltrim and trim make are only paid for the odd line.
            select source_file, line_number, raw, read_reason, read_detail,
                   case when (case when starts_with(record, '{{') then true
                                   else starts_with(ltrim(record, {JSON_WHITESPACE}), '{{') end)
                        -- try(): NULL where the text is not valid JSON (the same parser as json_valid)
                        then try(json_extract_string(record, [{paths}])) end as field_texts
            from lines
            -- blank lines (nothing but JSON's white space) carry no event
            where read_reason is not null
               or (record is not null and (starts_with(record, '{{') or trim(record, {JSON_WHITESPACE}) <> ''))
        ),
        texts as (select source_file, line_number, raw, read_reason, read_detail, field_texts, {texts} from parsed),
        typed as (select *, {typed} from texts),
        judged as (select *, {reason} as reason from typed)
        select source_file, line_number, {", ".join(f.name for f in fields)}, reason,
               -- the detail repeats the checks, so it is worked out for rejected rows only
               case when reason is not null then {detail} end as detail,
               case when reason = '{line_limits.REASON}' and strlen(raw) > {int(max_line_bytes)}
                    then left(raw, {line_limits.PREVIEW_BYTES}) when reason is not null then raw end as raw
        from judged
        """
    )


def _typed_expression(f: Field) -> str:
    t = f"t_{f.name}"
    if f.kind == "timestamp":
        # DuckDB's cast refuses ISO 8601's lower-case z for UTC
        utc = f"case when ends_with({t}, 'z') then left({t}, -1) || 'Z' else {t} end"
        return f"try_cast(try_cast({utc} as timestamptz) as timestamp)"
    if f.kind == "date":
        return f"try_cast({t} as date)"
    if f.kind in ("money", "percent"):
        return f"try_cast({t} as {f.sql_type})"
    if f.kind == "integer":
        return f"try_cast(try_cast({t} as decimal(18, 6)) as integer)"
    if f.kind == "quantity":
        return f"try_cast({t} as double)"
    if f.kind == "currency":
        return f"upper({t})"
    return t


def _wrong_type_condition(f: Field) -> str | None:
    t = f"t_{f.name}"
    if f.kind == "timestamp":
        # ISO-8601 with an explicit offset: a local time without one is ambiguous.
        # an offset is at most 23:59 (DuckDB would carry +25:00 over into the next day)
        return (f"{f.name} is null or not regexp_matches({t}, "
                r"'^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|z|[+-]([01]\d|2[0-3])(:?[0-5]\d)?)$')")
    if f.kind == "date":
        return rf"{f.name} is null or not regexp_matches({t}, '^\d{{4}}-\d{{2}}-\d{{2}}$')"
    # DuckDB's casts take `_` between digits ("4_9" is 49); JSON and CSV numbers do not
    if f.kind in ("money", "percent", "quantity"):
        extra = " or isinf(" + f.name + ") or isnan(" + f.name + ")" if f.kind == "quantity" else ""
        return f"{f.name} is null{extra} or contains({t}, '_')"
    if f.kind == "integer":
        return f"{f.name} is null or try_cast({t} as decimal(18, 6)) <> {f.name} or contains({t}, '_')"
    if f.kind == "enum":
        return f"{t} not in ({', '.join(sql_string(a) for a in f.allowed)})"
    if f.kind == "currency":
        return rf"not regexp_matches({t}, '^[A-Za-z]{{3}}$')"
    return None  # text: see _nested_value_check


def _nested_value_check(fields: tuple[Field, ...]) -> tuple[str, str, str] | None:
    """(condition, reason, detail) for a JSON object or array in a text field: json_extract_string hands
    back its JSON, which is not text. One test for all text fields (is any value shaped like one?) keeps
    the common row cheap; the JSON type is looked up only for the rare row where one is."""
    text = [f for f in fields if f.kind == "text"]
    if not text:
        return None
    shaped = " or ".join(f"starts_with(t_{f.name}, '{{') or starts_with(t_{f.name}, '[')" for f in text)

    # `raw` is the record itself for JSON lines and Parquet rows (a CSV line is not JSON: try() gives NULL,
    # and a CSV cell is text anyway); looking at `raw` spares carrying `record` through every step
    def nested(f: Field) -> str:
        return f"try(json_type(raw, '$.{f.name}')) in ('OBJECT', 'ARRAY')"

    detail = "case " + " ".join(
        f"when {nested(f)} then '{f.name}=' || t_{f.name} || ' is not {_kind_label(f)}'" for f in text) + " end"
    return f"({shaped}) and ({' or '.join(nested(f) for f in text)})", "wrong_type", detail


def _kind_label(f: Field) -> str:
    return {
        "timestamp": "an ISO-8601 timestamp with offset",
        "date": "a YYYY-MM-DD date",
        "money": "a decimal amount",
        "percent": "a number",
        "integer": "a whole number",
        "quantity": "a number",
        "enum": "one of " + "/".join(f.allowed),
        "currency": "a 3-letter currency code",
    }.get(f.kind, "text (not a JSON object or array)")


