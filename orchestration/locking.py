"""One writer per warehouse file: an exclusive OS lock on `<warehouse>.lock` held for a whole run.

DuckDB lets one process open a database file for writing and refuses every other one at once ("Could
not set lock on file"), so two runs started together would fail instead of taking turns. Dagster's
run queue serializes the runs it launches (the `warehouse` pool in `orchestration/dagster.yaml`), but
`subwh run` executes in its own process outside that queue. Both therefore also take this lock: the
second writer waits for the first to finish, then runs. The OS drops the lock when its process exits,
so a killed run never leaves it behind.

The lock is re-entrant within a process (`subwh run` holds it around the run; the run's warehouse
resource, `LockedWarehouse` in orchestration/resources.py, takes it again). No Dagster import here:
`subwh run` takes the lock before it imports Dagster. POSIX only (fcntl); elsewhere it degrades to no lock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

WAITING_MESSAGE = "waiting for the running job to finish…"

_held: dict[str, list[int]] = {}  # lock path -> [file descriptor, depth]
_guard = threading.Lock()


def lock_path(warehouse_path: str | Path) -> Path:
    return Path(f"{Path(warehouse_path).resolve()}.lock")


@contextmanager
def writer_lock(warehouse_path: str | Path, on_wait: Callable[[str], None] | None = None) -> Iterator[Path]:
    """Hold the warehouse's writer lock; if another process holds it, call `on_wait` once and wait."""
    if str(warehouse_path) == ":memory:" or fcntl is None:
        yield Path(os.devnull)
        return
    path = lock_path(warehouse_path)
    key = str(path)
    with _guard:
        if key in _held:
            _held[key][1] += 1
            reentered = True
        else:
            reentered = False
    if not reentered:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait:
                    on_wait(WAITING_MESSAGE)
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # who holds it, for a curious operator
        with _guard:
            _held[key] = [fd, 1]
    try:
        yield path
    finally:
        with _guard:
            entry = _held[key]
            entry[1] -= 1
            last = entry[1] == 0
            if last:
                del _held[key]
        if last:
            fcntl.flock(entry[0], fcntl.LOCK_UN)
            os.close(entry[0])


def lock_is_held(warehouse_path: str | Path) -> bool:
    """True when some process holds the writer lock (for tests and diagnostics; never blocks)."""
    if fcntl is None:
        return False
    path = lock_path(warehouse_path)
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
