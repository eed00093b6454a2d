"""Tests write only under temporary folders (pytest's tmp_path) or the ignored build/ folder.

The suite checks it on itself: at the end of a run, a file created or changed under data/ (the user's
warehouse and reports), sample_data/ or tests/ (caches aside), or a new file at the top of the repository,
fails the run with its name. Under xdist only the controlling process checks, once, after every worker.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WATCHED = ("data", "sample_data", "tests")
IGNORED_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache"}
_SESSION: dict = {}


def files_written_since(started: float, before: set[Path]) -> list[Path]:
    """Files under the watched folders changed at or after `started`, and new files at the repository's top."""
    written = []
    for folder in WATCHED:
        for root, dirs, files in os.walk(REPO / folder):
            dirs[:] = [d for d in dirs if d not in IGNORED_PARTS]
            for name in files:
                path = Path(root) / name
                try:
                    if path.stat().st_mtime >= started:
                        written.append(path)
                except FileNotFoundError:
                    continue
    written += [p for p in REPO.iterdir() if p.is_file() and p not in before]
    return sorted(written)


def _is_worker(config) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionstart(session) -> None:
    if _is_worker(session.config):
        return
    _SESSION["started"] = time.time()
    _SESSION["top"] = {p for p in REPO.iterdir() if p.is_file()}


def pytest_sessionfinish(session, exitstatus) -> None:
    if _is_worker(session.config) or "started" not in _SESSION:
        return
    written = files_written_since(_SESSION["started"], _SESSION["top"])
    if written:
        names = "\n  ".join(str(p.relative_to(REPO)) for p in written[:20])
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = (f"tests wrote {len(written)} file(s) outside tmp_path and build/ (the user's folders):\n  {names}\n"
                   "write under pytest's tmp_path, or build/ for what is kept between runs")
        if reporter:
            reporter.write_line(message, red=True)
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def no_stripe_key(monkeypatch):
    """Every test starts without a Stripe key in its environment: a developer's own STRIPE_API_KEY must not make
    `subwh run` in a test pull from Stripe. Tests of the pull set what they need (tests/support/stripe_server.py)."""
    for name in ("STRIPE_API_KEY", "SUBWH_STRIPE_API_KEY_ENV", "SUBWH_STRIPE_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    # the local Stripe stand-in is reached directly, whatever proxy the machine has
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, ",".join(filter(None, [os.environ.get(name), "127.0.0.1", "localhost"])))
