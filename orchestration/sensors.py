"""Event-driven runs: new landing files start an ingestion run; everything downstream follows by
declarative automation (each asset's AutomationCondition), not by hand-wired jobs.

The landing sensor keeps a small cursor, whatever the number of files landed: when its last listing
started (this host's clock) and the files that listing saw which had landed within EDGE_NS before it.
A file is new when it landed (its ctime: a move or copy into the folder sets it even when the mtime is
preserved, and so does an edit in place) at or after that start minus EDGE_NS and is not one of those
seen. Every file that landed earlier was in the folder for the whole of the last listing, so it was seen
then; the edge covers a file that lands while a listing is in progress, timestamps of coarse granularity
and a file server whose clock runs up to EDGE_NS behind this host. The cursor holds names only for files
landed in the EDGE_NS before a look, so it stays a few hundred bytes however many files have landed
(a burst landing just before a look is named once, and leaves the cursor at the next look).

Each file triggers one run; the run key is a digest of the files it was triggered for, so a sensor that
restarts (or re-evaluates after a crash) does not start the same run twice. The minimum interval
collects a burst of files into one run. The sensor never opens the warehouse (a run may be writing it).
"""

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from orchestration.assets import ingestion as ingestion_assets
from orchestration.instance import run_tags
from orchestration.settings import Settings
from transforms import run_state
from transforms.ingestion import STREAMS, landed_files

# Files landed this long before a listing started are named in the cursor (see above).
EDGE_NS = 120 * 1_000_000_000
REFERENCE_FILES = ("reference/plans.csv", "reference/fx_rates.csv")
# Files that land load without asking Stripe: the Stripe pull (landing/stripe, only there when a key is set)
# runs on the schedule and from the UI, so an unreachable Stripe never holds up a landed file.
INGESTION = dg.AssetSelection.groups(ingestion_assets.GROUP) - dg.AssetSelection.kind("stripe")


@dataclass(frozen=True)
class LandedFile:
    name: str  # relative to the landing folder, as in raw.loaded_files
    landed_ns: int  # st_ctime_ns: when it arrived, or was last edited in place

    @property
    def key(self) -> str:
        # A file edited in place (a corrected reference file, an event file fixed after landing, which the
        # next load reloads) is a new arrival.
        return f"{self.name}@{self.landed_ns}"


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
    listed_ns: int = 0  # when the last listing started, on this host's clock
    edge: frozenset[str] = frozenset()  # keys it saw of files landed at or after listed_ns - EDGE_NS

    @classmethod
    def parse(cls, text: str | None) -> "LandingCursor":
        if not text:
            return cls()
        state = json.loads(text)
        if "watermark_ns" in state:  # the cursor of earlier versions: a watermark and the names near it
            return cls(int(state["watermark_ns"]), frozenset(state["recent"]))
        return cls(int(state["listed_ns"]), frozenset(state["edge"]))

    def serialize(self) -> str:
        return json.dumps({"listed_ns": self.listed_ns, "edge": sorted(self.edge)})

    def new_files(self, files: list[LandedFile]) -> list[LandedFile]:
        cutoff = self.listed_ns - EDGE_NS
        return sorted((f for f in files if f.landed_ns >= cutoff and f.key not in self.edge), key=lambda f: f.name)

    def advance(self, files: list[LandedFile], listed_ns: int) -> "LandingCursor":
        """The cursor after a listing that started at `listed_ns` and found `files`. Never moves back (a
        clock set back must not make old files new)."""
        listed_ns = max(listed_ns, self.listed_ns)
        cutoff = listed_ns - EDGE_NS
        return LandingCursor(listed_ns, frozenset(f.key for f in files if f.landed_ns >= cutoff))


def run_key_for(files: list[LandedFile]) -> str:
    digest = hashlib.sha256("\n".join(sorted(f.key for f in files)).encode()).hexdigest()
    return f"landing-{digest[:20]}"


def build_landing_sensor(settings: Settings) -> dg.SensorDefinition:
    landing_dir = settings.landing_dir
    tags = run_tags(settings.landing_dir, settings.warehouse_path)

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
        listed_ns = time.time_ns()  # before listing: a file landing during it is looked at again next time
        files = list_landing(landing_dir)
        if not context.cursor and run_state.landing_unchanged(settings):
            # A UI started on a warehouse `subwh run` has just brought up to date: those files are loaded.
            return dg.SensorResult(skip_reason="no new files since the last subwh run",
                                   cursor=cursor.advance(files, listed_ns).serialize())
        new = cursor.new_files(files)
        next_cursor = cursor.advance(files, listed_ns).serialize()
        if not new:
            return dg.SensorResult(skip_reason="no new files", cursor=next_cursor)
        shown = ", ".join(f.name for f in new[:5]) + (f" and {len(new) - 5} more" if len(new) > 5 else "")
        context.log.info(f"{len(new)} new file(s): {shown}")
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=run_key_for(new), tags={"subwh/new_files": str(len(new)), **tags})],
            cursor=next_cursor,
        )

    return landing_files


def build_automation_sensor(run_tags: dict[str, str]) -> dg.AutomationConditionSensorDefinition:
    """Evaluates every asset's AutomationCondition (MRR, metrics, sales, serving follow their inputs).
    Declared here rather than relying on Dagster's implicit default sensor so that it starts RUNNING;
    its runs carry the landing and warehouse tags (orchestration/instance.py)."""
    return dg.AutomationConditionSensorDefinition(
        "warehouse_automation",
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        run_tags=run_tags,
        description="Materializes assets whose inputs were updated (AutomationCondition.eager) once those runs finish.",
    )
