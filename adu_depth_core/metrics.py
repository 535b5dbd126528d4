"""Depth metrics (Eigen-split and KITTI online benchmark definitions), numpy only.

Evaluation convention: pixels with ``min_depth < gt < max_depth`` (finite), optionally
inside the Garg or Eigen crop, are valid; predictions are clamped into
``[min_depth, max_depth]``. Metrics are computed per image and averaged over images
(:class:`MetricAggregator`), the convention of the Eigen-split literature.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

METRIC_KEYS = (
    "abs_rel",
    "sq_rel",
    "rmse",
    "rmse_log",
    "log10",
    "a1",
    "a2",
    "a3",
    "silog",
    "sq_error_rel",
    "abs_error_rel",
    "irmse",
)
# (row start, row end, col start, col end) as fractions of H, W; truncated to ints like the KITTI tools.
CROPS = {
    "garg": (0.40810811, 0.99189189, 0.03594771, 0.96405229),
    "eigen": (0.3324324, 0.91351351, 0.03594771, 0.96405229),
}


class NoValidPixels(ValueError):
    """An image has no ground-truth pixels inside the depth range and crop."""


def crop_mask(height: int, width: int, crop: str | None) -> np.ndarray:
    """Boolean H x W mask of the named evaluation crop ('garg', 'eigen') or all-True for None."""
    mask = np.zeros((height, width), dtype=bool)
    if crop is None:
        mask[:] = True
        return mask
    if crop not in CROPS:
        raise ValueError(f"unknown crop '{crop}'; use one of {sorted(CROPS)} or None")
    r0, r1, c0, c1 = CROPS[crop]
    mask[int(r0 * height) : int(r1 * height), int(c0 * width) : int(c1 * width)] = True
    return mask


def valid_pixels(
    pred: np.ndarray,
    gt: np.ndarray,
    min_depth: float = 1e-3,
    max_depth: float = 80.0,
    crop: str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Select evaluation pixels -> (pred clamped, gt, mask); pred/gt are ... x H x W metres (same shape)."""
    pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim < 2:
        raise ValueError(f"pred and gt must have the same ... x H x W shape, got {pred.shape} and {gt.shape}")
    with np.errstate(invalid="ignore"):
        mask = np.isfinite(gt) & (gt > min_depth) & (gt < max_depth)
    mask &= crop_mask(gt.shape[-2], gt.shape[-1], crop)
    if not mask.any():
        raise NoValidPixels(f"no ground-truth pixels in ({min_depth}, {max_depth}) m inside crop {crop!r}")
    if not np.isfinite(pred[mask]).all():
        raise ValueError("prediction has NaN/inf at valid ground-truth pixels; check the model output")
    return np.clip(pred[mask], min_depth, max_depth), gt[mask], mask


def errors_from_pairs(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """All metrics from 1-D arrays of valid (pred, gt) depths in metres."""
    diff = pred - gt
    log_err = np.log(pred) - np.log(gt)
    ratio = np.maximum(pred / gt, gt / pred)
    abs_rel = float(np.mean(np.abs(diff) / gt))
    silog_var = max(float(np.mean(log_err**2) - np.mean(log_err) ** 2), 0.0)
    return {
        "abs_rel": abs_rel,
        "sq_rel": float(np.mean(diff**2 / gt)),
        "rmse": float(np.sqrt(np.mean(diff**2))),
        "rmse_log": float(np.sqrt(np.mean(log_err**2))),
        "log10": float(np.mean(np.abs(np.log10(pred) - np.log10(gt)))),
        "a1": float(np.mean(ratio < 1.25)),
        "a2": float(np.mean(ratio < 1.25**2)),
        "a3": float(np.mean(ratio < 1.25**3)),
        "silog": 100.0 * math.sqrt(silog_var),
        "sq_error_rel": 100.0 * float(np.mean((diff / gt) ** 2)),
        "abs_error_rel": 100.0 * abs_rel,
        "irmse": float(np.sqrt(np.mean((1000.0 / pred - 1000.0 / gt) ** 2))),
    }


def depth_metrics(
    pred: np.ndarray,
    gt: np.ndarray,
    min_depth: float = 1e-3,
    max_depth: float = 80.0,
    crop: str | None = None,
) -> dict[str, float]:
    """Metrics of one image: pred, gt are H x W metres (gt NaN/0 where invalid); keys in METRIC_KEYS.

    ``silog`` is the KITTI benchmark's (x100), ``irmse`` is in 1/km; raises NoValidPixels if nothing is valid.
    """
    p, g, _ = valid_pixels(pred, gt, min_depth, max_depth, crop)
    return errors_from_pairs(p, g)


class MetricAggregator:
    """Averages per-image metric dicts (images without valid pixels are counted in ``skipped``)."""

    def __init__(self) -> None:
        self._sums: dict[str, float] = {}
        self._sq_sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        self.skipped = 0

    def add(self, metrics: Mapping[str, float]) -> None:
        """Add one image's metrics (any keys; NaN values are ignored per key)."""
        for key, value in metrics.items():
            value = float(value)
            if math.isnan(value):
                continue
            self._sums[key] = self._sums.get(key, 0.0) + value
            self._sq_sums[key] = self._sq_sums.get(key, 0.0) + value * value
            self._counts[key] = self._counts.get(key, 0) + 1

    def update(self, pred: np.ndarray, gt: np.ndarray, **kwargs) -> dict[str, float] | None:
        """Compute and add the metrics of one image; returns them (None if it had no valid pixels)."""
        try:
            metrics = depth_metrics(pred, gt, **kwargs)
        except NoValidPixels:
            self.skipped += 1
            return None
        self.add(metrics)
        return metrics

    @property
    def count(self) -> int:
        """Number of images added (for the most-reported key)."""
        return max(self._counts.values(), default=0)

    def mean(self) -> dict[str, float]:
        """Per-key mean over images."""
        return {k: self._sums[k] / self._counts[k] for k in self._sums}

    def std(self) -> dict[str, float]:
        """Per-key population standard deviation over images."""
        means = self.mean()
        return {k: math.sqrt(max(self._sq_sums[k] / self._counts[k] - means[k] ** 2, 0.0)) for k in means}
