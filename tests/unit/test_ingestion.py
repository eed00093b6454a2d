"""Ingestion: every quarantine reason of docs/input-format.md, duplicates, re-runs, unreadable files, other formats."""

import gzip
import json

import polars as pl
import pytest

from tests.support.story import Landing, account, build, fresh, rows, starts
from transforms.ingestion import LandingError, load_reference, load_stream

GOOD_ACCOUNT = {"event_id": "a-1", "event_type": "account_created", "occurred_at": "2025-01-02T10:00:00Z",
                "account_id": "A", "account_name": "Acme", "segment": "SMB", "country": "DE"}
GOOD_START = {"event_id": "s-1", "event_type": "subscription_started", "occurred_at": "2025-01-05T10:00:00Z",
              "account_id": "A", "subscription_id": "A-1", "plan_id": "starter", "billing_interval": "month",
              "quantity": 2, "unit_price": "10.00", "currency": "USD"}


def with_(**changes):
    event = dict(GOOD_START)
    for key, value in changes.items():
        if value is None:
            event.pop(key, None)
        else:
            event[key] = value
    return json.dumps(event)


def test_each_bad_row_is_quarantined_with_its_reason_and_the_rest_loads(tmp_path):
    landing, con = fresh(tmp_path)
    landing.add_lines("subscription_events", "2025-01-05.jsonl", [
        with_(),                                                  # 1 good
        '{"event_id": "s-2", "event_type": ',                     # 2 cannot be parsed
        with_(event_id="s-3", unit_price=None),                   # 3 misses a required field
        with_(event_id="s-4", quantity="two"),                    # 4 wrong type
        with_(event_id="s-5", event_type="subscription_exploded"),  # 5 unknown event type
        with_(event_id="s-6", currency="XYZ"),                    # 6 unknown currency
        with_(event_id="s-7", unit_price="-10.00"),               # 7 negative amount
        with_(event_id="s-1", quantity=3),                        # 8 event_id reused, different payload
        "",                                                       # 9 blank: no event, not an error
        with_(event_id="s-10", unit_price=49.5),                  # 10 good: a JSON number is valid too
        with_(event_id="s-11", occurred_at="2025-01-05T10:00:00"),  # 11 no UTC offset: ambiguous
        "[1, 2, 3]",                                              # 12 JSON but not an object
        json.dumps({**GOOD_ACCOUNT, "event_id": "a-13", "country": ""}),  # 13 account without its country
    ])
    report = load_stream(con, landing.root, "subscription_events")
    quarantined = rows(con, "select line_number, reason, detail from raw.quarantine order by line_number")
    assert [(q["line_number"], q["reason"]) for q in quarantined] == [
        (2, "invalid_json"), (3, "missing_field"), (4, "wrong_type"), (5, "unknown_event_type"),
        (6, "unknown_currency"), (7, "negative_value"), (8, "conflicting_duplicate"), (11, "wrong_type"),
        (12, "invalid_json"), (13, "missing_field"),
    ]
    assert quarantined[1]["detail"] == "subscription_started needs unit_price"
    assert quarantined[-1]["detail"] == "account_created needs country"
    assert con.sql("select event_id, unit_price::varchar from raw.subscription_events order by 1").fetchall() == [
        ("s-1", "10.000000"), ("s-10", "49.500000")]
    assert report.rows_loaded == 2 and report.rows_quarantined == 10
    raw_text = con.sql("select raw from raw.quarantine where line_number = 2").fetchall()[0][0]
    assert raw_text == '{"event_id": "s-2", "event_type": '


@pytest.mark.parametrize("missing", ["account_name", "segment", "country"])
def test_account_created_needs_name_segment_and_country(tmp_path, missing):
    landing, con = fresh(tmp_path)
    landing.add_lines("subscription_events", "2025-01-02.jsonl", [
        json.dumps(GOOD_ACCOUNT),  # no sales_owner: it is optional
        json.dumps({k: v for k, v in GOOD_ACCOUNT.items() if k != missing} | {"event_id": "a-2"}),
    ])
    load_stream(con, landing.root, "subscription_events")
    assert con.sql("select event_id from raw.subscription_events").fetchall() == [("a-1",)]
    assert con.sql("select line_number, reason, detail from raw.quarantine").fetchall() == [
        (2, "missing_field", f"account_created needs {missing}")]


def test_negative_usage_quantity_and_billing_amount(tmp_path):
    landing, con = fresh(tmp_path)
    base = {"event_type": "usage", "occurred_at": "2025-01-05T10:00:00Z", "account_id": "A", "metric": "api_calls"}
    landing.add_lines("usage_events", "2025-01-05.jsonl", [
        json.dumps({**base, "event_id": "u-1", "quantity": 5}), json.dumps({**base, "event_id": "u-2", "quantity": -1})])
    bill = {"event_type": "payment_succeeded", "occurred_at": "2025-01-05T10:00:00Z", "account_id": "A",
            "invoice_id": "i", "subscription_id": "A-1", "currency": "EUR"}
    landing.add_lines("billing_events", "2025-01-05.jsonl", [
        json.dumps({**bill, "event_id": "b-1", "amount": "49.00"}), json.dumps({**bill, "event_id": "b-2", "amount": "-1"})])
    load_stream(con, landing.root, "usage_events")
    load_stream(con, landing.root, "billing_events")
    assert con.sql("select stream, reason from raw.quarantine order by 1").fetchall() == [
        ("billing_events", "negative_value"), ("usage_events", "negative_value")]


def test_rerun_changes_nothing_and_redelivery_is_a_no_op(tmp_path):
    landing, con = fresh(tmp_path)
    landing.add_lines("subscription_events", "2025-01-05.jsonl", [with_()])
    load_stream(con, landing.root, "subscription_events")
    again = load_stream(con, landing.root, "subscription_events")
    assert again.files_read == [] and again.files_skipped == 1
    # The same event re-delivered in a new file, with an equivalent payload (number instead of string).
    landing.add_lines("subscription_events", "2025-01-06.jsonl", [with_(unit_price=10)])
    report = load_stream(con, landing.root, "subscription_events")
    assert (report.rows_loaded, report.rows_duplicate, report.rows_quarantined) == (0, 1, 0)
    assert con.sql("select count(*) from raw.subscription_events").fetchall() == [(1,)]
    assert con.sql("select count(*) from raw.loaded_files").fetchall() == [(2,)]


def test_a_redelivery_matching_the_loaded_event_is_a_no_op_even_after_a_conflicting_one(tmp_path):
    """Raw holds s-1 with 2 seats. One later load brings s-1 with 3 seats (a conflict), then s-1 with 2
    seats again (identical to what is loaded): only the first is quarantined, however the files are
    batched."""
    landing, con = fresh(tmp_path)
    landing.add_lines("subscription_events", "2025-01-05.jsonl", [with_()])
    load_stream(con, landing.root, "subscription_events")
    landing.add_lines("subscription_events", "2025-01-06.jsonl", [with_(quantity=3)])
    landing.add_lines("subscription_events", "2025-01-07.jsonl", [with_()])
    report = load_stream(con, landing.root, "subscription_events")
    assert (report.rows_loaded, report.rows_duplicate, report.rows_quarantined) == (0, 1, 1)
    assert con.sql("select source_file, reason from raw.quarantine").fetchall() == [
        ("subscription_events/2025-01-06.jsonl", "conflicting_duplicate")]
    assert con.sql("select quantity from raw.subscription_events").fetchall() == [(2,)]


def test_event_id_reused_across_streams_is_a_conflict(tmp_path):
    landing, con = fresh(tmp_path)
    landing.add_lines("subscription_events", "2025-01-05.jsonl", [with_(event_id="x-1")])
    landing.add_lines("usage_events", "2025-01-05.jsonl", [json.dumps(
        {"event_id": "x-1", "event_type": "usage", "occurred_at": "2025-01-05T10:00:00Z", "account_id": "A",
         "metric": "api_calls", "quantity": 1})])
    load_stream(con, landing.root, "subscription_events")
    load_stream(con, landing.root, "usage_events")
    assert con.sql("select stream, reason from raw.quarantine").fetchall() == [("usage_events", "conflicting_duplicate")]


def test_unreadable_file_loads_nothing_and_is_retried(tmp_path):
    landing, con = fresh(tmp_path)
    landing.add_lines("subscription_events", "2025-01-05.jsonl", [with_()])
    broken = landing.root / "subscription_events" / "2025-01-06.jsonl.gz"
    broken.write_bytes(gzip.compress(b'{"a": 1}\n' * 1000)[:60])  # truncated gzip
    (landing.root / "subscription_events" / "2025-01-07.parquet").write_bytes(b"PAR1 not really")
    report = load_stream(con, landing.root, "subscription_events")
    assert sorted(report.unreadable_files) == ["subscription_events/2025-01-06.jsonl.gz",
                                              "subscription_events/2025-01-07.parquet"]
    assert report.rows_loaded == 1
    assert con.sql("select source_file from raw.loaded_files").fetchall() == [("subscription_events/2025-01-05.jsonl",)]
    # Fixed by re-delivery: the next run reads it.
    broken.write_bytes(gzip.compress((with_(event_id="s-2") + "\n").encode()))
    (landing.root / "subscription_events" / "2025-01-07.parquet").unlink()
    report = load_stream(con, landing.root, "subscription_events")
    assert report.rows_loaded == 1 and not report.unreadable_files


def test_gzip_parquet_and_csv_files_load_with_line_numbers(tmp_path):
    landing, con = fresh(tmp_path)
    (landing.root / "subscription_events" / "a.jsonl.gz").write_bytes(
        gzip.compress(("\n".join([with_(event_id="g-1"), "oops"]) + "\n").encode()))
    frame = pl.DataFrame([json.loads(with_(event_id="p-1")), json.loads(with_(event_id="p-2", quantity=-1))])
    frame.write_parquet(landing.root / "subscription_events" / "b.parquet")
    frame.with_columns(pl.col("event_id").str.replace("p-", "c-")).write_csv(landing.root / "subscription_events" / "c.csv")
    load_stream(con, landing.root, "subscription_events")
    assert sorted(r[0] for r in con.sql("select event_id from raw.subscription_events").fetchall()) == ["c-1", "g-1", "p-1"]
    assert con.sql("select source_file, line_number, reason from raw.quarantine order by 1").fetchall() == [
        ("subscription_events/a.jsonl.gz", 2, "invalid_json"),
        ("subscription_events/b.parquet", 2, "negative_value"),
        ("subscription_events/c.csv", 3, "negative_value"),  # line 1 is the header
    ]


def test_line_numbers_across_many_files(tmp_path):
    landing, con = fresh(tmp_path)
    for day in range(1, 21):
        lines = [with_(event_id=f"d{day}-{i}") for i in range(200)]
        lines[day * 7] = "broken"
        landing.add_lines("subscription_events", f"2025-01-{day:02d}.jsonl", lines)
    load_stream(con, landing.root, "subscription_events")
    got = con.sql("select source_file, line_number from raw.quarantine order by 1").fetchall()
    assert got == [(f"subscription_events/2025-01-{d:02d}.jsonl", d * 7 + 1) for d in range(1, 21)]


def test_values_that_only_look_right_are_wrong_types_and_json_white_space_is_white_space(tmp_path):
    landing, con = fresh(tmp_path)
    landing.add_lines("subscription_events", "2025-01-05.jsonl", [
        with_(event_id="s-1", occurred_at="2025-01-05T10:00:00z"),        # 1 lower-case z is UTC
        with_(event_id="s-2", occurred_at="2025-01-05T10:00:00+05:30"),   # 2 an offset converts to UTC
        with_(event_id="s-3", occurred_at="2025-01-05T10:00:00+25:00"),   # 3 no such offset
        with_(event_id="s-4", occurred_at="2025-01-05T10:00:00+05:99"),   # 4 no such offset
        with_(event_id="s-5", quantity="4_9"),                            # 5 DuckDB would read 49
        with_(event_id="s-6", unit_price="1_0.00"),                       # 6 DuckDB would read 10.00
        with_(event_id="s-7", account_id={"id": "A"}),                    # 7 an object is not text
        with_(event_id="s-8", plan_id=["starter"]),                       # 8 nor is an array
        json.dumps({**GOOD_ACCOUNT, "event_id": "a-9", "account_name": "{Acme}"}),  # 9 text that looks like JSON
        "\t ",                                                           # 10 blank: white space only
        "\t" + with_(event_id="s-11"),                                   # 11 JSON may start with a tab
        '{"event_id": "s-12",\x01 "event_type": "x"}',                    # 12 a stray control character
    ])
    load_stream(con, landing.root, "subscription_events")
    assert con.sql("select line_number, reason, detail from raw.quarantine order by 1").fetchall() == [
        (3, "wrong_type", "occurred_at=2025-01-05T10:00:00+25:00 is not an ISO-8601 timestamp with offset"),
        (4, "wrong_type", "occurred_at=2025-01-05T10:00:00+05:99 is not an ISO-8601 timestamp with offset"),
        (5, "wrong_type", "quantity=4_9 is not a whole number"),
        (6, "wrong_type", "unit_price=1_0.00 is not a decimal amount"),
        (7, "wrong_type", 'account_id={"id":"A"} is not text (not a JSON object or array)'),
        (8, "wrong_type", 'plan_id=["starter"] is not text (not a JSON object or array)'),
        (12, "invalid_json", "not a JSON object"),
    ]
    assert con.sql("select raw from raw.quarantine where line_number = 12").fetchall() == [
        ('{"event_id": "s-12",\x01 "event_type": "x"}',)]
    assert con.sql("select event_id, occurred_at::varchar, account_name from raw.subscription_events order by 1"
                   ).fetchall() == [
        ("a-9", "2025-01-02 10:00:00", "{Acme}"),
        ("s-1", "2025-01-05 10:00:00", None),
        ("s-11", "2025-01-05 10:00:00", None),
        ("s-2", "2025-01-05 04:30:00", None),
    ]


def test_file_names_with_glob_characters_are_read_literally(tmp_path):
    """DuckDB reads a path holding `[`, `*` or `?` as a pattern: `2025-01-0[1].jsonl` would read
    `2025-01-01.jsonl`, and every later file would take the rows of the one before it."""
    landing, con = fresh(tmp_path)
    landing.add_lines("subscription_events", "2025-01-01.jsonl", [with_(event_id="plain")])
    landing.add_lines("subscription_events", "2025-01-0[1].jsonl", [with_(event_id="bracket-1"), "broken",
                                                                    with_(event_id="bracket-3")])
    landing.add_lines("subscription_events", "b*.jsonl", [with_(event_id="star")])
    landing.add_lines("subscription_events", "b_x?.jsonl", [with_(event_id="question")])
    (landing.root / "subscription_events" / "c{1,2}.jsonl.gz").write_bytes(
        gzip.compress((with_(event_id="brace") + "\n").encode()))
    frame = pl.DataFrame([json.loads(with_(event_id="parquet"))])
    frame.write_parquet(landing.root / "subscription_events" / "d[2].parquet")
    frame.with_columns(pl.lit("csv").alias("event_id")).write_csv(landing.root / "subscription_events" / "e[1].csv")
    (landing.root / "subscription_events" / "e1.csv").write_text("event_id\nnot-the-file\n")
    report = load_stream(con, landing.root, "subscription_events")
    assert con.sql("select source_file, event_id, line_number from raw.subscription_events order by 1, 3").fetchall() == [
        ("subscription_events/2025-01-01.jsonl", "plain", 1),
        ("subscription_events/2025-01-0[1].jsonl", "bracket-1", 1),
        ("subscription_events/2025-01-0[1].jsonl", "bracket-3", 3),
        ("subscription_events/b*.jsonl", "star", 1),
        ("subscription_events/b_x?.jsonl", "question", 1),
        ("subscription_events/c{1,2}.jsonl.gz", "brace", 1),
        ("subscription_events/d[2].parquet", "parquet", 1),
        ("subscription_events/e[1].csv", "csv", 2),
    ]
    assert con.sql("select source_file, line_number, reason from raw.quarantine order by 1").fetchall() == [
        ("subscription_events/2025-01-0[1].jsonl", 2, "invalid_json"),
        ("subscription_events/e1.csv", 2, "invalid_header"),  # a header of event_id alone
    ]
    assert report.rows_duplicate == 0 and not report.unreadable_files


def test_files_that_are_not_event_files_are_named_not_passed_over(tmp_path, caplog):
    landing, con = fresh(tmp_path)
    landing.add_lines("subscription_events", "2025-01-05.jsonl", [with_()])
    folder = landing.root / "subscription_events"
    (folder / "events.json").write_text("[]")
    (folder / "2025-01-06.jsonl.part").write_text("")  # still being written: not worth a warning
    (folder / ".DS_Store").write_text("")
    report = load_stream(con, landing.root, "subscription_events")
    assert report.files_ignored == ["subscription_events/events.json"]
    assert "subscription_events/events.json" in caplog.text
    assert report.rows_loaded == 1


def test_reference_errors_are_clear(tmp_path):
    landing, con = fresh(tmp_path)
    landing.write_fx([("2025-13", "EUR", "1.1")])
    with pytest.raises(LandingError, match=r"fx_rates.csv:2: month='2025-13'"):
        load_reference(con, landing.root)
    (landing.root / "reference" / "plans.csv").unlink()
    with pytest.raises(LandingError, match="missing reference file"):
        load_reference(con, landing.root)


def test_fx_month_accepts_first_day_form(tmp_path):
    landing = Landing(tmp_path, fx=[("2025-01-01", "EUR", "1.10")])
    landing.add(account("E", "2025-01-02"), starts("E", "2025-01-05", seats=1, price="10", currency="EUR"))
    con = build(landing)
    assert con.sql("select mrr::varchar from marts.account_mrr_monthly").fetchall() == [("11.00",)]


CSV_HEADER = "event_id,event_type,occurred_at,account_id,subscription_id,plan_id,billing_interval,quantity,unit_price,currency"
CSV_GOOD = "{},subscription_started,2025-01-05T10:00:00Z,A,A-1,starter,month,{},10.00,USD"
# 1 header; 5 blank; 6-7 one record whose quoted plan_id holds a line break
CSV_WITH_BAD_ROWS = "\n".join([
    CSV_HEADER,
    CSV_GOOD.format("c-1", 2),                        # 2 good
    CSV_GOOD.format("c-2", 2) + ",surplus",           # 3 one field too many
    CSV_GOOD.format("c-3", 2).rsplit(",", 1)[0],      # 4 one field short
    "",                                               # 5 blank: no event
    'c-4,subscription_started,2025-01-05T10:00:00Z,A,A-1,"star\nter",month,2,"10.00",USD',  # 6-7 good
    CSV_GOOD.format("c-5", -1),                       # 8 negative quantity
    CSV_GOOD.format("c-6", 3),                        # 9 good
]) + "\n"


@pytest.mark.parametrize("name", ["bad.csv", "bad.csv.gz"])
def test_csv_rows_with_a_wrong_field_count_are_quarantined_and_the_rest_loads(tmp_path, name):
    landing, con = fresh(tmp_path)
    path = landing.root / "subscription_events" / name
    path.write_bytes(gzip.compress(CSV_WITH_BAD_ROWS.encode()) if name.endswith(".gz") else CSV_WITH_BAD_ROWS.encode())
    report = load_stream(con, landing.root, "subscription_events")
    assert not report.unreadable_files
    assert con.sql("select event_id, plan_id, quantity from raw.subscription_events order by 1").fetchall() == [
        ("c-1", "starter", 2), ("c-4", "star\nter", 2), ("c-6", "starter", 3)]
    assert con.sql("select line_number, reason, detail, raw from raw.quarantine order by 1").fetchall() == [
        (3, "invalid_csv_row", "11 fields where the header has 10", CSV_GOOD.format("c-2", 2) + ",surplus"),
        (4, "invalid_csv_row", "9 fields where the header has 10", CSV_GOOD.format("c-3", 2).rsplit(",", 1)[0]),
        (8, "negative_value", "quantity=-1 is negative", CSV_GOOD.format("c-5", -1)),
    ]
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (6, 3, 3)


def test_clean_csv_is_read_by_duckdb_and_keeps_its_lines_as_landed(tmp_path, monkeypatch):
    import transforms.ingestion.readers as ingestion

    landing, con = fresh(tmp_path)
    monkeypatch.setattr(ingestion, "_rows_read_in_python", lambda *a: pytest.fail("a clean CSV took the slow path"))
    landing.add_lines("subscription_events", "clean.csv", [
        CSV_HEADER, CSV_GOOD.format("c-1", 2), "", CSV_GOOD.format("c-2", -2).replace(",USD", ',"USD"'),
        CSV_GOOD.format("c-1", 5), ""])
    load_stream(con, landing.root, "subscription_events")
    assert con.sql("select event_id, line_number from raw.subscription_events").fetchall() == [("c-1", 2)]
    assert con.sql("select line_number, reason, raw from raw.quarantine order by 1").fetchall() == [
        (4, "negative_value", CSV_GOOD.format("c-2", -2).replace(",USD", ',"USD"')),
        (5, "conflicting_duplicate", CSV_GOOD.format("c-1", 5))]


@pytest.mark.parametrize("name", ["mixed.jsonl", "mixed.jsonl.gz", "mixed.csv"])
def test_a_line_that_is_not_utf8_is_quarantined_and_the_rest_loads(tmp_path, name):
    landing, con = fresh(tmp_path)
    landing.add_lines("subscription_events", "2025-01-04.jsonl", [with_(event_id="s-0")])  # a clean file beside it
    if name.endswith(".csv"):
        lines = [CSV_HEADER, CSV_GOOD.format("s-2", 2).replace("starter", "st\udcff\udcfeer"), CSV_GOOD.format("s-3", 2),
                 CSV_GOOD.format("s-0", 5), "", "s-6"]
    else:
        lines = [with_(event_id="s-1"), with_(event_id="s-2", plan_id="st@er").replace("@", "\udcff\udcfe"), with_(event_id="s-3"),
                 with_(event_id="s-0", quantity=5), "", "oops"]
    data = ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")  # line 2 holds the bytes ff fe
    (landing.root / "subscription_events" / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    report = load_stream(con, landing.root, "subscription_events")
    assert not report.unreadable_files
    loaded = ["s-0", "s-3"] if name.endswith(".csv") else ["s-0", "s-1", "s-3"]
    assert [r[0] for r in con.sql("select event_id from raw.subscription_events order by 1").fetchall()] == loaded
    quarantined = con.sql("select line_number, reason, detail, raw from raw.quarantine order by 1").fetchall()
    assert [q[:2] for q in quarantined] == [
        (2, "invalid_encoding"), (4, "conflicting_duplicate"), (6, "invalid_csv_row" if ".csv" in name else "invalid_json")]
    assert quarantined[0][2] == "not UTF-8 text (shown with U+FFFD for the bytes that are not)"
    assert quarantined[0][3] == lines[1].replace("\udcff\udcfe", "\ufffd\ufffd")
    assert quarantined[1][3] == lines[3]
    # Loaded: a later run does not read the file again.
    assert load_stream(con, landing.root, "subscription_events").files_skipped == 2


@pytest.mark.parametrize("utf8", [True, False], ids=["duckdb-reader", "python-reader"])
def test_a_lone_carriage_return_ends_a_line_in_both_readers(tmp_path, utf8):
    """DuckDB's line reader ends a line at a lone CR; the line-by-line Python reader (for a file that is not
    UTF-8 throughout) counts the same lines, so the line numbers agree."""
    landing, con = fresh(tmp_path)
    third = with_(event_id="s-3", plan_id="st@er").replace("@", "" if utf8 else "\udcff")  # the byte ff: not UTF-8
    data = (with_(event_id="s-1") + "\r" + "oops" + "\n" + third + "\n" + "again" + "\n").encode("utf-8", "surrogateescape")
    (landing.root / "subscription_events" / "2025-01-05.jsonl").write_bytes(data)
    load_stream(con, landing.root, "subscription_events")
    expected = [(2, "invalid_json", "oops"), (4, "invalid_json", "again")]
    if not utf8:
        expected.insert(1, (3, "invalid_encoding", third.replace("\udcff", "\ufffd")))
    assert con.sql("select line_number, reason, raw from raw.quarantine order by 1").fetchall() == expected


def test_zone_less_parquet_timestamps_are_utc_but_text_needs_an_offset(tmp_path):
    landing, con = fresh(tmp_path)
    folder = landing.root / "subscription_events"
    frame = pl.DataFrame([json.loads(with_(event_id="p-1")), json.loads(with_(event_id="p-2"))]).with_columns(
        pl.col("occurred_at").str.to_datetime("%Y-%m-%dT%H:%M:%SZ"),  # a Datetime without time zone
        pl.Series("effective_at", ["2025-02-01T00:00:00.250", None]).str.to_datetime().cast(pl.Datetime("ms")),
    )
    frame.write_parquet(folder / "naive.parquet")
    frame.with_columns(pl.col("event_id").str.replace("p-", "z-"), pl.col("occurred_at").dt.replace_time_zone(
        "UTC").dt.convert_time_zone("America/New_York")).write_parquet(folder / "zoned.parquet")
    frame.with_columns(pl.col("event_id").str.replace("p-", "c-")).write_csv(folder / "naive.csv")  # text: no offset
    report = load_stream(con, landing.root, "subscription_events")
    got = con.sql("select event_id, occurred_at::varchar, effective_at::varchar from raw.subscription_events order by 1")
    assert got.fetchall() == [
        ("p-1", "2025-01-05 10:00:00", "2025-02-01 00:00:00.25"), ("p-2", "2025-01-05 10:00:00", None),
        ("z-1", "2025-01-05 10:00:00", "2025-02-01 00:00:00.25"), ("z-2", "2025-01-05 10:00:00", None),
    ]
    assert report.quarantined_by_reason == {"wrong_type": 2}
    assert con.sql("select distinct source_file from raw.quarantine").fetchall() == [("subscription_events/naive.csv",)]
