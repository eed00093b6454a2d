"""One Dagster home per warehouse, and the tags that name a run's landing folder and warehouse.

A Dagster home (run history, sensor cursors, automation state, check results) describes one warehouse:
automation decides what to rebuild from the materializations it finds there. A home shared by two
warehouses mixes their runs, and automation answering a run on one warehouse would rebuild the other.
So every warehouse gets its own home beside it, `<warehouse>.dagster_home/` (for `data/warehouse.duckdb`,
`data/warehouse.duckdb.dagster_home/`), with the instance settings of `orchestration/dagster.yaml`
(the `warehouse` pool, the run queue, retention). `subwh run` and `subwh dev` (the UI, `make dev`)
both use it; DAGSTER_HOME set by hand is not needed and is ignored by `subwh`.

Every run also carries `subwh/landing` and `subwh/warehouse` tags (set when it is requested, and by the
warehouse resource when it starts, whoever launched it), and declarative automation only follows
updates made by runs tagged with its own warehouse (`orchestration/automation.py`, `for_warehouse`).

No Dagster import here: `subwh run` reads this before it imports Dagster.
"""

from __future__ import annotations

import shutil
from pathlib import Path

TEMPLATE = Path(__file__).with_name("dagster.yaml")
LANDING_TAG, WAREHOUSE_TAG = "subwh/landing", "subwh/warehouse"


def dagster_home(warehouse_path: str | Path) -> Path:
    return Path(f"{Path(warehouse_path).resolve()}.dagster_home")


def prepare_home(warehouse_path: str | Path) -> Path:
    """The warehouse's Dagster home, created with the committed instance settings if it is new."""
    home = dagster_home(warehouse_path)
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(TEMPLATE, home / "dagster.yaml")
    return home


def warehouse_tag_value(warehouse_path: str | Path) -> str:
    return str(Path(warehouse_path).resolve()) if str(warehouse_path) != ":memory:" else ":memory:"


def run_tags(landing_dir: str | Path, warehouse_path: str | Path) -> dict[str, str]:
    """The tags every run on this warehouse carries: the UI shows and filters them."""
    return {LANDING_TAG: str(Path(landing_dir).resolve()), WAREHOUSE_TAG: warehouse_tag_value(warehouse_path)}
