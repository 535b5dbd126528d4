"""Calibration of predicted uncertainty: reliability bins (sigma vs observed error) and coverage (numpy only).

AUSE (uncertainty_metrics.py) says whether sigma *orders* pixels by error; this says whether its
*size* is right. Pixels are put into quantile bins of predicted sigma; per bin the RMS of the
observed error is compared with the RMS of sigma.

Under the model (docs/uncertainty.md) ``log d* - log d_hat ~ Laplace(0, b)`` and ``sigma = sqrt(2) b d_hat``,
so in log space (``space="log"``: error ``log d_hat - log d*``, sigma ``sigma / d_hat = sqrt(2) b``):

- ``E[e^2] = 2 b^2 = sigma_rel^2`` -> observed RMS / predicted RMS = 1 in every bin (exactly);
- ``E|e| = b = sigma_rel / sqrt(2)``;
- ``P(|e| < sigma_rel) = P(|e| < sqrt(2) b) = 1 - exp(-sqrt(2)) = 0.757`` (not 1 - 1/e = 0.632, which is
  ``P(|e| < b)``);
- ``P(|e| < k b) = 1 - exp(-k)``: 95 % at ``k = ln 20``, i.e. ``|e| < ln(20) / sqrt(2) * sigma_rel``.

In metres (``space="metric"``: error ``d_hat - d*``, sigma in metres) the same holds to first order.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from adu_depth_core.metrics import valid_pixels

SPACES = ("log", "metric")
IDEAL_SHARE_WITHIN_SIGMA = 1.0 - math.exp(-math.sqrt(2.0))  # 0.757: P(|e| < sqrt(2) b) for Laplace(0, b)
K95_SIGMA = math.log(20.0) / math.sqrt(2.0)  # |e| < K95_SIGMA * sigma holds for 95 % of a calibrated model
DEFAULT_BINS = 12


@dataclass
class Reliability:
    """Per-bin arrays (bins with pixels only, ascending sigma) and the summary numbers."""

    sigma_mean: np.ndarray  # mean predicted sigma per bin
    sigma_rms: np.ndarray  # RMS predicted sigma per bin (the RMS error a calibrated model has)
    err_rms: np.ndarray  # observed RMS error per bin
    err_mean_abs: np.ndarray  # observed mean |error| per bin (calibrated: sigma_mean / sqrt(2))
    count: np.ndarray  # pixels per bin
    calibration_error: float  # pixel-weighted mean over bins of |log(err_rms / sigma_rms)|; 0 = calibrated
    rms_ratio: float  # RMS error / RMS sigma over all pixels: > 1 over-confident, < 1 under-confident
    share_within_sigma: float  # share of |error| < sigma; ideal IDEAL_SHARE_WITHIN_SIGMA
    share_within_95: float  # share of |error| < K95_SIGMA * sigma; ideal 0.95

    def to_dict(self) -> dict:
        """JSON-ready: arrays as lists."""
        return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in asdict(self).items()}


def _finite_pairs(error: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    e = np.abs(np.asarray(error, np.float64)).ravel()
    s = np.asarray(sigma, np.float64).ravel()
    if e.shape != s.shape:
        raise ValueError(f"error and sigma must have the same number of pixels, got {e.size} and {s.size}")
    keep = np.isfinite(e) & np.isfinite(s) & (s > 0)
    if not keep.any():
        raise ValueError("no pixel with a finite error and a finite positive sigma to calibrate")
    return e[keep], s[keep]


def quantile_bins(sigma: np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Bin index 0..bins-1 of every pixel by the quantiles of ``sigma`` (ties share a bin; some may be empty)."""
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    edges = np.quantile(sigma, np.linspace(0.0, 1.0, bins + 1))
    return np.searchsorted(edges[1:-1], sigma, side="right")


def reliability(error: np.ndarray, sigma: np.ndarray, bins: int = DEFAULT_BINS) -> Reliability:
    """Reliability bins of errors (signed or absolute) against predicted sigma in the same units.

    Pixels with a NaN/inf error or sigma, or sigma <= 0, are ignored.
    """
    e, s = _finite_pairs(error, sigma)
    idx = quantile_bins(s, bins)
    count = np.bincount(idx, minlength=bins)

    def per_bin(values: np.ndarray) -> np.ndarray:
        return np.bincount(idx, weights=values, minlength=bins)[count > 0] / count[count > 0]

    sigma_rms, err_rms = np.sqrt(per_bin(s * s)), np.sqrt(per_bin(e * e))
    n = count[count > 0]
    log_ratio = np.abs(np.log(np.maximum(err_rms, 1e-300) / sigma_rms))
    return Reliability(
        sigma_mean=per_bin(s),
        sigma_rms=sigma_rms,
        err_rms=err_rms,
        err_mean_abs=per_bin(e),
        count=n,
        calibration_error=float(np.sum(n * log_ratio) / np.sum(n)),
        rms_ratio=float(np.sqrt(np.mean(e * e) / np.mean(s * s))),
        share_within_sigma=float(np.mean(e < s)),
        share_within_95=float(np.mean(e < K95_SIGMA * s)),
    )


def depth_errors(
    pred: np.ndarray,
    gt: np.ndarray,
    sigma: np.ndarray,
    space: str = "log",
    min_depth: float = 1e-3,
    max_depth: float = 80.0,
    crop: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(error, sigma) at valid ground-truth pixels of depth maps in metres, in ``space`` "log" or "metric"."""
    if space not in SPACES:
        raise ValueError(f"unknown calibration space '{space}'; use one of {SPACES}")
    p, g, mask = valid_pixels(pred, gt, min_depth, max_depth, crop)
    s = np.asarray(sigma, np.float64)
    if s.shape != np.shape(gt):
        raise ValueError(f"sigma shape {s.shape} differs from gt shape {np.shape(gt)}")
    s = s[mask]
    if space == "log":
        return np.log(p) - np.log(g), s / p
    return p - g, s
