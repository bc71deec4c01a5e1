"""A PD scorecard on the UCI Statlog German Credit data, built with optbinning.

Method: optbinning's `BinningProcess` bins every attribute (numeric attributes with a monotone ascending
or descending event-rate trend, categorical ones grouped by event rate), drops attributes whose
information value is below 0.02, and a logistic regression on the weight-of-evidence values gives the
PD. `Scorecard` scales the log-odds to points: 600 points at 50:1 good:bad odds, 20 points to double
the odds (score = 600 + 20/ln 2 * ln(odds_good / 50)). A higher score means a lower PD.

Scoring at run time does not need optbinning: `train()` exports every binned attribute as a lookup
table (bin edges or category groups, points, WoE, coefficient), and `ScorecardModel` scores with NumPy
array operations; `tests/test_scorecard.py` checks that it reproduces optbinning's scores and PDs.

The artifact is versioned: version = hash(data file + parameters); it lives in
`home()/models/scorecard/<version>/` (`scorecard.joblib`: the optbinning object; `model.json`: the
lookup tables and cross-validated metrics).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import math
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from fincopilot.errors import InputError, NotFoundError
from fincopilot.log import get_logger
from fincopilot.paths import home
from fincopilot.tools import data as domain_data  # a module import: data → datagen → scorecard is a cycle
from fincopilot.tools.registry import tool

log = get_logger(__name__)

TARGET = "creditability"
FEATURES: tuple[str, ...] = (
    "status_of_existing_checking_account",
    "duration_in_month",
    "credit_history",
    "purpose",
    "credit_amount",
    "savings_account_and_bonds",
    "present_employment_since",
    "installment_rate_in_percentage_of_disposable_income",
    "personal_status_and_sex",
    "other_debtors_or_guarantors",
    "present_residence_since",
    "property",
    "age_in_years",
    "other_installment_plans",
    "housing",
    "number_of_existing_credits_at_this_bank",
    "job",
    "number_of_people_being_liable_to_provide_maintenance_for",
    "telephone",
    "foreign_worker",
)
NUMERIC: frozenset[str] = frozenset(
    {
        "duration_in_month",
        "credit_amount",
        "installment_rate_in_percentage_of_disposable_income",
        "present_residence_since",
        "age_in_years",
        "number_of_existing_credits_at_this_bank",
        "number_of_people_being_liable_to_provide_maintenance_for",
    }
)
CATEGORICAL: tuple[str, ...] = tuple(f for f in FEATURES if f not in NUMERIC)

# Human-readable attribute names for reason codes.
DESCRIPTIONS: dict[str, str] = {
    "status_of_existing_checking_account": "checking account status",
    "duration_in_month": "loan duration (months)",
    "credit_history": "credit history",
    "purpose": "loan purpose",
    "credit_amount": "credit amount",
    "savings_account_and_bonds": "savings and bonds",
    "present_employment_since": "employment length",
    "installment_rate_in_percentage_of_disposable_income": "instalment rate (% of disposable income)",
    "personal_status_and_sex": "personal status",
    "other_debtors_or_guarantors": "other debtors or guarantors",
    "present_residence_since": "years at present residence",
    "property": "property",
    "age_in_years": "age",
    "other_installment_plans": "other instalment plans",
    "housing": "housing",
    "number_of_existing_credits_at_this_bank": "number of existing credits",
    "job": "job",
    "number_of_people_being_liable_to_provide_maintenance_for": "number of dependants",
    "telephone": "telephone",
    "foreign_worker": "foreign worker",
}

PARAMS: dict[str, Any] = {
    "pdo": 20,
    "odds": 50,
    "scorecard_points": 600,  # 600 points at 50:1 good:bad, 20 points to double
    "monotonic_trend": "auto_asc_desc",  # numeric bins: monotone event rate
    "min_iv": 0.02,  # drop attributes that carry (almost) no information
    "C": 1.0,
    "cv_folds": 5,
    "cv_seed": 0,
}

# Rating grades by PD band (upper bounds, exclusive).
GRADES: tuple[tuple[str, float], ...] = (
    ("A", 0.03),
    ("B", 0.06),
    ("C", 0.10),
    ("D", 0.18),
    ("E", 0.30),
    ("F", 0.50),
    ("G", 1.01),
)


def grade_for(pd_value: float) -> str:
    """The rating grade of a PD: A (< 3%) ... G (>= 50%)."""
    for grade, upper in GRADES:
        if pd_value < upper:
            return grade
    return GRADES[-1][0]


# --------------------------------------------------------------------------------------------- data


def data_path() -> Path:
    """The shipped copy of the German Credit CSV (see tools/data/ATTRIBUTION.md)."""
    return Path(str(resources.files("fincopilot.tools").joinpath("data/germancredit.csv")))


def load_dataset():
    """(X, y): the 1,000 applicants' 20 attributes and y = 1 for a bad credit (the event)."""
    import pandas as pd

    df = pd.read_csv(data_path())
    y = (df.pop(TARGET) == "bad").astype(int).to_numpy()
    return df[list(FEATURES)], y


def model_version(params: Mapping[str, Any] | None = None) -> str:
    """Version of an artifact: a hash of the training data and the parameters."""
    h = hashlib.sha256(data_path().read_bytes())
    h.update(json.dumps(dict(params or PARAMS), sort_keys=True).encode())
    return h.hexdigest()[:12]


def models_dir() -> Path:
    return home() / "models" / "scorecard"


# --------------------------------------------------------------------------------------------- model


class ReasonCode(BaseModel):
    """An adverse attribute: the applicant's bin earns fewer points than the attribute's best bin."""

    attribute: str
    value: str = Field(description="the applicant's value of the attribute")
    description: str = Field(description="why it lowers the score, with the points lost")
    points_lost: float = 0.0


@dataclass(frozen=True)
class VarTable:
    """One binned attribute as arrays: scoring is a bin lookup plus a sum."""

    name: str
    numeric: bool
    splits: list[float]  # numeric: bin edges (bin i is [splits[i-1], splits[i]))
    groups: list[list[str]]  # categorical: categories per bin
    labels: list[str]  # bin labels for reason codes
    points: list[float]  # points per bin
    woe: list[float]  # weight of evidence per bin
    coef: float
    missing_points: float  # unseen category / missing value
    missing_woe: float

    @cached_property
    def _lookup(self) -> dict[str, int]:
        return {cat: i for i, group in enumerate(self.groups) for cat in group}

    def bin_index(self, values: np.ndarray) -> np.ndarray:
        """Bin of each value (array in, array out); -1 for missing or unseen values."""
        if self.numeric:
            x = np.asarray(values, dtype=float)
            idx = np.searchsorted(np.asarray(self.splits, dtype=float), x, side="right")
            return np.where(np.isnan(x), -1, idx)
        import pandas as pd

        if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):
            # Dictionary-encoded column: look up each distinct category once, then gather by code.
            cat = pd.Categorical(values)
            per_category = np.array(
                [self._lookup.get(str(c), -1) for c in cat.categories] + [-1], dtype=np.int64
            )
            return per_category[cat.codes]  # code -1 (missing) → the trailing -1
        return pd.Series(values, dtype=object).map(self._lookup).fillna(-1).to_numpy(dtype=np.int64)

    def bin_of(self, value: Any) -> int:
        """Bin of one value (the scalar path: no arrays); -1 for missing or unseen values."""
        if self.numeric:
            try:
                x = float(value)
            except (TypeError, ValueError):
                return -1
            return -1 if math.isnan(x) else bisect.bisect_right(self.splits, x)
        return self._lookup.get(str(value), -1)

    def best_points(self) -> float:
        return max(self.points)


class CreditScore(BaseModel):
    """A scored applicant."""

    score: int
    pd: float = Field(description="probability of default (bad credit) from the logistic model")
    grade: str
    reason_codes: list[ReasonCode]
    model_version: str


class ScorecardModel:
    """The exported scorecard: lookup tables, intercept and metrics. Pure NumPy scoring."""

    def __init__(self, card: Mapping[str, Any]):
        self.version: str = card["version"]
        self.params: dict[str, Any] = dict(card["params"])
        self.metrics: dict[str, Any] = dict(card["metrics"])
        self.intercept: float = float(card["intercept"])
        self.tables: list[VarTable] = [VarTable(**t) for t in card["tables"]]
        self.card = dict(card)

    # -- batch ---------------------------------------------------------------------------------
    def score_columns(self, columns: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """(scores, pds) for column arrays keyed by attribute name (a DataFrame or a dict of arrays)."""
        n = len(next(iter(columns.values()))) if isinstance(columns, dict) else len(columns)
        points = np.zeros(n)
        logit = np.full(n, self.intercept)
        for t in self.tables:
            if t.name not in columns:
                raise InputError(f"missing attribute {t.name!r} for credit scoring")
            idx = t.bin_index(columns[t.name])
            pts = np.append(np.asarray(t.points), t.missing_points)  # index -1 → the missing bin
            woe = np.append(np.asarray(t.woe), t.missing_woe)
            points += pts[idx]
            logit += t.coef * woe[idx]
        return points, 1.0 / (1.0 + np.exp(-logit))

    # -- one applicant ---------------------------------------------------------------------------
    def score_one(self, attributes: Mapping[str, Any], *, top_reasons: int = 4) -> CreditScore:
        """Score one applicant (a mapping of the 20 attributes), with reason codes."""
        missing = [f for f in FEATURES if f not in attributes]
        if missing:
            raise InputError(f"missing credit attributes: {', '.join(missing)}")
        total = 0.0
        logit = self.intercept
        adverse: list[ReasonCode] = []
        for t in self.tables:
            value = attributes[t.name]
            i = t.bin_of(value)
            pts = t.points[i] if i >= 0 else t.missing_points
            woe = t.woe[i] if i >= 0 else t.missing_woe
            total += pts
            logit += t.coef * woe
            lost = t.best_points() - pts
            if lost > 0.5:
                label = t.labels[i] if i >= 0 else "missing or unseen value"
                # Name the bin only when it says more than the value itself (numeric ranges, grouped categories).
                where = f" (bin {label})" if label != str(value) else ""
                adverse.append(
                    ReasonCode(
                        attribute=t.name,
                        value=str(value),
                        points_lost=round(lost, 1),
                        description=f"{DESCRIPTIONS.get(t.name, t.name)}: {value}{where} scores "
                        f"{lost:.0f} points below the best bin",
                    )
                )
        adverse.sort(key=lambda r: -r.points_lost)
        pd_value = 1.0 / (1.0 + math.exp(-logit))
        return CreditScore(
            score=int(round(total)),
            pd=round(pd_value, 4),
            grade=grade_for(pd_value),
            reason_codes=adverse[:top_reasons],
            model_version=self.version,
        )


# --------------------------------------------------------------------------------------------- training


class TrainResult(BaseModel):
    version: str
    path: str
    metrics: dict[str, Any]


class _SolverImportFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "importing solver" not in record.getMessage()


def _quiet_optbinning():
    # cvxpy (imported by optbinning) logs a harmless optional-solver import failure at import time; it resets
    # its logger's level on import, so drop that one message with a filter instead.
    cvx = logging.getLogger("__cvxpy__")
    if not any(isinstance(f, _SolverImportFilter) for f in cvx.filters):
        cvx.addFilter(_SolverImportFilter())
    from optbinning import BinningProcess, Scorecard

    return BinningProcess, Scorecard


def _build(params: Mapping[str, Any]):
    from sklearn.linear_model import LogisticRegression

    BinningProcess, Scorecard = _quiet_optbinning()
    bp = BinningProcess(
        list(FEATURES),
        categorical_variables=list(CATEGORICAL),
        selection_criteria={"iv": {"min": params["min_iv"]}},
        binning_fit_params={f: {"monotonic_trend": params["monotonic_trend"]} for f in NUMERIC},
    )
    return Scorecard(
        binning_process=bp,
        estimator=LogisticRegression(C=params["C"], max_iter=2000),
        scaling_method="pdo_odds",
        scaling_method_params={
            "pdo": params["pdo"],
            "odds": params["odds"],
            "scorecard_points": params["scorecard_points"],
        },
        intercept_based=False,
        reverse_scorecard=False,
    )


def ks_statistic(y: np.ndarray, p: np.ndarray) -> float:
    """Kolmogorov-Smirnov: the largest gap between the bad and good cumulative score distributions."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    return float(np.max(tpr - fpr))


@contextmanager
def _quiet_warnings() -> Iterator[None]:
    # optbinning 1.0 triggers pandas deprecation warnings on every fit; they are not ours to fix.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"optbinning(\.|$)")
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        yield


def cross_validate(params: Mapping[str, Any] = PARAMS, *, progress: bool = False) -> dict[str, Any]:
    """Stratified k-fold CV of the whole pipeline (binning included): AUC, KS and Brier per fold and mean."""
    from sklearn.metrics import brier_score_loss, roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    X, y = load_dataset()
    folds = StratifiedKFold(n_splits=params["cv_folds"], shuffle=True, random_state=params["cv_seed"])
    rows: list[dict[str, float]] = []
    bar = None
    if progress:
        from rich.console import Console
        from rich.progress import Progress

        bar = Progress(transient=True, console=Console(stderr=True))
        bar.start()
        task = bar.add_task("cross-validating scorecard", total=params["cv_folds"])
    try:
        for train_idx, test_idx in folds.split(X, y):
            with _quiet_warnings():
                sc = _build(params).fit(X.iloc[train_idx], y[train_idx])
            p = sc.predict_proba(X.iloc[test_idx])[:, 1]
            rows.append(
                {
                    "auc": float(roc_auc_score(y[test_idx], p)),
                    "ks": ks_statistic(y[test_idx], p),
                    "brier": float(brier_score_loss(y[test_idx], p)),
                }
            )
            if bar:
                bar.advance(task)
    finally:
        if bar:
            bar.stop()
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("auc", "ks", "brier")}
    std = {k: float(np.std([r[k] for r in rows])) for k in ("auc", "ks", "brier")}
    return {
        "cv_folds": params["cv_folds"],
        "cv_auc": mean["auc"],
        "cv_ks": mean["ks"],
        "cv_brier": mean["brier"],
        "cv_auc_std": std["auc"],
        "cv_ks_std": std["ks"],
        "cv_brier_std": std["brier"],
        "folds": rows,
        "n_rows": int(len(y)),
        "bad_rate": float(y.mean()),
    }


def _export(sc, version: str, params: Mapping[str, Any], metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Turn the fitted optbinning scorecard into plain lookup tables."""
    table = sc.table(style="detailed")
    bp = sc.binning_process_
    selected = list(bp.get_support(names=True))
    coefs = dict(zip(selected, sc.estimator_.coef_[0]))
    tables = []
    for name in selected:
        rows = table[table["Variable"] == name]
        regular = rows[~rows["Bin"].astype(str).isin(["Special", "Missing"])]
        missing = rows[rows["Bin"].astype(str) == "Missing"]
        ob = bp.get_binned_variable(name)
        numeric = name in NUMERIC
        tables.append(
            {
                "name": name,
                "numeric": numeric,
                "splits": [float(s) for s in ob.splits] if numeric else [],
                "groups": [] if numeric else [[str(c) for c in g] for g in ob.splits],
                "labels": [str(b) if numeric else ", ".join(map(str, b)) for b in regular["Bin"]],
                "points": [float(p) for p in regular["Points"]],
                "woe": [float(w) for w in regular["WoE"]],
                "coef": float(coefs[name]),
                "missing_points": float(missing["Points"].iloc[0]) if len(missing) else 0.0,
                "missing_woe": float(missing["WoE"].iloc[0]) if len(missing) else 0.0,
            }
        )
    return {
        "version": version,
        "params": dict(params),
        "metrics": dict(metrics),
        "intercept": float(sc.estimator_.intercept_[0]),
        "tables": tables,
        "selected": selected,
        "dropped": [f for f in FEATURES if f not in selected],
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def train(params: Mapping[str, Any] | None = None, *, progress: bool = False) -> TrainResult:
    """Cross-validate, fit on all rows, and store the versioned artifact; returns its metrics."""
    import joblib

    params = dict(params or PARAMS)
    version = model_version(params)
    metrics = cross_validate(params, progress=progress)
    X, y = load_dataset()
    with _quiet_warnings():
        sc = _build(params).fit(X, y)
        card = _export(sc, version, params, metrics)
    out = models_dir() / version
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(sc, out / "scorecard.joblib")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    tmp = out / "model.json.tmp"
    tmp.write_text(json.dumps(card, indent=2))
    tmp.replace(out / "model.json")  # written last and atomically: its presence marks a complete artifact
    log.info("scorecard_trained", version=version, cv_auc=round(metrics["cv_auc"], 4), path=str(out))
    return TrainResult(version=version, path=str(out), metrics=metrics)


_lock = threading.Lock()
_cache: dict[str, ScorecardModel] = {}


def load_model(*, train_if_missing: bool = True) -> ScorecardModel:
    """The current scorecard (cached per process); trains it first, with a log line, if no artifact exists."""
    version = model_version()
    path = models_dir() / version / "model.json"
    key = str(path)
    with _lock:
        if key in _cache:
            return _cache[key]
        if not path.exists():
            if not train_if_missing:
                raise NotFoundError(f"no scorecard artifact {version}; run `fincopilot risk train`")
            log.warning("scorecard_missing_training_now", version=version, path=str(path.parent))
            train()
        model = ScorecardModel(json.loads(path.read_text()))
        _cache[key] = model
        return model


# --------------------------------------------------------------------------------------------- tool


class CreditScoreArgs(BaseModel):
    """Score a client's bureau record (by client id) or a given set of the 20 German-credit attributes."""

    client_id: str | None = Field(None, description="client id like C-1042 (its credit record is fetched)")
    attributes: dict[str, str | int | float] | None = Field(
        None, description="the 20 attributes, if no client"
    )


class CreditScoreOut(CreditScore):
    client_id: str | None = None
    sources: list[str] = Field(default_factory=list)


@tool(
    name="credit_score",
    args=CreditScoreArgs,
    output=CreditScoreOut,
    description="Score a client's credit record with the German-credit PD scorecard: score, PD, grade, reasons.",
)
def credit_score(args: CreditScoreArgs) -> CreditScoreOut:
    if (args.client_id is None) == (args.attributes is None):
        raise InputError("credit_score needs exactly one of client_id or attributes")
    sources: list[str] = []
    client_id: str | None = None
    attributes: Mapping[str, Any]
    if args.client_id is not None:
        client = domain_data.get_client(args.client_id)
        client_id = client.client_id
        attributes = domain_data.get_credit_record(client_id)
        sources = [f"credit_records:{client.client_id}", f"scorecard:{model_version()}"]
    else:
        attributes = args.attributes or {}
    result = load_model().score_one(attributes)
    return CreditScoreOut(**result.model_dump(), client_id=client_id, sources=sources)
