"""The combiner: logistic regression over the scorers' features, in numpy, saved as JSON.

``fit_combiner`` standardises the features and fits L2-regularised logistic regression by Newton's
method (IRLS); the fitted probabilities are the guard's calibrated P(supported). The JSON holds
the feature names, means, scales, weights, the decision thresholds and the fit's provenance, so the
guard refuses a combiner whose features it cannot compute.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import ConfigError

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Combiner:
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float = 0.5
    thresholds: Mapping[str, float | None] = field(default_factory=dict)
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.features)
        if not (len(self.mean) == len(self.scale) == len(self.coef) == n):
            raise ConfigError(f"combiner: features, mean, scale and coef must have one entry per feature ({n})")

    def logits(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        mean = np.asarray(self.mean)
        if X.size and np.isnan(X).any():  # a signal a claim does not have moves no probability
            X = np.where(np.isnan(X), mean, X)
        Z = (X - mean) / np.asarray(self.scale)
        return Z @ np.asarray(self.coef) + self.intercept

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(supported) for each row of ``X`` (columns in ``self.features`` order)."""
        return 1.0 / (1.0 + np.exp(-np.clip(self.logits(X), -40, 40)))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["format"] = FORMAT_VERSION
        d["features"] = list(self.features)
        d["thresholds"] = dict(self.thresholds)
        d["info"] = dict(self.info)
        return d

    def save(self, path: str | Path) -> None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2))
        tmp.replace(p)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Combiner":
        if int(d.get("format", 0)) != FORMAT_VERSION:
            raise ConfigError(f"calibration format={d.get('format')!r} is not supported; this groundqa reads format {FORMAT_VERSION}: rerun `groundqa calibrate`")
        return cls(
            tuple(d["features"]), tuple(map(float, d["mean"])), tuple(map(float, d["scale"])), tuple(map(float, d["coef"])),
            float(d["intercept"]), float(d.get("threshold", 0.5)), dict(d.get("thresholds") or {}), dict(d.get("info") or {}),
        )

    @classmethod
    def load(cls, path: str | Path) -> "Combiner":
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"calibration file {str(p)!r} does not exist; create one with `groundqa calibrate --data FILE --out {p}`")
        return cls.from_dict(json.loads(p.read_text()))

    def with_thresholds(self, threshold: float, thresholds: Mapping[str, float | None], info: Mapping[str, Any] | None = None) -> "Combiner":
        return Combiner(self.features, self.mean, self.scale, self.coef, self.intercept, float(threshold), dict(thresholds), dict(info if info is not None else self.info))


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = 1.0, max_iter: int = 50) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method on already standardised ``X``.

    Minimises ``sum log(1 + exp(-y' z)) + l2/2 |w|^2`` (the intercept is not penalised).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, d = X.shape
    A = np.hstack([X, np.ones((n, 1))])
    w = np.zeros(d + 1)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0
    for _ in range(max_iter):
        z = A @ w
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))
        g = A.T @ (p - y) + reg * w
        W = p * (1 - p)
        H = (A * W[:, None]).T @ A + np.diag(reg) + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(H, g)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w[:-1], float(w[-1])


def fit_combiner(X: np.ndarray, y: Sequence[int], features: Sequence[str], l2: float = 1.0, info: Mapping[str, Any] | None = None) -> Combiner:
    """Fit the combiner on feature rows ``X`` (columns named by ``features``) and labels ``y``."""
    X = np.asarray(X, dtype=np.float64)
    y_arr = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(features):
        raise ConfigError(f"X has shape {X.shape}; expected (n, {len(features)}) for features {list(features)}")
    if len(np.unique(y_arr)) < 2:
        raise ConfigError("calibration data holds only one label; it needs supported and unsupported claims")
    # a signal a claim does not have (NaN: answer-context signals of a sentence claim, generation
    # signals without a generator) reads as the column's mean, as the guard reads it at run time
    nan = np.isnan(X)
    if nan.any():
        col_mean = np.array([X[~nan[:, j], j].mean() if (~nan[:, j]).any() else 0.0 for j in range(X.shape[1])])
        X = np.where(nan, col_mean[None, :], X)
    mean = X.mean(0)
    scale = X.std(0)
    scale[scale < 1e-9] = 1.0
    coef, b = fit_logistic((X - mean) / scale, y_arr, l2=l2)
    return Combiner(tuple(features), tuple(mean.tolist()), tuple(scale.tolist()), tuple(coef.tolist()), b, 0.5, {}, dict(info or {}))
