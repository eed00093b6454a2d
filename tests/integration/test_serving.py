"""The serving database as BI tools see it: complete versions only, never refused, DuckDB 1.x-readable.

Two small warehouses tell the story (worked out by hand):
  version 1: A pays 5 seats x $10 = $50 from January; B pays 2 x EUR 20 = EUR 40 = $44 (1.10 USD/EUR)
             -> January closing MRR $94.00.
  version 2: adds A growing to 8 seats in February ($80) and B cancelling on 1 March
             -> closing MRR $94.00, $124.00, $80.00 for January to March.
"""

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from orchestration.locking import lock_is_held
from tests.support.dbt import METRICS, MRR, run_models
from tests.support.story import Landing, account, build, cancels, changes, starts
from transforms.reconciliation import WATERFALL_BREAKS
from transforms.serving import (
    SERVING_FORMAT_NUMBER,
    PublishError,
    publish_marts,
    remove_stale_temporaries,
    storage_format_number,
)
from transforms.sql_models import connect

REPO = Path(__file__).resolve().parents[2]
DUCKDB_1X = "duckdb==1.4.*"  # the 1.x line BI drivers (JDBC, Metabase, duckdb_engine users) ship
DUCKDB_1X_VENV = REPO / "build" / "duckdb1-venv"  # build/ is ignored: tests write nothing else in the repo

VERSION_1 = [
    account("A", on="2025-01-02"), starts("A", plan="starter", seats=5, price=10, on="2025-01-05"),
    account("B", on="2025-01-03"),
    starts("B", plan="growth", seats=2, price=20, currency="EUR", on="2025-01-06"),
]
VERSION_2 = [changes("A", seats=8, on="2025-02-10"), cancels("B", on="2025-03-01")]
CLOSING = {"v1": ["94.00"], "v2": ["94.00", "124.00", "80.00"]}
# Runs started by these tests build the MRR slice of the pipeline: locking, killing and publishing do not
# depend on which marts a run holds, and the full pipeline is slow on two shared cores.
MRR_SLICE = ["--select", "group:ingestion or group:mrr or group:serving"]


def warehouse(tmp_path: Path, version: str) -> Path:
    landing = Landing(tmp_path / f"landing-{version}")
    landing.add(*VERSION_1)
    # one rejected line, for the load log in the serving file (meta.quarantine); no mart changes with it
    landing.add_lines("billing_events", "2025-01-07-bad.jsonl", ['{"event_id": "b-bad", "event_type": "refund"}'])
    if version == "v2":
        landing.add(*VERSION_2)
    path = tmp_path / f"warehouse-{version}.duckdb"
    build(landing, path).close()
    return path


def publish(warehouse_path: Path, serving_path: Path, run_id: str):
    con = connect(warehouse_path)
    try:
        return publish_marts(con, serving_path, run_id=run_id)
    finally:
        con.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_publication_copies_every_mart_with_its_comments(tmp_path):
    source = warehouse(tmp_path, "v2")
    serving = tmp_path / "serving.duckdb"
    publication = publish(source, serving, run_id="run-1")

    catalog = """select table_name, column_name, comment from duckdb_columns()
                 where schema_name = 'marts' and database_name = current_database() order by all"""
    comments = "select table_name, comment from duckdb_tables() where schema_name = 'marts' order by all"
    with duckdb.connect(str(source), read_only=True) as con:
        expected_columns, expected_tables = con.sql(catalog).fetchall(), con.sql(comments).fetchall()
    with duckdb.connect(str(serving), read_only=True) as con:
        assert con.sql(catalog).fetchall() == expected_columns
        assert con.sql(comments).fetchall() == expected_tables
        assert all(comment for _, comment in expected_tables)
        closing = con.sql("select closing_mrr::varchar from marts.mrr_waterfall order by month").fetchall()
        assert [c for (c,) in closing] == CLOSING["v2"]
        run_id, tables, rows = con.sql("select run_id, marts_tables, marts_rows from meta.publication").fetchall()[0]
    assert (run_id, tables, rows) == ("run-1", len(publication.tables), sum(publication.tables.values()))
    assert storage_format_number(serving) == SERVING_FORMAT_NUMBER
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


def test_publication_copies_the_load_log_with_its_descriptions(tmp_path):
    source = warehouse(tmp_path, "v1")
    serving = tmp_path / "serving.duckdb"
    publish(source, serving, run_id="run-1")
    with duckdb.connect(str(source), read_only=True) as con:
        quarantine = con.sql("select * from raw.quarantine order by all").fetchall()
        loaded = con.sql("select * from raw.loaded_files order by all").fetchall()
    with duckdb.connect(str(serving), read_only=True) as con:
        assert con.sql("select * from meta.quarantine order by all").fetchall() == quarantine
        assert con.sql("select * from meta.loaded_files order by all").fetchall() == loaded
        undescribed = con.sql("""select table_name, column_name from duckdb_columns()
                                 where schema_name = 'meta' and table_name in ('quarantine', 'loaded_files')
                                   and (comment is null or comment = '')""").fetchall()
        tables = con.sql("""select table_name from duckdb_tables() where schema_name = 'meta'
                            and comment <> '' order by 1""").fetchall()
    assert [(r[0], r[3]) for r in quarantine] == [("billing_events/2025-01-07-bad.jsonl", "missing_field")]
    assert len(loaded) == 5 and all(r[-1] for r in loaded)  # every file with its SHA-256
    assert undescribed == []
    assert tables == [("loaded_files",), ("publication",), ("quarantine",)]


def test_a_failed_publication_leaves_the_previous_version(tmp_path):
    source = warehouse(tmp_path, "v1")
    serving = tmp_path / "serving.duckdb"
    publish(source, serving, run_id="good")
    before = digest(serving)
    con = connect(source)
    try:
        # A mart that fails while it is copied: the new file is half-written when the error comes.
        con.execute("create view marts.zz_broken as select error('boom') as x")
        with pytest.raises(duckdb.Error, match="boom"):
            publish_marts(con, serving, run_id="bad")
        con.execute("drop view marts.zz_broken")
        con.execute("drop schema marts cascade")
        con.execute("create schema marts")
        with pytest.raises(PublishError, match="no marts tables"):
            publish_marts(con, serving, run_id="empty")
    finally:
        con.close()
    assert digest(serving) == before
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


def test_an_open_connection_keeps_reading_the_version_it_opened(tmp_path):
    serving = tmp_path / "serving.duckdb"
    publish(warehouse(tmp_path, "v1"), serving, run_id="v1-0")
    dashboard = duckdb.connect(str(serving), read_only=True)
    try:
        publish(warehouse(tmp_path, "v2"), serving, run_id="v2-1")
        # The replaced file stays readable, whole, through the connection that had it open...
        assert [str(c) for (c,) in dashboard.sql("select closing_mrr from marts.mrr_waterfall").fetchall()] == CLOSING["v1"]
    finally:
        dashboard.close()
    # ...and the next connection (once this process holds none to the old file) sees the new version.
    assert closing_of(serving) == CLOSING["v2"]


def closing_of(serving: Path) -> list[str]:
    with duckdb.connect(str(serving), read_only=True) as con:
        return [str(c) for (c,) in con.sql("select closing_mrr from marts.mrr_waterfall order by month").fetchall()]


def test_half_written_files_of_killed_publications_are_removed(tmp_path):
    serving = tmp_path / "serving.duckdb"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"serving.duckdb.tmp-{dead.stdout.strip()}"
    stale.write_bytes(b"half a database")
    Path(f"{stale}.wal").write_bytes(b"")
    assert sorted(p.name for p in remove_stale_temporaries(serving)) == sorted([stale.name, f"{stale.name}.wal"])
    assert not stale.exists()


def duckdb_1x_python() -> Path:
    """A Python with DuckDB 1.x in its own virtualenv (created once, reused; CI has PyPI access)."""
    python = DUCKDB_1X_VENV / "bin" / "python"
    marker = DUCKDB_1X_VENV / f".installed {DUCKDB_1X}"
    DUCKDB_1X_VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{DUCKDB_1X_VENV}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test workers must not build it at once
        if marker.exists():
            return python
        created = subprocess.run([sys.executable, "-m", "venv", "--clear", str(DUCKDB_1X_VENV)],
                                 capture_output=True, text=True)
        if created.returncode != 0:
            pytest.skip(f"cannot create a virtualenv with pip here (python -m venv: {created.stderr.strip()[-300:]})")
        install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", DUCKDB_1X],
                                 capture_output=True, text=True, timeout=600)
        assert install.returncode == 0, f"pip install {DUCKDB_1X} failed:\n{install.stdout}\n{install.stderr}"
        marker.touch()
    return python


DUCKDB_1X_CLIENT = textwrap.dedent(
    """
    import json, sys
    import duckdb
    serving, warehouse, breaks_sql = sys.argv[1], sys.argv[2], sys.stdin.read()
    con = duckdb.connect(serving, read_only=True)
    out = {
        "version": duckdb.__version__,
        "tables": [r[0] for r in con.sql("select table_name from duckdb_tables() where schema_name = 'marts' order by 1").fetchall()],
        "column_comment": con.sql("select comment from duckdb_columns() where table_name = 'mrr_waterfall' and column_name = 'closing_mrr'").fetchall()[0][0],
        "closing": [str(r[0]) for r in con.sql("select closing_mrr from marts.mrr_waterfall order by month").fetchall()],
        "breaks": len(con.sql(breaks_sql).fetchall()),
        "quarantine": con.sql("select source_file, line_number, reason from meta.quarantine").fetchall(),
        "loaded_files": con.sql("select count(*) from meta.loaded_files").fetchall()[0][0],
        "quarantine_comment": con.sql("select comment from duckdb_tables() where schema_name = 'meta' and table_name = 'quarantine'").fetchall()[0][0],
    }
    con.close()
    try:
        duckdb.connect(warehouse, read_only=True).close()
        out["warehouse_opens"] = True
    except Exception as error:
        out["warehouse_opens"] = str(error).splitlines()[0]
    print(json.dumps(out))
    """
)


def test_the_serving_file_opens_in_duckdb_1x(tmp_path):
    source = warehouse(tmp_path, "v2")
    serving = tmp_path / "serving.duckdb"
    publish(source, serving, run_id="run-1")
    python = duckdb_1x_python()
    client = subprocess.run([str(python), "-c", DUCKDB_1X_CLIENT, str(serving), str(source)],
                            input=WATERFALL_BREAKS, capture_output=True, text=True, timeout=120)
    assert client.returncode == 0, client.stderr
    seen = json.loads(client.stdout)
    assert seen["version"].startswith("1.")
    assert "mrr_waterfall" in seen["tables"] and "accounts" in seen["tables"]
    assert seen["column_comment"]
    assert seen["closing"] == CLOSING["v2"] and seen["breaks"] == 0
    # what was rejected, and the load log, read from the same file (docs/bi.md)
    assert seen["quarantine"] == [["billing_events/2025-01-07-bad.jsonl", 1, "missing_field"]]
    assert seen["loaded_files"] == 7 and seen["quarantine_comment"]
    # Why the serving file is written in an older format: DuckDB 2.0's default one is refused by 1.x.
    assert seen["warehouse_opens"] is not True


READER = textwrap.dedent(
    """
    import json, sys, time
    import duckdb
    serving, seconds, breaks_sql = sys.argv[1], float(sys.argv[2]), sys.stdin.read()
    polls, errors, deadline = [], [], time.time() + seconds
    while time.time() < deadline:
        try:
            # A new connection per poll, as a BI tool's query does; it reads one file from start to end.
            con = duckdb.connect(serving, read_only=True)
            try:
                run_id, promised = con.sql("select run_id, marts_rows from meta.publication").fetchall()[0]
                tables = [r[0] for r in con.sql("select table_name from duckdb_tables() where schema_name = 'marts'").fetchall()]
                rows = sum(con.sql(f"select count(*) from marts.{t}").fetchall()[0][0] for t in tables)
                breaks = len(con.sql(breaks_sql).fetchall())
                closing = [str(r[0]) for r in con.sql("select closing_mrr from marts.mrr_waterfall order by month").fetchall()]
            finally:
                con.close()
            polls.append({"version": run_id.split("-")[0], "complete": rows == promised, "breaks": breaks, "closing": closing})
        except Exception as error:
            errors.append(repr(error))
    print(json.dumps({"polls": polls, "errors": errors}))
    """
)


def test_readers_see_one_complete_version_while_publications_replace_it(tmp_path):
    versions = {"v1": warehouse(tmp_path, "v1"), "v2": warehouse(tmp_path, "v2")}
    serving = tmp_path / "serving.duckdb"
    publish(versions["v1"], serving, run_id="v1-0")
    reader = subprocess.Popen([sys.executable, "-c", READER, str(serving), "4"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    reader.stdin.write(WATERFALL_BREAKS)
    reader.stdin.close()
    connections = {v: connect(path) for v, path in versions.items()}
    published = 0
    try:
        while reader.poll() is None:
            version = "v2" if published % 2 == 0 else "v1"
            publish_marts(connections[version], serving, run_id=f"{version}-{published}")
            published += 1
    finally:
        for con in connections.values():
            con.close()
    result = json.loads(reader.stdout.read())
    assert reader.returncode == 0, reader.stderr.read()
    assert result["errors"] == []
    polls = result["polls"]
    assert published >= 5 and len(polls) >= 10
    assert {p["version"] for p in polls} == {"v1", "v2"}  # the file really changed under the reader
    for poll in polls:
        assert poll["complete"] and poll["breaks"] == 0, poll
        assert poll["closing"] == CLOSING[poll["version"]], poll


def test_bi_tool_reads_through_sqlalchemy_while_a_run_writes(tmp_path):
    # As Superset and notebooks connect: duckdb_engine, read-only, a fresh connection per query.
    landing = Landing(tmp_path / "landing")
    landing.add(*VERSION_1)
    warehouse_path, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    build(landing, warehouse_path).close()
    publish(warehouse_path, serving, run_id="v1-0")
    landing.add(*VERSION_2)

    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    run = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "run", "--landing", str(landing.root),
         "--warehouse", str(warehouse_path), "--serving", str(serving), *MRR_SLICE],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    engine = sa.create_engine(f"duckdb:///{serving}?access_mode=read_only", poolclass=NullPool)
    reads_while_writing = 0
    try:
        while run.poll() is None:
            writing = lock_is_held(warehouse_path)
            inspector = sa.inspect(engine)
            tables = inspector.get_table_names(schema="marts")
            columns = {c["name"]: c.get("comment") for c in inspector.get_columns("mrr_waterfall", schema="marts")}
            with engine.connect() as con:
                closing = con.execute(sa.text("select closing_mrr from marts.mrr_waterfall order by month")).scalars().all()
            assert {"accounts", "mrr_waterfall", "mrr_movements", "account_mrr_monthly"} <= set(tables)
            assert columns["closing_mrr"], "column comments reach the BI tool"
            assert [str(c) for c in closing] in (CLOSING["v1"], CLOSING["v2"])
            reads_while_writing += writing and lock_is_held(warehouse_path)
            time.sleep(1)  # a dashboard refreshing, not a busy loop stealing the run's CPU
    finally:
        output = run.communicate(timeout=300)[0]
        engine.dispose()
    assert run.returncode == 0, output[-3000:]
    assert reads_while_writing > 0, "no read overlapped the run"
    with engine.connect() as con:
        closing = con.execute(sa.text("select closing_mrr from marts.mrr_waterfall order by month")).scalars().all()
    assert [str(c) for c in closing] == CLOSING["v2"]


def test_a_publication_after_a_restatement_updates_a_copy_and_equals_the_marts(tmp_path):
    """The next publication from the same warehouse copies the file in place and replaces only the rows of
    the accounts the incremental marts restated; the file then holds exactly the warehouse's marts."""
    from tests.support.story import build_metrics, load_new_files, payment

    landing = Landing(tmp_path / "landing")
    # the data reaches March already, so the next delivery adds no month (a new month rebuilds in full)
    landing.add(*VERSION_1, account("C", on="2025-01-04"), starts("C", seats=1, price=10, on="2025-01-07"),
                payment("C", on="2025-03-01", amount="10.00"))
    con = build_metrics(build(landing, tmp_path / "warehouse.duckdb"))
    serving = tmp_path / "serving.duckdb"
    assert publish_marts(con, serving, run_id="first").updated == ()

    landing.add(*VERSION_2, payment("C", on="2025-03-02", amount="10.00"))
    load_new_files(con, landing.root)
    run_models(con, MRR + METRICS)
    publication = publish_marts(con, serving, run_id="second")
    assert publication.updated == ("account_mrr_monthly", "accounts", "mrr_movements")
    con.execute(f"attach '{serving}' as published (read_only)")
    for table in publication.tables:
        for one, other in (("marts", "published.marts"), ("published.marts", "marts")):
            assert con.sql(f"select count(*) from (from {one}.{table} except all from {other}.{table})"
                           ).fetchall() == [(0,)], table
    assert con.sql("select closing_mrr::varchar from published.marts.mrr_waterfall order by month").fetchall() == [
        ("104.00",), ("134.00",), ("90.00",)]
    assert con.sql("select run_id from published.meta.publication").fetchall() == [("second",)]
    con.execute("detach published")

    # a rebuilt warehouse numbers its builds afresh: its publication copies everything again
    con.close()
    (tmp_path / "warehouse.duckdb").unlink()
    con = build_metrics(build(landing, tmp_path / "warehouse.duckdb"))
    assert publish_marts(con, serving, run_id="third").updated == ()


def test_a_serving_file_that_is_not_what_this_warehouse_last_published_is_copied_whole(tmp_path):
    """A warehouse restored from a backup numbers its next builds as the backup did; a serving table
    dropped by hand; a model that is no longer incremental: each time the file ends up equal to the marts."""
    from tests.support.story import build_metrics, load_new_files, payment
    from transforms.model_builds import changed_keys_since

    landing = Landing(tmp_path / "landing")
    landing.add(*VERSION_1, payment("A", on="2025-01-20", amount="50.00"))
    path, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    build_metrics(build(landing, path)).close()

    def deliver_and_publish(*events):
        landing.add(*events)
        con = connect(path)
        try:
            load_new_files(con, landing.root)
            run_models(con, MRR + METRICS)
            publication = publish_marts(con, serving)
            con.execute(f"attach '{serving}' as published (read_only)")
            for table in publication.tables:
                for one, other in (("marts", "published.marts"), ("published.marts", "marts")):
                    assert con.sql(f"select count(*) from (from {one}.{table} except all from {other}.{table})"
                                   ).fetchall() == [(0,)], table
            return publication
        finally:
            con.close()

    deliver_and_publish()
    backup = (tmp_path / "backup.duckdb")
    backup.write_bytes(path.read_bytes())
    assert deliver_and_publish(changes("B", seats=3, on="2025-01-21")).updated  # B restated and published
    path.write_bytes(backup.read_bytes())  # the warehouse goes back; its next build numbers repeat
    assert deliver_and_publish(changes("A", seats=7, on="2025-01-22")).updated == ()

    con = duckdb.connect(str(serving))
    con.execute("drop table marts.mrr_movements")
    con.close()
    assert deliver_and_publish(changes("A", seats=9, on="2025-01-23")).updated == ()
    assert deliver_and_publish(changes("A", seats=10, on="2025-01-24")).updated  # and the next one updates
    assert deliver_and_publish(changes("A", seats=11, on="2025-01-25")).updated
    # a new month rebuilds every mart: a new file, not a copy carrying the free space updates left behind
    assert deliver_and_publish(changes("A", seats=12, on="2025-02-03")).updated == ()
    con = connect(path)
    fresh = publish_marts(con, tmp_path / "fresh.duckdb")
    con.close()
    assert serving.stat().st_size == fresh.file_bytes

    con = connect(path)
    assert changed_keys_since(con, "marts/mrr_waterfall", [1, "any"]) is None  # not an incremental model
    con.close()
