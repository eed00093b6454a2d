"""The churn model: LightGBM gradient-boosted trees on the snapshot features, calibrated by Platt scaling on
the most recent training months, with LightGBM's per-row contributions for the drivers.

Why LightGBM rather than scikit-learn's HistGradientBoostingClassifier: both reach the same AUC on the
generated data within noise (benchmarks/RESULTS.md, "churn model"), but LightGBM trains faster on 2 cores
and gives exact per-row contributions (TreeSHAP, `pred_contrib`), which HistGradientBoosting does not.

Deterministic for a seed: LightGBM runs with `deterministic` and a fixed thread count, the row sample and
the split into fitting and calibration months depend only on the data and the seed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import lightgbm as lgb
import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression

from transforms.churn.features import FEATURES, Snapshots
from transforms.core.files import replace_atomically

FORMAT = 1
LEARNER = "lightgbm"
CALIBRATION_MONTHS = 3  # the latest training months calibrate; the earlier ones fit the trees
MAX_TRAINING_ROWS = 400_000  # a larger history is sampled (uniformly, by the seed)
MIN_CHURNS = 40  # fewer churned snapshots than this: no model, the rules score (a few dozen)
MIN_MONTHS = CALIBRATION_MONTHS + 3
PARAMS = dict(
    objective="binary",
    # shallow trees: as good here as deeper ones (backtest AUC 0.873 at depth 3 or 4, 0.870 unbounded) and
    # far cheaper to explain: TreeSHAP's per-row cost grows with trees x leaves x depth^2 (benchmarks/RESULTS.md)
    learning_rate=0.12,
    max_depth=3,
    num_leaves=8,
    min_data_in_leaf=100,
    feature_fraction=0.8,
    bagging_fraction=0.8,
    bagging_freq=1,
    lambda_l2=1.0,
    num_threads=1,  # OpenMP threads spin on a loaded machine (a 2-core box running tests: 16x slower); 1 is steady
    deterministic=True,
    force_row_wise=True,
    verbose=-1,
)
ROUNDS = 150


class NotEnoughHistory(ValueError):
    """Too few closed snapshot months or churns to train: the caller falls back to the rules."""


@dataclass
class ChurnModel:
    booster: lgb.Booster
    slope: float  # Platt scaling: calibrated logit = slope x raw score + intercept
    intercept: float
    trained_through: date  # the latest snapshot month trained on
    trained_at: datetime
    training_rows: int
    training_churns: int
    seed: int
    features: tuple[str, ...] = FEATURES
    version: str = field(default="")

    def __post_init__(self):
        if not self.version:
            digest = hashlib.sha256(self._payload(include_version=False).encode()).hexdigest()[:8]
            self.version = f"{self.trained_through:%Y-%m}-{digest}"

    # ------------------------------------------------------------------------------------------ scoring

    def raw_score(self, matrix: np.ndarray) -> np.ndarray:
        return self.booster.predict(matrix, raw_score=True, num_threads=PARAMS["num_threads"])

    def probability(self, matrix: np.ndarray) -> np.ndarray:
        return _sigmoid(self.slope * self.raw_score(matrix) + self.intercept)

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Each feature's contribution to each row's calibrated log-odds (columns in `features` order)."""
        contrib = self.booster.predict(matrix, pred_contrib=True, num_threads=PARAMS["num_threads"])
        return contrib[:, :-1] * self.slope  # the last column is the expected value

    # ------------------------------------------------------------------------------------------- a file

    def _payload(self, include_version: bool = True) -> str:
        payload = {
            "format": FORMAT,
            "learner": LEARNER,
            "features": list(self.features),
            "slope": self.slope,
            "intercept": self.intercept,
            "trained_through": self.trained_through.isoformat(),
            "training_rows": self.training_rows,
            "training_churns": self.training_churns,
            "seed": self.seed,
            "booster": self.booster.model_to_string(),
        }
        if include_version:
            payload |= {"version": self.version, "trained_at": self.trained_at.isoformat()}
        return json.dumps(payload, sort_keys=True)

    def save(self, folder: str | Path, current: bool = True) -> Path:
        """Write `churn_model_<version>.json` in `folder` and, unless `current` is False, make it current
        (`current.txt` names it); both atomically, so a reader sees the old model or the new one, never half a file."""
        folder = Path(folder)
        path = replace_atomically(folder / f"churn_model_{self.version}.json", lambda out: out.write(self._payload()))
        if current:
            replace_atomically(folder / "current.txt", lambda out: out.write(path.name + "\n"))
        else:
            (folder / "current.txt").unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | Path) -> ChurnModel:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("format") != FORMAT or tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path}: a churn model of another format or feature set; retrain it (subwh run)")
        return cls(
            booster=lgb.Booster(model_str=data["booster"]),
            slope=data["slope"],
            intercept=data["intercept"],
            trained_through=date.fromisoformat(data["trained_through"]),
            trained_at=datetime.fromisoformat(data["trained_at"]),
            training_rows=data["training_rows"],
            training_churns=data["training_churns"],
            seed=data["seed"],
            version=data["version"],
        )


def current_model(folder: str | Path) -> ChurnModel | None:
    """The model `current.txt` names in `folder`, or None when there is none yet, or when it cannot be used
    (another format or feature set, from an older version of this code; unreadable): then a new one is trained."""
    pointer = Path(folder) / "current.txt"
    if not pointer.is_file():
        return None
    try:
        return ChurnModel.load(Path(folder) / pointer.read_text(encoding="utf-8").strip())
    except (OSError, ValueError, KeyError, lgb.basic.LightGBMError):
        return None


def last_trained_through(folder: str | Path) -> date | None:
    """The latest month any model in `folder` was trained through, used or not (from the file names)."""
    months = [date.fromisoformat(p.name[len("churn_model_"):][:7] + "-01")
              for p in Path(folder).glob("churn_model_????-??-*.json")]
    return max(months, default=None)


def check_history(training: Snapshots) -> None:
    """Raise NotEnoughHistory when `training` (closed snapshots) cannot train a model worth having."""
    months = training.frame["snapshot_month"].n_unique()
    churns = int(training.frame["churned_3m"].sum() or 0)
    if months < MIN_MONTHS or churns < MIN_CHURNS:
        raise NotEnoughHistory(
            f"{churns} churned account-months over {months} closed snapshot months: a model needs at least "
            f"{MIN_CHURNS} churns over {MIN_MONTHS} months; the three churn-risk rules score instead"
        )


def train(training: Snapshots, seed: int = 0, trained_at: datetime | None = None) -> ChurnModel:
    """Fit the trees on the older training months and the calibration on the latest CALIBRATION_MONTHS.

    `training` holds closed snapshots only (every label known). Raises NotEnoughHistory when too small."""
    check_history(training)
    frame = training.frame
    if frame.height > MAX_TRAINING_ROWS:
        frame = frame.sample(MAX_TRAINING_ROWS, seed=seed).sort("snapshot_month", "account_id")
    months = frame["snapshot_month"].unique().sort()
    first_calibration = months[-CALIBRATION_MONTHS]
    fit = Snapshots(frame.filter(pl.col("snapshot_month") < first_calibration))
    calibration = Snapshots(frame.filter(pl.col("snapshot_month") >= first_calibration))
    booster = lgb.train(
        {**PARAMS, "seed": seed},
        lgb.Dataset(fit.matrix, fit.labels, feature_name=list(FEATURES), free_raw_data=True),
        num_boost_round=ROUNDS,
    )
    raw = booster.predict(calibration.matrix, raw_score=True, num_threads=PARAMS["num_threads"])
    platt = LogisticRegression(C=1e6, solver="lbfgs").fit(raw.reshape(-1, 1), calibration.labels)
    return ChurnModel(
        booster=booster,
        slope=float(platt.coef_[0][0]),
        intercept=float(platt.intercept_[0]),
        trained_through=months[-1],
        trained_at=trained_at or datetime.now(UTC).replace(microsecond=0),
        training_rows=frame.height,
        training_churns=int(frame["churned_3m"].sum()),
        seed=seed,
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
