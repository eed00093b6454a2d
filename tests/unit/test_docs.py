"""The project carries its own contract in docs/, and every reference points into the repository.

- No tracked file names the workspace's shared specification (a clone does not have it), and no table or
  column description in the catalog (what BI users read in the serving file) or in Dagster cites it.
- docs/input-format.md has a JSON example of every event type, and the examples load as the page says.
- docs/input-format.md names every quarantine reason; docs/tables.md every public table and key column.
- Links between the README and docs/ resolve.
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from orchestration.definitions import build_definitions
from orchestration.settings import REPO_ROOT, Settings
from tests.integration.test_definitions import SPEC_TABLES
from tests.support.dbt import SALES, run_models
from tests.support.story import Landing, build, build_metrics, rows
from tests.unit.test_metrics import subscription_story
from transforms import sales
from transforms.ingestion.event_schema import QUARANTINE_REASONS, REQUIRED_FIELDS, STREAM_FIELDS

DOCS = REPO_ROOT / "docs"
INPUT_FORMAT = DOCS / "input-format.md"
# Spelled in pieces so that this file does not match itself.
OUTSIDE_REFERENCES = ("../" + "shared", "SPEC" + ".md", "SPEC" + " §")
# Pages other work in progress writes (the Stripe import, bad input); links to them are checked once they exist.
PAGES_WRITTEN_ELSEWHERE = {"docs/stripe.md", "docs/bad-input.md"}


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: cannot list the tracked files")
    paths = [REPO_ROOT / p for p in listed.stdout.decode().split("\0") if p]
    return [p for p in paths if p.is_file() and not p.name.endswith((".gz", ".parquet", ".png", ".duckdb"))]


def test_no_tracked_file_points_outside_the_repository():
    offending = []
    for path in tracked_text_files():
        relative = path.relative_to(REPO_ROOT).as_posix()
        if relative.startswith("docs/decisions/"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if any(reference in line for reference in OUTSIDE_REFERENCES):
                offending.append(f"{relative}:{number}: {line.strip()[:100]}")
    assert offending == [], ("cite the repository's pages instead: the input format (section 1 and the bad-input "
                             "rules) docs/input-format.md; MRR, movements, metrics (2-4) docs/metrics.md; sales "
                             "signals (5) docs/sales.md; tables (6) docs/tables.md; the Stripe import (7) "
                             "docs/stripe.md")


def _has_outside_reference(text: str | None) -> bool:
    return bool(text) and ("SPEC" in text or "../" + "shared" in text)


def test_no_description_in_the_catalog_cites_an_outside_document(tmp_path):
    # A warehouse with every model and both sales marts: every table and column comment BI users can read.
    landing = Landing(tmp_path / "landing")
    landing.add(*subscription_story())
    con = build_metrics(build(landing))
    run_models(con, SALES)
    sales.write_marts(con, sales.follow_up_lists(sales.read_inputs(con)))
    tables = con.sql("select schema_name, table_name, comment from duckdb_tables() "
                     "where database_name = current_database()").fetchall()
    columns = con.sql("select schema_name, table_name, column_name, comment from duckdb_columns() "
                      "where database_name = current_database()").fetchall()
    assert {s for s, _, _ in tables} >= {"raw", "staging", "intermediate", "marts"}
    # (the same pages as above: docs/input-format.md, metrics.md, sales.md, tables.md, stripe.md)
    assert [t for t in tables if _has_outside_reference(t[2])] == []
    assert [c for c in columns if _has_outside_reference(c[3])] == []
    # and the descriptions the Dagster UI shows: assets, their columns, asset checks
    defs = build_definitions(Settings(landing_dir=tmp_path / "landing", warehouse_path=tmp_path / "w.duckdb",
                                       serving_path=tmp_path / "s.duckdb", exports_dir=tmp_path / "exports",
                                       reports_dir=tmp_path / "reports"))
    for spec in defs.resolve_all_asset_specs():
        assert not _has_outside_reference(spec.description), spec.key
        schema = spec.metadata.get("dagster/column_schema")
        for column in schema.columns if schema else []:
            assert not _has_outside_reference(column.description), (spec.key, column.name)
    for check in defs.resolve_asset_graph().asset_check_keys:
        spec = defs.resolve_asset_graph().get_check_spec(check)
        assert not _has_outside_reference(spec.description), check


# ------------------------------------------------------------------------------------------ input format

def _examples(page: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", page.read_text(), flags=re.DOTALL)


def doc_events() -> list[dict]:
    return [json.loads(line) for block in _examples(INPUT_FORMAT, "json") for line in block.splitlines() if line]


def test_every_event_type_has_an_example_and_every_reason_is_listed():
    events = doc_events()
    examples = {e["event_type"] for e in events}
    known = {t for types in REQUIRED_FIELDS.values() for t in types}
    assert known <= examples, known - examples
    assert "subscription_cancel_withdrawn" in examples  # the new types and fields are shown too
    assert {"discount_amount", "interval_count"} <= {k for e in events for k in e}
    text = INPUT_FORMAT.read_text()
    assert [reason for reason in QUARANTINE_REASONS if f"`{reason}`" not in text] == []
    for stream in REQUIRED_FIELDS:
        assert f"## {stream}" in text


def test_the_examples_load_as_the_page_says(tmp_path):
    # The page's events, plans.csv and fx_rates.csv, landed as they are.
    landing = tmp_path / "landing"
    stream_of = {t: stream for stream, types in REQUIRED_FIELDS.items() for t in types}
    by_stream: dict[str, list[str]] = {s: [] for s in REQUIRED_FIELDS}
    for event in doc_events():
        by_stream[stream_of.get(event["event_type"], "subscription_events")].append(json.dumps(event))
    for stream, lines in by_stream.items():
        (landing / stream).mkdir(parents=True)
        (landing / stream / "examples.jsonl").write_text("\n".join(lines) + "\n")
    (landing / "reference").mkdir()
    plans, fx = _examples(INPUT_FORMAT, "csv")
    (landing / "reference" / "plans.csv").write_text(plans)
    (landing / "reference" / "fx_rates.csv").write_text(fx)
    con = build(landing)
    # Every example of a type this version knows loads (a type another branch adds is the only exception).
    unknown = [e for e in doc_events() if e["event_type"] not in stream_of]
    assert con.sql("select count(*) from raw.quarantine").fetchall() == [(len(unknown),)]
    # The page's reading: 12 seats x 20 EUR less 10% = 216 EUR in June, 15 seats = 270 EUR in July;
    # EUR at 1.1420 from June: 216 x 1.142 = 246.672 -> 246.67; 270 x 1.142 = 308.34.
    mrr = {r["month"]: r["mrr"] for r in rows(con, "select month, mrr from marts.account_mrr_monthly "
                                                    "where account_id = 'acme' order by month")}
    assert mrr[date(2025, 6, 1)] == D("246.67") and mrr[date(2025, 7, 1)] == D("308.34")
    if "interval_count" in {f.name for f in STREAM_FIELDS["subscription_events"]} and not unknown:
        # From 16 August: 15 x 110 - 50 = 1,600 EUR every 6 months = 266.67 EUR a month:
        # 3,200 EUR a year x 1.142 / 12 = 304.5333 -> 304.53. Paused in September (absent), resumed in
        # October, and the cancellation for February was withdrawn: still paying in November.
        assert mrr[date(2025, 8, 1)] == D("304.53")
        assert date(2025, 9, 1) not in mrr
        assert mrr[date(2025, 10, 1)] == mrr[date(2025, 11, 1)] == D("304.53")


def test_tables_page_names_every_public_table_and_key_column():
    text = (DOCS / "tables.md").read_text()
    for table, columns in SPEC_TABLES.items():
        assert f"`{table}" in text, table
        if table.startswith("marts."):
            row = next(line for line in text.splitlines() if line.startswith(f"| `{table}` |"))
            assert [c for c in columns.split() if c not in row] == [], table


LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


def test_links_between_readme_and_docs_resolve():
    broken = []
    for page in [REPO_ROOT / "README.md", REPO_ROOT / "sample_data" / "README.md", *sorted(DOCS.glob("*.md"))]:
        for target, _ in LINK.findall(page.read_text()):
            if target.startswith(("http://", "https://", "mailto:", "data:")):
                continue
            resolved = (page.parent / target).resolve()
            relative = resolved.relative_to(REPO_ROOT).as_posix() if resolved.is_relative_to(REPO_ROOT) else target
            if not resolved.exists() and relative not in PAGES_WRITTEN_ELSEWHERE:
                broken.append(f"{page.relative_to(REPO_ROOT)} -> {target}")
            if not resolved.is_relative_to(REPO_ROOT):
                broken.append(f"{page.relative_to(REPO_ROOT)} -> {target} (outside the repository)")
    assert broken == []


def test_the_python_example_of_the_bi_page_runs(tmp_path, capsys):
    from transforms.serving import publish_marts

    landing = Landing(tmp_path / "landing")
    landing.add(*subscription_story())
    con = build_metrics(build(landing, tmp_path / "warehouse.duckdb"))
    publish_marts(con, tmp_path / "serving.duckdb", run_id="docs")
    con.close()
    (block,) = _examples(DOCS / "bi.md", "python")
    exec(compile(block.replace("data/serving.duckdb", str(tmp_path / "serving.duckdb")), "docs/bi.md", "exec"), {})
    printed = capsys.readouterr().out
    assert printed.startswith("2025-03-01 338.00\n")  # the story's latest month and closing MRR
