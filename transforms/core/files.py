"""Files other programs read while we write them (the HTML report, the CRM export): replaced atomically."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def replace_atomically(target: str | Path, write: Callable[[IO], None], *, binary: bool = False) -> Path:
    """Write `target` through a temporary file beside it and rename it into place, so a reader never sees
    half a file; the file is readable by all (a share, a CRM import running as another user).

    Temporaries of `target` left by a killed process (`.<name>.<random>.tmp`) are removed first: writers of
    one target never run at once (they run in the warehouse pool), so any such file is an orphan."""
    target = Path(target)
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    for orphan in folder.glob(f".{_glob_literal(target.name)}.*.tmp"):
        orphan.unlink(missing_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as out:
            write(out)
        os.chmod(temp, 0o644)  # mkstemp creates 0600
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


def _glob_literal(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)
