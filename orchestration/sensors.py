"""Event-driven runs: new landing files start an ingestion run; everything downstream follows by
declarative automation (each asset's AutomationCondition), not by hand-wired jobs.

The landing sensor keeps a cursor: a watermark of the newest landing time (the file's ctime, which a
move or copy into the folder sets even when the file's mtime is preserved) plus the names landed in the
last few minutes before it, so a file that lands while a listing is in progress is not skipped. Each
file triggers one run; the run key is a digest of the files it was triggered for, so a sensor that
restarts (or re-evaluates after a crash) does not start the same run twice. The minimum interval
collects a burst of files into one run.
"""

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from orchestration.assets import ingestion as ingestion_assets
from orchestration.settings import Settings
from transforms.event_schema import STREAMS
from transforms.ingestion import landed_files

# Names landed this long before the watermark stay in the cursor (clock granularity, listing races).
LOOKBACK_NS = 10 * 60 * 1_000_000_000
REFERENCE_FILES = ("reference/plans.csv", "reference/fx_rates.csv")
INGESTION = dg.AssetSelection.groups(ingestion_assets.GROUP)


@dataclass(frozen=True)
class LandedFile:
    name: str  # relative to the landing folder, as in raw.loaded_files
    landed_ns: int  # st_ctime_ns: when it arrived (or, for reference files, was last corrected)

    @property
    def key(self) -> str:
        # Reference files are corrected in place: each version is a new arrival.
        return f"{self.name}@{self.landed_ns}" if self.name in REFERENCE_FILES else self.name


def list_landing(landing_dir: Path) -> list[LandedFile]:
    """Every file ingestion would look at: the streams' event files and the reference files."""
    landing_dir = Path(landing_dir)
    names = [name for stream in STREAMS for name in landed_files(landing_dir, stream)]
    names += [name for name in REFERENCE_FILES if (landing_dir / name).is_file()]
    found = []
    for name in names:
        try:
            found.append(LandedFile(name, (landing_dir / name).stat().st_ctime_ns))
        except FileNotFoundError:  # removed between listing and stat
            continue
    return found


@dataclass(frozen=True)
class LandingCursor:
    watermark_ns: int = 0
    recent: frozenset[str] = frozenset()  # keys landed within LOOKBACK_NS of the watermark

    @classmethod
    def parse(cls, text: str | None) -> "LandingCursor":
        if not text:
            return cls()
        state = json.loads(text)
        return cls(int(state["watermark_ns"]), frozenset(state["recent"]))

    def serialize(self) -> str:
        return json.dumps({"watermark_ns": self.watermark_ns, "recent": sorted(self.recent)})

    def new_files(self, files: list[LandedFile]) -> list[LandedFile]:
        cutoff = self.watermark_ns - LOOKBACK_NS
        return sorted((f for f in files if f.landed_ns > cutoff and f.key not in self.recent), key=lambda f: f.name)

    def advance(self, files: list[LandedFile], now_ns: int | None = None) -> "LandingCursor":
        # Never past the present: one file stamped in the future (a skewed network file system) must
        # not push the watermark ahead of the files that land after it.
        now_ns = time.time_ns() if now_ns is None else now_ns
        watermark = max([self.watermark_ns, *(min(f.landed_ns, now_ns) for f in files)])
        cutoff = watermark - LOOKBACK_NS
        return LandingCursor(watermark, frozenset(f.key for f in files if f.landed_ns > cutoff))


def run_key_for(files: list[LandedFile]) -> str:
    digest = hashlib.sha256("\n".join(sorted(f.key for f in files)).encode()).hexdigest()
    return f"landing-{digest[:20]}"


def build_landing_sensor(settings: Settings) -> dg.SensorDefinition:
    landing_dir = settings.landing_dir

    @dg.sensor(
        name="landing_files",
        target=INGESTION,
        minimum_interval_seconds=settings.sensor_min_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Starts an ingestion run when new files land in {landing_dir} (each file once; a burst within "
            f"{settings.sensor_min_interval_seconds}s becomes one run). Downstream assets follow by automation."
        ),
    )
    def landing_files(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        if not Path(landing_dir).is_dir():
            return dg.SensorResult(skip_reason=f"landing folder {landing_dir} does not exist")
        cursor = LandingCursor.parse(context.cursor)
        files = list_landing(landing_dir)
        new = cursor.new_files(files)
        next_cursor = cursor.advance(files).serialize()
        if not new:
            return dg.SensorResult(skip_reason="no new files", cursor=next_cursor)
        shown = ", ".join(f.name for f in new[:5]) + (f" and {len(new) - 5} more" if len(new) > 5 else "")
        context.log.info(f"{len(new)} new file(s): {shown}")
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=run_key_for(new), tags={"subwh/new_files": str(len(new))})],
            cursor=next_cursor,
        )

    return landing_files


# Evaluates every asset's AutomationCondition (MRR, metrics, sales, serving follow their inputs).
# Declared here rather than relying on Dagster's implicit default sensor so that it starts RUNNING.
automation = dg.AutomationConditionSensorDefinition(
    "warehouse_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Materializes assets whose inputs were updated (AutomationCondition.eager) once those runs finish.",
)
