"""Which landed files a stream has: its event files, the files it ignores (named, never read), the files
not loaded yet, and how a load cuts them into chunks and names them to DuckDB."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

JSON_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
TABULAR_SUFFIXES = (".parquet", ".csv", ".csv.gz")
# About this much uncompressed text is validated at a time (gzip counts 8x its size on disk).
CHUNK_BYTES = 512 * 1024 * 1024
# Characters DuckDB's file readers take as a glob pattern (or an escape) in a path: a landed file whose name
# holds one is read through a link with a plain name, never as a pattern that may match other files.
GLOB_CHARACTERS = frozenset("*?[]{}\\")


def landed_files(landing_dir: Path, stream: str) -> list[str]:
    """Paths (relative to the landing folder, sorted) of the stream's event files."""
    folder = Path(landing_dir) / stream
    if not folder.is_dir():
        return []
    suffixes = JSON_SUFFIXES + TABULAR_SUFFIXES
    return sorted(
        p.relative_to(landing_dir).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name.lower().endswith(suffixes)
    )


# Files that are, by convention, still being written or not meant to be read: never reported as ignored.
IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload")


def ignored_files(landing_dir: Path, stream: str) -> list[str]:
    """Files in the stream's folder that are not event files (e.g. `events.json`, `export.xlsx`): never read,
    so they are named in the load's report rather than passed over in silence. Hidden files and files still
    being written (`.part`, `.tmp`) are left out."""
    folder = Path(landing_dir) / stream
    if not folder.is_dir():
        return []
    return sorted(
        p.relative_to(landing_dir).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".")
        and not p.name.lower().endswith(JSON_SUFFIXES + TABULAR_SUFFIXES + IN_PROGRESS_SUFFIXES)
    )


def new_files(con: duckdb.DuckDBPyConnection, landing_dir: Path, stream: str) -> tuple[list[str], int]:
    files = landed_files(landing_dir, stream)
    loaded = {r[0] for r in con.execute("select source_file from raw.loaded_files where stream = ?", [stream]).fetchall()}
    fresh = [f for f in files if f not in loaded]
    return fresh, len(files) - len(fresh)



def chunk_files(landing_dir: Path, files: list[str], chunk_bytes: int) -> list[list[str]]:
    chunks: list[list[str]] = [[]]
    size = 0
    for f in files:
        weight = (landing_dir / f).stat().st_size * (8 if f.lower().endswith(".gz") else 1)
        if chunks[-1] and size + weight > chunk_bytes:
            chunks.append([])
            size = 0
        chunks[-1].append(f)
        size += weight
    return chunks


def literal_paths(landing_dir: Path, files: list[str], links: Path | None) -> dict[str, str]:
    """The path DuckDB is given for each landed file (relative name -> path). DuckDB expands `*`, `?` and
    `[...]` in a path even when a file of that very name exists (`2024-03-0[1].jsonl` reads
    `2024-03-01.jsonl`), so a name holding such a character is read through a symbolic link with a plain
    name in `links`, keeping its suffix (`.gz` decides decompression)."""
    paths = {}
    for index, relative in enumerate(files):
        path = os.path.abspath(landing_dir / relative)
        if GLOB_CHARACTERS.intersection(path):
            name = Path(relative).name.lower()
            suffix = next(s for s in sorted(JSON_SUFFIXES + TABULAR_SUFFIXES, key=len, reverse=True)
                          if name.endswith(s))
            assert links is not None, "a name with glob characters needs the links folder"
            link = links / f"file-{index}{suffix}"
            os.symlink(path, link)
            path = str(link)
        paths[relative] = path
    return paths

