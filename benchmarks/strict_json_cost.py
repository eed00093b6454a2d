"""What strict JSON (and the other bad-input checks of issue 18) cost: one load chunk, with and without.

    .venv/bin/python benchmarks/strict_json_cost.py --landing DIR --stream usage_events [--lenient]

Loads the first chunk (about 512 MB of text, discovery.CHUNK_BYTES) of a stream's files into a fresh
warehouse in a temporary folder, with `--memory-limit 4GB --threads 2` as the other benchmarks, and prints
one line: rows, seconds of load_stream. `--lenient` takes the strict-JSON test out (the condition becomes
`false`), so the two runs differ by that test alone. Time whole runs from outside too (benchmarks/RESULTS.md
has the figures and the commands).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from transforms import ingestion  # noqa: E402
from transforms.ingestion import discovery, strict_json  # noqa: E402
from transforms.sql_models import connect  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", required=True)
    parser.add_argument("--stream", default="usage_events")
    parser.add_argument("--lenient", action="store_true", help="without the strict-JSON test")
    args = parser.parse_args()
    if args.lenient:
        strict_json.lenient_condition = lambda *a, **k: "false"
    landing = Path(args.landing)
    files = ingestion.landed_files(landing, args.stream)
    first_chunk = discovery.chunk_files(landing, files, discovery.CHUNK_BYTES)[0]
    with tempfile.TemporaryDirectory(prefix="subwh-strict-bench-") as folder:
        con = connect(Path(folder) / "w.duckdb", memory_limit="4GB", threads=2)
        ingestion.ensure_raw_tables(con)
        ingestion.load_reference(con, landing)
        original = discovery.landed_files
        discovery.landed_files = lambda root, stream: first_chunk if stream == args.stream else original(root, stream)
        started = time.perf_counter()
        report = ingestion.load_stream(con, landing, args.stream)
        seconds = time.perf_counter() - started
        con.close()
    mode = "lenient" if args.lenient else "strict"
    print(f"{mode} {args.stream}: {report.rows_read:,} rows in {len(first_chunk)} files, load_stream {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
