"""Issue 18: no single line can stop the warehouse. Implausible instants, strict JSON, overlong lines, odd
files, healing a warehouse an earlier version loaded, and hostile text downstream (docs/bad-input.md)."""

import gzip
import json
from datetime import date, datetime, timedelta

import polars as pl
import pytest

from orchestration.cli import default_start_month, main
from orchestration.settings import Settings, SettingsError
from tests.support.story import Landing, account, build, fresh, invoice, rows, starts
from transforms.ingestion import line_limits, load_stream
from transforms.ingestion.instant_bounds import InstantBounds, heal_stream
from transforms.safe_text import markdown_cell, neutralize_csv_text
from transforms.sales import write_follow_up_csv
from transforms.sql_models import markdown_table

NOW = datetime(2026, 1, 15, 12, 0, 0)  # the load's clock in these tests (SUBWH_NOW)
BOUNDS = InstantBounds(now=NOW)


def usage_line(event_id, occurred_at="2025-01-01T00:00:00Z", **extra):
    event = {"event_id": event_id, "event_type": "usage", "occurred_at": occurred_at, "account_id": "A",
             "metric": "api_calls", "quantity": 1, **extra}
    return json.dumps(event, separators=(",", ":"))


def subscription_line(event_id, occurred_at, effective_at=None):
    event = {"event_id": event_id, "event_type": "subscription_canceled", "occurred_at": occurred_at,
             "account_id": "A", "subscription_id": "A-1"}
    if effective_at:
        event["effective_at"] = effective_at
    return json.dumps(event)


def invoice_line(event_id, occurred_at, period_start, period_end):
    return json.dumps({"event_id": event_id, "event_type": "invoice_issued", "occurred_at": occurred_at,
                       "account_id": "A", "invoice_id": "inv-" + event_id, "subscription_id": "A-1",
                       "amount": "10.00", "currency": "USD", "period_start": period_start, "period_end": period_end})


def outcome(con, stream):
    """{line number: reason or 'loaded'} of the stream's lines."""
    loaded = {r["line_number"]: "loaded" for r in rows(con, f"select line_number from raw.{stream}")}
    quarantined = {r["line_number"]: r["reason"] for r in rows(
        con, f"select line_number, reason from raw.quarantine where stream = '{stream}'")}
    return loaded | quarantined


def iso(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------ the issue's inputs


def test_the_issues_instants_are_quarantined_and_the_calendar_stays_the_datas(tmp_path):
    landing = Landing(tmp_path / "landing")
    landing.add(account("A", on="2025-01-02"), starts("A", on="2025-01-05", sub="A-1"))
    landing.add_lines("subscription_events", "bad.jsonl", [
        subscription_line("bad-1", "0000-01-01T00:00:00Z"),   # 1: year 0 broke staging.calendar
        subscription_line("bad-2", "9999-12-31T00:00:00Z"),   # 2: stretched the calendar to 95,712 months
    ])
    landing.add_lines("billing_events", "bad.jsonl", [
        invoice_line("bad-3", "2025-01-05T10:00:00Z", "0000-01-01", "2025-01-31"),  # stored as 0001-01-01 (BC)
    ])
    con = build(landing)
    quarantined = rows(con, "select source_file, line_number, reason, detail from raw.quarantine order by all")
    assert [(q["source_file"], q["line_number"], q["reason"]) for q in quarantined] == [
        ("billing_events/bad.jsonl", 1, "implausible_instant"),
        ("subscription_events/bad.jsonl", 1, "implausible_instant"),
        ("subscription_events/bad.jsonl", 2, "implausible_instant"),
    ]
    # the detail shows the value as landed, not as DuckDB typed it
    assert "period_start=0000-01-01 is more than 5 year(s) from occurred_at" in quarantined[0]["detail"]
    assert "occurred_at=0000-01-01T00:00:00Z is before 1990-01-01" in quarantined[1]["detail"]
    assert "occurred_at=9999-12-31T00:00:00Z is later than the load's clock + 24 h" in quarantined[2]["detail"]
    assert rows(con, "select min(month) as first, max(month) as last from staging.calendar") == [
        {"first": date(2025, 1, 1), "last": date(2025, 1, 1)}]


@pytest.mark.parametrize("line, detail", [
    # the issue's trailing comma and bare NaN, in a real event
    (usage_line("j1")[:-1] + ",}", "a trailing comma"),
    (usage_line("j2")[:-1] + ',"ratio":NaN}', "NaN or Infinity"),
    # what else DuckDB's parser tolerates: any case, signs, white space, nested
    (usage_line("j3")[:-1] + ' ,\t }', "a trailing comma"),
    (usage_line("j4")[:-1] + ',"tags":["a","b",]}', "a trailing comma"),
    (usage_line("j5")[:-1] + ',"x":{"y":1,}}', "a trailing comma"),
    (usage_line("j6").replace('"quantity":1', '"quantity":Infinity'), "NaN or Infinity"),
    (usage_line("j7").replace('"quantity":1', '"quantity":-inf'), "NaN or Infinity"),
    (usage_line("j8").replace('"quantity":1', '"quantity":nan'), "NaN or Infinity"),
    (usage_line("j9")[:-1] + ',"r":[1, -INFINITY]}', "NaN or Infinity"),
    (usage_line("j16").replace('"quantity":1', '"quantity": nAn'), "NaN or Infinity"),
    (usage_line("j17").replace('"quantity":1', '"quantity":\t-Inf'), "NaN or Infinity"),
    (usage_line("j18")[:-1] + ',\t}', "a trailing comma"),
    # white space after the last `}` (yyjson takes it): the pre-filter's end-of-line byte tests, before
    # issue 18's cheaper pre-filter, missed a trailing comma there
    (usage_line("j19")[:-1] + ',}\t', "a trailing comma"),
    (usage_line("j20")[:-1] + ',} ', "a trailing comma"),
    # a nested object's first member, and white space after its colon
    (usage_line("j21")[:-1] + ',"x":{"y":NaN}}', "NaN or Infinity"),
    (usage_line("j22")[:-1] + ',"x":{"y":\t \tINF,"z":1}}', "NaN or Infinity"),
    # what it refuses by itself (RFC 8259 does too)
    (usage_line("j10")[:-1] + ' /* comment */}', "not a JSON object"),
    (usage_line("j11") + " // comment", "not a JSON object"),
    (usage_line("j12").replace('"', "'"), "not a JSON object"),
    (usage_line("j13").replace('"metric"', "metric"), "not a JSON object"),
    (usage_line("j14").replace('"quantity":1', '"quantity":01'), "not a JSON object"),
    (usage_line("j15").replace('"quantity":1', '"quantity":+1'), "not a JSON object"),
])
def test_lines_that_are_not_strict_json_are_quarantined_as_invalid_json_with_the_line_kept(tmp_path, line, detail):
    landing, con = fresh(tmp_path)
    landing.add_lines("usage_events", "day.jsonl", [usage_line("ok-1"), line, usage_line("ok-3")])
    load_stream(con, landing.root, "usage_events", bounds=BOUNDS)
    assert outcome(con, "usage_events") == {1: "loaded", 2: "invalid_json", 3: "loaded"}
    [(raw, found)] = con.sql("select raw, detail from raw.quarantine").fetchall()
    assert raw == line
    assert detail in found


def test_strict_json_lookalikes_inside_strings_load(tmp_path):
    landing, con = fresh(tmp_path)
    lines = [
        usage_line("s1", metric="Financial, }"),
        usage_line("s2", metric="NaN"),
        usage_line("s3", metric='Infinity Corp ",] \\" nan'),
        usage_line("s4", note="Brian, ]", more=["inf", "a,}"]),
        json.dumps({"event_id": "s5", "event_type": "usage", "occurred_at": "2025-01-01T00:00:00Z",
                    "account_id": "A", "metric": "m", "quantity": 1, "nested": {"a": [1, 2], "b": None}}, indent=None),
    ]
    landing.add_lines("usage_events", "day.jsonl", lines)
    load_stream(con, landing.root, "usage_events", bounds=BOUNDS)
    assert outcome(con, "usage_events") == {n: "loaded" for n in range(1, 6)}


def test_a_csv_or_parquet_row_is_not_held_to_json_text(tmp_path):
    # a CSV cell "NaN, }" is text; a Parquet NaN quantity is a wrong number, not bad JSON
    landing, con = fresh(tmp_path)
    (landing.root / "usage_events" / "a.csv").write_text(
        "event_id,event_type,occurred_at,account_id,metric,quantity\n"
        'c1,usage,2025-01-01T00:00:00Z,A,"NaN, }",1\n')
    pl.DataFrame({"event_id": ["p1"], "event_type": ["usage"], "occurred_at": ["2025-01-01T00:00:00Z"],
                  "account_id": ["A"], "metric": ["m"], "quantity": [float("nan")]}
                 ).write_parquet(landing.root / "usage_events" / "b.parquet")
    load_stream(con, landing.root, "usage_events", bounds=BOUNDS)
    assert rows(con, "select source_file, reason from raw.quarantine") == [
        {"source_file": "usage_events/b.parquet", "reason": "wrong_type"}]
    assert [r["event_id"] for r in rows(con, "select event_id from raw.usage_events")] == ["c1"]


# ------------------------------------------------------------------------------------- bounds at their edges


def test_occurred_at_bounds_hold_to_the_second(tmp_path):
    landing, con = fresh(tmp_path)
    ceiling = NOW + timedelta(days=1)
    landing.add_lines("usage_events", "day.jsonl", [
        usage_line("e1", "1990-01-01T00:00:00Z"),                      # the floor itself
        usage_line("e2", "1989-12-31T23:59:59Z"),                      # one second before it
        usage_line("e3", iso(ceiling)),                                # the clock + 24 h
        usage_line("e4", iso(ceiling + timedelta(seconds=1))),         # one second later
        usage_line("e5", "1990-01-01T01:00:00+01:00"),                 # 1989-12-31T23:59:59Z + 1 s in UTC
        usage_line("e6", "1990-01-01T00:59:59+01:00"),                 # a second before the floor in UTC
    ])
    load_stream(con, landing.root, "usage_events", bounds=BOUNDS)
    assert outcome(con, "usage_events") == {1: "loaded", 2: "implausible_instant", 3: "loaded",
                                            4: "implausible_instant", 5: "loaded", 6: "implausible_instant"}


def test_effective_at_and_invoice_period_bounds_hold_at_their_edges(tmp_path):
    landing, con = fresh(tmp_path)
    at = "2025-06-15T12:00:00Z"
    landing.add_lines("subscription_events", "day.jsonl", [
        subscription_line("f1", at, "2030-06-15T12:00:00Z"),   # 5 years after
        subscription_line("f2", at, "2030-06-15T12:00:01Z"),   # and a second
        subscription_line("f3", at, "2024-06-15T12:00:00Z"),   # 1 year before
        subscription_line("f4", at, "2024-06-15T11:59:59Z"),   # and a second
    ])
    landing.add_lines("billing_events", "day.jsonl", [
        invoice_line("g1", at, "2020-06-15", "2030-06-15"),    # 5 years either side of the day
        invoice_line("g2", at, "2020-06-14", "2025-07-14"),    # a day too early
        invoice_line("g3", at, "2025-06-15", "2030-06-16"),    # a day too late
    ])
    load_stream(con, landing.root, "subscription_events", bounds=BOUNDS)
    load_stream(con, landing.root, "billing_events", bounds=BOUNDS)
    assert outcome(con, "subscription_events") == {1: "loaded", 2: "implausible_instant", 3: "loaded",
                                                   4: "implausible_instant"}
    assert outcome(con, "billing_events") == {1: "loaded", 2: "implausible_instant", 3: "implausible_instant"}


def test_bounds_are_configurable_and_read_from_the_environment():
    env = {"SUBWH_NOW": "2025-03-01T10:00:00+02:00", "SUBWH_OCCURRED_AT_FLOOR": "2020-01-01",
           "SUBWH_FUTURE_TOLERANCE_HOURS": "0", "SUBWH_EFFECTIVE_AT_YEARS_AFTER": "2",
           "SUBWH_EFFECTIVE_AT_YEARS_BEFORE": "0", "SUBWH_INVOICE_PERIOD_YEARS": "3", "SUBWH_MAX_LINE_BYTES": "5000"}
    settings = Settings.from_env(env)
    assert settings.instant_bounds == InstantBounds(
        occurred_at_floor=date(2020, 1, 1), future_tolerance=timedelta(0), effective_at_years_after=2,
        effective_at_years_before=0, invoice_period_years=3, now=datetime(2025, 3, 1, 8, 0, 0))
    assert settings.max_line_bytes == 5000
    assert Settings.from_env({}).instant_bounds == InstantBounds()


def test_a_tighter_bound_from_the_environment_quarantines_what_the_default_loads(tmp_path):
    landing, con = fresh(tmp_path)
    landing.add_lines("usage_events", "day.jsonl", [usage_line("t1", "2019-12-31T23:59:59Z"),
                                                    usage_line("t2", "2025-03-01T08:00:00Z"),
                                                    usage_line("t3", "2025-03-01T08:00:01Z")])
    bounds = Settings.from_env({"SUBWH_OCCURRED_AT_FLOOR": "2020-01-01", "SUBWH_NOW": "2025-03-01T10:00:00+02:00",
                                "SUBWH_FUTURE_TOLERANCE_HOURS": "0"}).instant_bounds
    load_stream(con, landing.root, "usage_events", bounds=bounds)
    assert outcome(con, "usage_events") == {1: "implausible_instant", 2: "loaded", 3: "implausible_instant"}


@pytest.mark.parametrize("name, value, words", [
    ("SUBWH_NOW", "yesterday", "is not an ISO-8601 instant"),
    ("SUBWH_NOW", "2025-03-01T10:00:00", "needs an offset"),
    ("SUBWH_OCCURRED_AT_FLOOR", "1990", "is not a date"),
    ("SUBWH_FUTURE_TOLERANCE_HOURS", "1.5", "is not a whole number of hours"),
    ("SUBWH_FUTURE_TOLERANCE_HOURS", "-1", "must be between 0 and 1000"),
    ("SUBWH_EFFECTIVE_AT_YEARS_AFTER", "many", "is not a whole number of years"),
    ("SUBWH_INVOICE_PERIOD_YEARS", "5000", "must be between 0 and 1000"),
    ("SUBWH_MAX_LINE_BYTES", "0", "must be at least 1"),
])
def test_a_bad_bound_stops_start_up_with_one_line_naming_it(tmp_path, capsys, monkeypatch, name, value, words):
    with pytest.raises(SettingsError, match=words):
        Settings.from_env({name: value})
    monkeypatch.setenv(name, value)
    assert main(["run", "--landing", str(tmp_path), "--warehouse", str(tmp_path / "w.duckdb")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and name in err and words in err


# ----------------------------------------------------------------------------------------------- healing


def test_a_warehouse_loaded_by_an_earlier_version_heals_on_the_next_run(tmp_path):
    landing = Landing(tmp_path / "landing")
    landing.add(account("A", on="2025-01-02"), starts("A", on="2025-01-05", sub="A-1", price="10.00"),
                account("B", on="2025-02-01"), starts("B", on="2025-02-03", sub="B-1", price="30.00"),
                invoice("A", on="2025-01-05", amount="10.00", sub="A-1"))
    clean = build(landing, tmp_path / "clean.duckdb")
    con = build(landing, tmp_path / "healed.duckdb")
    # What an earlier version let in, inserted the old way: straight into raw, typed.
    con.execute("""insert into raw.subscription_events (event_id, event_type, occurred_at, account_id, subscription_id,
                       source_file, line_number, ingested_at) values
                   ('old-1', 'subscription_canceled', '9999-12-31 00:00:00', 'A', 'A-1', 'subscription_events/old.jsonl', 1, now()),
                   ('old-2', 'subscription_canceled', '2025-03-01 00:00:00', 'B', 'B-1', 'subscription_events/old.jsonl', 2, now())""")
    con.execute("update raw.subscription_events set effective_at = '0000-01-01 00:00:00' where event_id = 'old-2'")
    con.execute("""insert into raw.billing_events (event_id, event_type, occurred_at, account_id, invoice_id,
                       subscription_id, amount, currency, period_start, period_end, source_file, line_number) values
                   ('old-3', 'invoice_issued', '2025-01-05 00:00:00', 'A', 'i', 'A-1', 10, 'USD', '0000-01-01',
                    '2025-01-31', 'billing_events/old.jsonl', 1)""")
    assert con.sql("select period_start::varchar from raw.billing_events where event_id = 'old-3'").fetchall() == [
        ("0001-01-01 (BC)",)]
    reports = {s: heal_stream(con, s, BOUNDS) for s in ("subscription_events", "billing_events", "usage_events")}
    assert {s: r.moved for s, r in reports.items()} == {"subscription_events": 2, "billing_events": 1, "usage_events": 0}
    moved = rows(con, "select source_file, line_number, reason, detail, raw from raw.quarantine order by all")
    assert [(m["source_file"], m["line_number"], m["reason"]) for m in moved] == [
        ("billing_events/old.jsonl", 1, "implausible_instant"),
        ("subscription_events/old.jsonl", 1, "implausible_instant"),
        ("subscription_events/old.jsonl", 2, "implausible_instant"),
    ]
    assert all("loaded by an earlier version" in m["detail"] for m in moved)
    assert json.loads(moved[1]["raw"])["event_id"] == "old-1"
    # the next run's models restate history: the marts equal a clean build of the same files
    build(landing, con=con)
    for table in ("staging.calendar", "marts.account_mrr_monthly", "marts.mrr_waterfall", "marts.mrr_movements"):
        assert con.sql(f"select * from {table} order by all").fetchall() == \
            clean.sql(f"select * from {table} order by all").fetchall(), table
    # a second run finds nothing more to do and does not re-check (the rules and the clock are unchanged)
    assert heal_stream(con, "subscription_events", BOUNDS).moved == 0


def test_healing_follows_a_tightened_bound_and_a_clock_set_back(tmp_path):
    landing, con = fresh(tmp_path)
    landing.add_lines("usage_events", "day.jsonl", [usage_line("h1", "2024-06-01T00:00:00Z"),
                                                    usage_line("h2", "2025-12-31T00:00:00Z")])
    load_stream(con, landing.root, "usage_events", bounds=BOUNDS)
    assert heal_stream(con, "usage_events", BOUNDS).moved == 0
    assert heal_stream(con, "usage_events", InstantBounds(now=datetime(2025, 6, 1))).moved == 1  # clock set back
    assert heal_stream(con, "usage_events", InstantBounds(now=NOW, occurred_at_floor=date(2025, 1, 1))).moved == 1
    assert outcome(con, "usage_events") == {1: "implausible_instant", 2: "implausible_instant"}


def test_rows_loaded_before_strict_json_name_the_command_that_reloads_them(tmp_path):
    landing, con = fresh(tmp_path)
    landing.add_lines("usage_events", "day.jsonl", [usage_line("l1")])
    con.execute("insert into raw.usage_events (event_id, event_type, occurred_at, account_id, metric, quantity) "
                "values ('x', 'usage', '2025-01-01', 'A', 'm', 1)")  # loaded by an earlier version
    message = heal_stream(con, "usage_events", BOUNDS).strict_json_message
    assert "raw.usage_events" in message and "`subwh run --full-rebuild`" in message
    # a table first loaded under today's rules has nothing to say
    assert heal_stream(con, "billing_events", BOUNDS).strict_json_message is None
    load_stream(con, landing.root, "billing_events", bounds=BOUNDS)
    assert heal_stream(con, "billing_events", BOUNDS).strict_json_message is None


# ------------------------------------------------------------------------------------------- size limits


def test_a_10_mb_line_is_quarantined_with_its_beginning_and_the_rest_of_the_file_loads(tmp_path):
    landing, con = fresh(tmp_path)
    huge = usage_line("big", metric="x" * 10_000_000)
    landing.add_lines("usage_events", "day.jsonl", [usage_line("a"), huge, usage_line("b")])
    report = load_stream(con, landing.root, "usage_events", bounds=BOUNDS)
    assert outcome(con, "usage_events") == {1: "loaded", 2: "line_too_long", 3: "loaded"}
    [(raw, detail)] = con.sql("select raw, detail from raw.quarantine").fetchall()
    assert raw == huge[:line_limits.PREVIEW_BYTES]
    assert f"a line of {len(huge):,} bytes is longer than SUBWH_MAX_LINE_BYTES (1,048,576)" in detail
    assert report.quarantined_by_reason == {"line_too_long": 1}


@pytest.mark.parametrize("gz", [False, True])
def test_the_line_limit_holds_to_the_byte_in_sql_and_in_python(tmp_path, gz):
    landing, con = fresh(tmp_path)
    at_limit = usage_line("l1", metric="m" * 200)
    limit = len(at_limit)
    lines = [at_limit, usage_line("l2", metric="m" * 201), usage_line("l3", metric="y" * 2_500_000)]
    text = ("\r\n".join(lines) + "\r\n").encode()  # CRLF: the ending does not count
    path = landing.root / "usage_events" / ("day.jsonl.gz" if gz else "day.jsonl")
    path.write_bytes(gzip.compress(text) if gz else text)
    load_stream(con, landing.root, "usage_events", bounds=BOUNDS, max_line_bytes=limit)
    # line 3 is over DuckDB's own maximum: the file is read in Python, with the same limit
    assert outcome(con, "usage_events") == {1: "loaded", 2: "line_too_long", 3: "line_too_long"}


def test_bounded_lines_never_returns_more_than_the_preview_of_an_overlong_line(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc\n" + b"x" * 50 + b"\r\n" + b"y" * 11 + b"\n" + b"z" * 5)
    with path.open("rb") as handle:
        assert list(line_limits.bounded_lines(handle, 10)) == [
            (b"abc\n", 3), (b"x" * 50 + b"\n", 50), (b"y" * 11 + b"\n", 11), (b"z" * 5, 5)]


def test_odd_files_each_land_what_they_can(tmp_path):
    landing, con = fresh(tmp_path)
    folder = landing.root / "usage_events"
    (folder / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + usage_line("o1").encode() + b"\n")
    (folder / "crlf.jsonl").write_bytes(usage_line("o2").encode() + b"\r\n" + usage_line("o3").encode() + b"\r\n")
    nul = usage_line("o4").encode()
    (folder / "nul.jsonl").write_bytes(nul[:30] + b"\x00" + nul[30:] + b"\n")
    flipped = bytearray(usage_line("o5").encode() + b"\n" + usage_line("o6").encode() + b"\n")
    flipped[20] ^= 0x80  # not UTF-8 any more
    flipped[flipped.rfind(b'"usage"') + 1] ^= 0x01  # line 2's event type: "tsage"
    (folder / "flip.jsonl").write_bytes(bytes(flipped))
    (folder / "odd name ü [1] *.jsonl").write_text(usage_line("o7") + "\n")
    (folder / "cut.jsonl").write_text(usage_line("o8") + "\n" + usage_line("o9")[:50])
    data = gzip.compress((usage_line("o10") + "\n").encode() * 200)
    (folder / "truncated.jsonl.gz").write_bytes(data[: len(data) // 2])
    (folder / "broken.parquet").write_bytes(b"PAR1" + b"\x00" * 64)
    report = load_stream(con, landing.root, "usage_events", bounds=BOUNDS)
    assert sorted(r[0] for r in con.sql("select event_id from raw.usage_events").fetchall()) == [
        "o1", "o2", "o3", "o7", "o8"]
    assert rows(con, "select source_file, line_number, reason from raw.quarantine order by all") == [
        {"source_file": "usage_events/cut.jsonl", "line_number": 2, "reason": "invalid_json"},
        {"source_file": "usage_events/flip.jsonl", "line_number": 1, "reason": "invalid_encoding"},
        {"source_file": "usage_events/flip.jsonl", "line_number": 2, "reason": "unknown_event_type"},
        {"source_file": "usage_events/nul.jsonl", "line_number": 1, "reason": "invalid_json"},
    ]
    assert sorted(report.unreadable_files) == ["usage_events/broken.parquet", "usage_events/truncated.jsonl.gz"]


# ------------------------------------------------------------------------------------------ hostile text

HOSTILE = "<script>alert(1)</script> | **bold** [x](javascript:alert(1)) `code`\n# heading\x00\x07"


def test_markdown_previews_show_hostile_names_as_text():
    cell = markdown_cell(HOSTILE)
    assert "<" not in cell and ">" not in cell and "\n" not in cell and "\x00" not in cell
    assert "&lt;script&gt;" in cell and "\\|" in cell and "\\*\\*bold\\*\\*" in cell and "\\[x\\]\\(" in cell
    assert markdown_cell("x" * 5000) == "x" * 199 + "…"
    table = markdown_table(pl.DataFrame({"account_name": [HOSTILE, "Acme"], "mrr": [1, 2]}))
    lines = table.splitlines()
    assert len(lines) == 4  # header, rule, two rows: the line break in the name did not add one
    assert all(line.count("|") - line.count("\\|") == 3 for line in lines)


def test_the_crm_csv_neutralises_formulas_and_control_characters(tmp_path):
    names = ["=HYPERLINK(\"http://x\",\"y\")", "+1+2", "-3", "@SUM(A1)", "\tx", "\ry", "\x01=cmd", "a\x00b\x1bc",
             "Acme, \"Inc\"\nsecond line", "x" * 100_000, "Brian-Smith", None]
    frame = pl.DataFrame({"account_name": names, "score": list(range(len(names)))})
    [dated, _] = write_follow_up_csv(frame, tmp_path, date(2025, 1, 31))
    back = pl.read_csv(dated, infer_schema=False)
    assert back["account_name"].to_list() == [
        "'=HYPERLINK(\"http://x\",\"y\")", "'+1+2", "'-3", "'@SUM(A1)", "'\tx", "'\ry", "'=cmd", "abc",
        "Acme, \"Inc\"\nsecond line", "x" * 100_000, "Brian-Smith", None]
    assert back["score"].to_list() == [str(n) for n in range(len(names))]  # numbers are not text: untouched
    assert neutralize_csv_text(pl.DataFrame({"n": [1]})).equals(pl.DataFrame({"n": [1]}))


# ---------------------------------------------------------------------------------------------- generate


def test_generate_ends_with_the_last_complete_month_by_default(tmp_path, monkeypatch, capsys):
    assert default_start_month(36, date(2026, 12, 6)) == "2023-12"  # 2023-12 .. 2026-11
    assert default_start_month(1, date(2026, 1, 31)) == "2025-12"
    monkeypatch.setenv("SUBWH_NOW", "2025-03-10T00:00:00Z")
    assert main(["generate", "--accounts", "5", "--months", "2", "--seed", "1", "--out", str(tmp_path / "g"),
                 "--no-progress"]) == 0
    days = sorted(p.stem for p in (tmp_path / "g" / "subscription_events").glob("*.jsonl"))
    assert days[0] >= "2025-01-01" and days[-1] <= "2025-02-28"
    assert main(["generate", "--accounts", "5", "--months", "3", "--out", str(tmp_path / "h"),
                 "--start-month", "2025-02", "--no-progress"]) == 0
    assert "the months run to 2025-04, past 2025-03-10" in capsys.readouterr().err


def test_the_report_shows_hostile_and_runaway_names_as_text():
    from transforms.report import NAME_CHARS, _account_cell

    cell = _account_cell({"account_name": HOSTILE, "account_id": "<b>A</b>"})
    assert "<script>" not in cell and "&lt;script&gt;alert(1)&lt;/script&gt;" in cell
    assert "&lt;b&gt;A&lt;/b&gt;" in cell and "\x00" not in cell and "\n" not in cell
    long = _account_cell({"account_name": "y" * 100_000, "account_id": "A"})
    assert f"<strong>{'y' * (NAME_CHARS - 1)}…</strong>" in long
    assert len(long) < 2 * 2000 + 500  # the title keeps at most 2,000 characters of the name
