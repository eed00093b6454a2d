"""A new user's own files: wrong columns named at once (invalid_header), and files fixed in place after
they were loaded are reloaded exactly (transforms/ingestion/headers.py, transforms/ingestion/landed_state.py).

The money is worked out by hand: A starts 5 seats x $10 = $50.00 MRR on 2025-01-05; the file is then
corrected in place to $12 a seat: 5 x $12 = $60.00, and January closes at $60.00, not $50 nor $110.
"""

import json
import os

import duckdb
import polars as pl

from tests.support.story import Landing, account, build, fresh, starts
from transforms.ingestion import ensure_raw_tables, landed_state, load_reference, load_stream
from transforms.sql_models import connect

SUBSCRIPTION_COLUMNS = ("event_id,event_type,occurred_at,account_id,effective_at,subscription_id,plan_id,"
                        "billing_interval,quantity,unit_price,currency,discount_pct,account_name,segment,country,"
                        "sales_owner")
ROWS = ["e1,account_created,2025-01-02T10:00:00Z,A,,,,,,,,,Acme,SMB,US,ana",
        "e2,subscription_started,2025-01-05T10:00:00Z,A,,A-1,starter,month,5,10.00,USD,,,,,"]


def quarantine(con):
    return con.sql("select source_file, line_number, reason, detail from raw.quarantine order by 1, 2").fetchall()


# ------------------------------------------------------------------------------------ wrong columns


def test_a_csv_with_wrong_headers_is_named_with_the_columns_expected_and_found(tmp_path):
    landing, con = fresh(tmp_path)
    wrong = SUBSCRIPTION_COLUMNS.replace("event_id,event_type", "id,type")
    landing.add_lines("subscription_events", "2025-01-05.csv", [wrong, *ROWS])
    report = load_stream(con, landing.root, "subscription_events")
    message = report.invalid_headers["subscription_events/2025-01-05.csv"]
    assert "its header has columns id, type, occurred_at, account_id" in message
    assert "missing event_id, event_type" in message
    assert "Expected columns: event_id, event_type, occurred_at, account_id, effective_at" in message
    rows = quarantine(con)
    # every row kept with its text, under the file's reason (not "missing event_id")
    assert [(r[0], r[1], r[2]) for r in rows] == [("subscription_events/2025-01-05.csv", 2, "invalid_header"),
                                                  ("subscription_events/2025-01-05.csv", 3, "invalid_header")]
    assert all(r[3] == message for r in rows)
    assert report.quarantined_by_reason == {"invalid_header": 2}
    assert con.sql("select raw from raw.quarantine order by line_number").fetchall() == [(r,) for r in ROWS]


def test_a_parquet_file_with_the_wrong_columns_and_json_without_any_event_key(tmp_path):
    landing, con = fresh(tmp_path)
    frame = pl.DataFrame({"id": ["e1"], "type": ["account_created"], "occurred_at": ["2025-01-02T10:00:00Z"],
                          "account_id": ["A"]})
    frame.write_parquet(landing.root / "subscription_events" / "2025-01-02.parquet")
    landing.add_lines("subscription_events", "2025-01-03.jsonl",
                      ['{"id": "e1", "when": "2025-01-03"}', '{"id": "e2", "when": "2025-01-03"}'])
    report = load_stream(con, landing.root, "subscription_events")
    assert sorted(report.invalid_headers) == ["subscription_events/2025-01-02.parquet",
                                              "subscription_events/2025-01-03.jsonl"]
    assert "its columns are id, type, occurred_at, account_id; missing event_id, event_type" in \
        report.invalid_headers["subscription_events/2025-01-02.parquet"]
    assert "no object has any of them; the first has keys id, when" in \
        report.invalid_headers["subscription_events/2025-01-03.jsonl"]
    assert {r[2] for r in quarantine(con)} == {"invalid_header"}


def test_rows_with_a_right_header_keep_their_own_reasons(tmp_path):
    # A JSON object with some of the four keys, a CSV whose header is right but whose only row is bad, and
    # a file where one row of two is valid: their rows are judged one by one.
    landing, con = fresh(tmp_path)
    landing.add_lines("subscription_events", "a.jsonl", ['{"event_id": "x1", "event_type": "account_created"}'])
    landing.add_lines("subscription_events", "b.csv", [SUBSCRIPTION_COLUMNS, ROWS[0].replace("Acme", "")])
    landing.add_lines("subscription_events", "c.csv", [SUBSCRIPTION_COLUMNS, ROWS[0], ROWS[1].replace("10.00", "x")])
    report = load_stream(con, landing.root, "subscription_events")
    assert report.invalid_headers == {}
    assert [(r[0], r[2]) for r in quarantine(con)] == [("subscription_events/a.jsonl", "missing_field"),
                                                       ("subscription_events/b.csv", "missing_field"),
                                                       ("subscription_events/c.csv", "wrong_type")]


# ------------------------------------------------------------------------------ files fixed in place


def closing_mrr(con) -> list[tuple]:
    return con.sql("select month::varchar, sum(mrr)::varchar from marts.account_mrr_monthly group by 1 order by 1"
                   ).fetchall()


def raw_rows(con, stream="subscription_events") -> list[tuple]:
    return con.sql(f"select * exclude (ingested_at) from raw.{stream} order by all").fetchall()


def test_a_file_corrected_in_place_is_reloaded_and_history_restated(tmp_path):
    landing = Landing(tmp_path / "landing")
    [path] = landing.add(account("A", on="2025-01-02T09:00:00Z"), starts("A", seats=5, price="10.00", on="2025-01-02"))
    con = build(landing, tmp_path / "warehouse.duckdb")
    assert closing_mrr(con) == [("2025-01-01", "50.00")]  # 5 x $10
    # the price was wrong: fixed in the landed file itself
    path.write_text(path.read_text().replace('"unit_price": "10.00"', '"unit_price": "12.00"'))
    report = load_stream(con, landing.root, "subscription_events")
    assert report.files_changed == [path.relative_to(landing.root).as_posix()]
    build(landing, con=con)
    assert closing_mrr(con) == [("2025-01-01", "60.00")]  # 5 x $12, the old $50 gone
    assert con.sql("select count(*), count(distinct event_id) from raw.subscription_events").fetchall() == [(2, 2)]
    # the same as building from scratch on the corrected folder
    rebuilt = build(landing, tmp_path / "rebuilt.duckdb")
    assert raw_rows(con) == raw_rows(rebuilt)
    assert closing_mrr(rebuilt) == [("2025-01-01", "60.00")]
    digest = con.sql("select file_sha256 from raw.loaded_files").fetchall()[0][0]
    assert digest == landed_state.sha256(path)
    # nothing changed since: nothing is reloaded
    assert load_stream(con, landing.root, "subscription_events").files_changed == []


def test_fixing_the_header_of_a_quarantined_csv_loads_its_rows(tmp_path):
    landing, con = fresh(tmp_path)
    wrong = SUBSCRIPTION_COLUMNS.replace("event_id,event_type", "id,type")
    path = landing.add_lines("subscription_events", "2025-01-05.csv", [wrong, *ROWS])
    load_stream(con, landing.root, "subscription_events")
    path.write_text("\n".join([SUBSCRIPTION_COLUMNS, *ROWS]) + "\n")
    report = load_stream(con, landing.root, "subscription_events")
    assert report.files_changed == ["subscription_events/2025-01-05.csv"]
    assert report.rows_loaded == 2 and quarantine(con) == []
    assert con.sql("select rows_read, rows_loaded, rows_quarantined from raw.loaded_files").fetchall() == [(2, 2, 0)]


def test_a_touched_file_with_the_same_content_is_not_reloaded(tmp_path):
    landing, con = fresh(tmp_path)
    [path] = landing.add(account("A", on="2025-01-02"))
    load_stream(con, landing.root, "subscription_events")
    loaded_at = con.sql("select loaded_at from raw.loaded_files").fetchall()
    os.utime(path, ns=(1_800_000_000 * 10**9, 1_800_000_000 * 10**9))
    assert load_stream(con, landing.root, "subscription_events").files_changed == []
    assert con.sql("select loaded_at from raw.loaded_files").fetchall() == loaded_at
    assert con.sql("select file_mtime_ns from raw.loaded_files").fetchall() == [(1_800_000_000 * 10**9,)]


def test_a_changed_file_whose_events_were_redelivered_reloads_the_whole_stream(tmp_path):
    # e-1 came in the first file and again, identical, in a later one (skipped as a duplicate). The first
    # file is then cut down to its other event: e-1 must stay, from the later file, as a full build has it.
    landing, con = fresh(tmp_path)
    first = json.dumps({"event_id": "e-1", "event_type": "account_created", "occurred_at": "2025-01-02T10:00:00Z",
                        "account_id": "A", "account_name": "Acme", "segment": "SMB", "country": "US"})
    other = first.replace("e-1", "e-2").replace('"A"', '"B"')
    path = landing.add_lines("subscription_events", "2025-01-02.jsonl", [first, other])
    landing.add_lines("subscription_events", "2025-01-03.jsonl", [first])
    load_stream(con, landing.root, "subscription_events")
    assert con.sql("select sum(rows_duplicate) from raw.loaded_files").fetchall() == [(1,)]
    path.write_text(other + "\n")
    report = load_stream(con, landing.root, "subscription_events")
    assert report.files_changed == ["subscription_events/2025-01-02.jsonl"]
    assert con.sql("select event_id, source_file from raw.subscription_events order by 1").fetchall() == [
        ("e-1", "subscription_events/2025-01-03.jsonl"), ("e-2", "subscription_events/2025-01-02.jsonl")]
    rebuilt = connect(tmp_path / "rebuilt.duckdb")
    ensure_raw_tables(rebuilt)
    load_reference(rebuilt, landing.root)
    load_stream(rebuilt, landing.root, "subscription_events")
    assert raw_rows(con) == raw_rows(rebuilt)


def test_warehouses_loaded_before_the_signatures_get_them_without_a_reload(tmp_path):
    landing, con = fresh(tmp_path)
    [path] = landing.add(account("A", on="2025-01-02"))
    load_stream(con, landing.root, "subscription_events")
    con.execute("update raw.loaded_files set file_size = null, file_mtime_ns = null, file_sha256 = null")
    assert load_stream(con, landing.root, "subscription_events").files_changed == []
    assert con.sql("select file_size, file_sha256 from raw.loaded_files").fetchall() == [
        (path.stat().st_size, landed_state.sha256(path))]


def test_an_old_loaded_files_table_is_upgraded(tmp_path):
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("create schema raw")
    con.execute("create table raw.loaded_files (source_file varchar, stream varchar, rows_read bigint, "
                "rows_loaded bigint, rows_duplicate bigint, rows_quarantined bigint, loaded_at timestamp)")
    con.execute("insert into raw.loaded_files values ('subscription_events/a.jsonl', 'subscription_events', 1, 1, 0, 0, "
                "now()::timestamp)")
    ensure_raw_tables(con)
    assert [c for (c,) in con.sql("select column_name from duckdb_columns() where table_name = 'loaded_files' "
                                  "order by column_index").fetchall()][-3:] == ["file_size", "file_mtime_ns",
                                                                                "file_sha256"]


def test_no_valid_subscription_event_is_one_sentence_naming_what_was_read(tmp_path):
    import pytest

    from transforms.ingestion.outcome import NoValidEvents, require_subscription_events

    landing, con = fresh(tmp_path)
    with pytest.raises(NoValidEvents, match=r"^no valid subscription events: no event files in .*subscription_events "
                                            r"\(expected \*\.jsonl, "):
        require_subscription_events(con, landing.root, tmp_path / "warehouse.duckdb")
    landing.add_lines("subscription_events", "a.jsonl", ['{"event_id": "x1", "event_type": "nope", '
                                                        '"occurred_at": "2025-01-02T00:00:00Z", "account_id": "A"}'])
    load_stream(con, landing.root, "subscription_events")
    with pytest.raises(NoValidEvents) as error:
        require_subscription_events(con, landing.root, tmp_path / "warehouse.duckdb")
    assert "read 1 row(s) from 1 file(s)" in str(error.value) and "quarantined 1 (unknown_event_type 1)" in str(error.value)
    assert "\n" not in str(error.value)
    landing.add(account("A", on="2025-01-02"))
    load_stream(con, landing.root, "subscription_events")
    require_subscription_events(con, landing.root, tmp_path / "warehouse.duckdb")  # one valid event: fine
