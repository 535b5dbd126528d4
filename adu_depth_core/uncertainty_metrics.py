"""Uncertainty quality: sparsification curves, oracle curves, AUSE and AURG (numpy only).

For a removed fraction ``f`` in ``0, 1/n, ..., (n-1)/n`` the sparsification curve is the
error metric over the pixels left after removing the ``floor(f * N)`` most uncertain ones;
the oracle curve removes pixels by their true error instead; a random ranking keeps the
full-image metric. Areas use the trapezoid rule over ``f``, in the metric's own units:

    AUSE = area(sparsification - oracle)      (0 for a perfect ranking)
    AURG = area(full metric - sparsification) (> 0 when the uncertainty beats chance)
"""

from __future__ import annotations

import numpy as np

from adu_depth_core.metrics import valid_pixels

CURVE_METRICS = ("abs_rel", "rmse")
DEFAULT_STEPS = 100


def _pixel_terms(pred: np.ndarray, gt: np.ndarray, metric: str) -> np.ndarray:
    """Per-pixel term whose mean gives the metric (before the sqrt for RMSE); also the oracle order."""
    if metric == "abs_rel":
        return np.abs(pred - gt) / gt
    if metric == "rmse":
        return (pred - gt) ** 2
    raise ValueError(f"unknown sparsification metric '{metric}'; use one of {CURVE_METRICS}")


def fractions(steps: int = DEFAULT_STEPS) -> np.ndarray:
    """Removed fractions 0, 1/steps, ..., (steps-1)/steps."""
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    return np.arange(steps, dtype=np.float64) / steps


def _curve(terms: np.ndarray, order_key: np.ndarray, metric: str, steps: int) -> np.ndarray:
    """Metric after removing the highest-``order_key`` pixels, for each fraction."""
    order = np.argsort(-order_key, kind="stable")
    kept_sums = np.cumsum(terms[order][::-1])[::-1]  # kept_sums[k] = sum of terms with rank >= k
    n = terms.size
    removed = np.floor(fractions(steps) * n).astype(np.int64)
    values = kept_sums[removed] / (n - removed)
    return np.sqrt(values) if metric == "rmse" else values


def sparsification_curve(
    pred: np.ndarray,
    gt: np.ndarray,
    uncertainty: np.ndarray,
    metric: str = "abs_rel",
    steps: int = DEFAULT_STEPS,
) -> np.ndarray:
    """Curve (length ``steps``) for 1-D valid pixels: pred/gt metres, uncertainty any monotone score."""
    return _curve(_pixel_terms(pred, gt, metric), np.asarray(uncertainty, np.float64), metric, steps)


def oracle_curve(
    pred: np.ndarray, gt: np.ndarray, metric: str = "abs_rel", steps: int = DEFAULT_STEPS
) -> np.ndarray:
    """The best possible curve: pixels removed in order of their true error."""
    terms = _pixel_terms(pred, gt, metric)
    return _curve(terms, terms, metric, steps)


def _trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0)


def ause(spars: np.ndarray, oracle: np.ndarray) -> float:
    """Area between a sparsification curve and its oracle over the removed fraction."""
    x = fractions(len(spars))
    return _trapezoid(np.asarray(spars) - np.asarray(oracle), x)


def aurg(spars: np.ndarray, full_metric: float) -> float:
    """Area between the random-ranking curve (constant full metric) and the sparsification curve."""
    x = fractions(len(spars))
    return _trapezoid(full_metric - np.asarray(spars), x)


def _selected(pred, gt, uncertainty, min_depth, max_depth, crop) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p, g, mask = valid_pixels(pred, gt, min_depth, max_depth, crop)
    u = np.asarray(uncertainty, dtype=np.float64)
    if u.shape != np.shape(gt):
        raise ValueError(f"uncertainty shape {u.shape} differs from gt shape {np.shape(gt)}")
    u = u[mask]
    if not np.isfinite(u).all():
        raise ValueError("uncertainty has NaN/inf at valid ground-truth pixels")
    return p, g, u


def _area_metric(metric: str, p, g, u, steps: int) -> tuple[float, float]:
    spars = sparsification_curve(p, g, u, metric, steps)
    return ause(spars, oracle_curve(p, g, metric, steps)), aurg(spars, spars[0])


def ause_abs_rel(
    pred: np.ndarray,
    gt: np.ndarray,
    uncertainty: np.ndarray,
    min_depth: float = 1e-3,
    max_depth: float = 80.0,
    crop: str | None = None,
    steps: int = DEFAULT_STEPS,
) -> float:
    """AUSE of AbsRel for one image (H x W arrays; uncertainty e.g. sigma in metres)."""
    return _area_metric("abs_rel", *_selected(pred, gt, uncertainty, min_depth, max_depth, crop), steps)[0]


def ause_rmse(
    pred: np.ndarray,
    gt: np.ndarray,
    uncertainty: np.ndarray,
    min_depth: float = 1e-3,
    max_depth: float = 80.0,
    crop: str | None = None,
    steps: int = DEFAULT_STEPS,
) -> float:
    """AUSE of RMSE (metres) for one image."""
    return _area_metric("rmse", *_selected(pred, gt, uncertainty, min_depth, max_depth, crop), steps)[0]


def aurg_abs_rel(
    pred: np.ndarray,
    gt: np.ndarray,
    uncertainty: np.ndarray,
    min_depth: float = 1e-3,
    max_depth: float = 80.0,
    crop: str | None = None,
    steps: int = DEFAULT_STEPS,
) -> float:
    """AURG of AbsRel for one image."""
    return _area_metric("abs_rel", *_selected(pred, gt, uncertainty, min_depth, max_depth, crop), steps)[1]


def aurg_rmse(
    pred: np.ndarray,
    gt: np.ndarray,
    uncertainty: np.ndarray,
    min_depth: float = 1e-3,
    max_depth: float = 80.0,
    crop: str | None = None,
    steps: int = DEFAULT_STEPS,
) -> float:
    """AURG of RMSE (metres) for one image."""
    return _area_metric("rmse", *_selected(pred, gt, uncertainty, min_depth, max_depth, crop), steps)[1]


def uncertainty_metrics(
    pred: np.ndarray,
    gt: np.ndarray,
    uncertainty: np.ndarray,
    min_depth: float = 1e-3,
    max_depth: float = 80.0,
    crop: str | None = None,
    steps: int = DEFAULT_STEPS,
) -> dict[str, float]:
    """All four of one image at once: {'ause_abs_rel', 'ause_rmse', 'aurg_abs_rel', 'aurg_rmse'}."""
    p, g, u = _selected(pred, gt, uncertainty, min_depth, max_depth, crop)
    out = {}
    for metric in CURVE_METRICS:
        out[f"ause_{metric}"], out[f"aurg_{metric}"] = _area_metric(metric, p, g, u, steps)
    return out
