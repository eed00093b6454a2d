"""The benchmark script keeps working as the pipeline changes (a smoke run at XS: 1,000 accounts). It is not a
speed test: timings are only checked to be there."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

from transforms.dbt_project import model_docs

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "benchmark.py"


def _benchmark_module():
    spec = importlib.util.spec_from_file_location("benchmark_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_mrr_stage_names_models_that_exist():
    # A model renamed or removed would otherwise just drop out of the "MRR stage" figure.
    stage = _benchmark_module().MRR_STAGE
    assert set(stage) <= {name.replace(".", "/") for name in model_docs()}
    assert {"intermediate/subscription_periods", "marts/account_mrr_monthly", "marts/mrr_movements",
            "marts/mrr_waterfall"} <= set(stage)


def test_a_smoke_run_at_xs_prints_the_summary_and_records_nothing(tmp_path):
    results = (REPO / "benchmarks" / "RESULTS.md").read_text()
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--scale", "XS", "--no-record", "--cache", str(tmp_path), "--threads", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    summary = re.search(r"^\| XS \| 1,000 \| day \| ([\d,]+) \|.*?\| ([\d.]+) s \| ([\d.]+) s \((\d+)%\) \| ([\d.]+) s",
                        run.stdout, re.MULTILINE)
    assert summary, run.stdout[-3000:]
    events, full, incremental = int(summary[1].replace(",", "")), float(summary[2]), float(summary[3])
    assert events >= 100_000
    assert full > 0 and incremental > 0
    # every step of both builds is listed with its rows, and the MRR stage is timed
    assert re.search(r"^\| dbt_models \| [^|]*\bmarts/mrr_waterfall\b", run.stdout, re.MULTILINE)
    assert re.search(r"^\| sql: MRR stage models \| [\d.]+ \|", run.stdout, re.MULTILINE)
    assert (REPO / "benchmarks" / "RESULTS.md").read_text() == results
