"""How long a landed line may be: a longer one is quarantined (`line_too_long`) without being held in memory.

DuckDB's line reader stops at lines over 2,000,000 bytes (its `max_line_size`); the load then reads that
file in Python, and this module's reader never holds more than the limit of any one line: the rest of an
overlong line is read in pieces and dropped, keeping its first PREVIEW_BYTES for raw.quarantine. Lines up to
DuckDB's maximum are measured in SQL (strlen is free). The default, 1 MiB, is some thousand times a real
event line (150-400 bytes); SUBWH_MAX_LINE_BYTES changes it (docs/bad-input.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

DEFAULT_MAX_LINE_BYTES = 1024 * 1024
# What raw.quarantine keeps of an overlong line.
PREVIEW_BYTES = 1000
REASON = "line_too_long"
# Reading an overlong line's rest, this much at a time.
_PIECE = 1024 * 1024


def bounded_lines(handle: BinaryIO, limit: int) -> Iterator[tuple[bytes, int]]:
    """(line, size in bytes) for every \\n-ended line of a binary file. A line longer than `limit` (its
    ending not counted) comes back as its first PREVIEW_BYTES plus its ending, with its full size; at
    most max(limit, 1 MiB) + 1 bytes of it are ever held."""
    while True:
        data = handle.readline(limit + 2)  # the line's ending may be \r\n
        if not data:
            return
        if data.endswith(b"\n") or len(data) <= limit:
            body = len(data) - (2 if data.endswith(b"\r\n") else 1 if data.endswith(b"\n") else 0)
            if body <= limit:
                yield data, body
                continue
        size = len(data)
        preview = data[:PREVIEW_BYTES]
        while not data.endswith(b"\n"):
            data = handle.readline(_PIECE)
            if not data:
                break
            size += len(data)
            preview += data[: max(0, PREVIEW_BYTES - len(preview))]
        ending = b""
        if data.endswith(b"\n"):
            ending = b"\n"
            size -= 2 if data.endswith(b"\r\n") else 1
            if preview.endswith(b"\n"):  # the whole line fit in the preview (a limit below PREVIEW_BYTES)
                preview = preview[: -2 if preview.endswith(b"\r\n") else -1]
        yield preview + ending, size


def detail(size: int, limit: int) -> str:
    return f"a line of {size:,} bytes is longer than SUBWH_MAX_LINE_BYTES ({limit:,}); raw holds only its beginning"
