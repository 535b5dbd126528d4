"""Colourise depth and uncertainty maps to uint8 RGB (pure numpy).

The palette is a turbo-like rainbow (dark blue -> cyan -> green -> yellow ->
red -> dark red) made by linear interpolation between the anchor colours below.
"""

from __future__ import annotations

import numpy as np

# (position in [0, 1], R, G, B): our own anchors, chosen for a perceptually even-ish rainbow.
_ANCHORS = (
    (0.000, 48, 18, 59),
    (0.125, 67, 90, 216),
    (0.250, 60, 150, 250),
    (0.375, 30, 205, 210),
    (0.500, 60, 240, 130),
    (0.625, 160, 250, 60),
    (0.750, 240, 200, 50),
    (0.875, 240, 110, 20),
    (1.000, 122, 4, 3),
)


def palette(n: int = 256) -> np.ndarray:
    """(n, 3) uint8 lookup table of the turbo-like palette."""
    a = np.asarray(_ANCHORS, dtype=np.float64)
    t = np.linspace(0.0, 1.0, n)
    lut = np.stack([np.interp(t, a[:, 0], a[:, c]) for c in (1, 2, 3)], axis=-1)
    return np.round(lut).astype(np.uint8)


_LUT = palette(256)  # read-only lookup table, built once
_LUT.flags.writeable = False


_LUT_WITH_INVALID = np.concatenate([_LUT, np.zeros((1, 3), np.uint8)])  # index 256: invalid (black)
_LUT_WITH_INVALID.flags.writeable = False
RANGE_STEP = 4  # the automatic range is estimated from every 4th row and column (same result, 16x less work)


def value_range(values: np.ndarray, percentiles: tuple[float, float] = (2.0, 98.0)) -> tuple[float, float]:
    """Robust (lo, hi) of the finite values: the given percentiles; (0, 1) if none are finite.

    A 2-D map is sampled at every RANGE_STEP-th row and column first.
    """
    sample = values[::RANGE_STEP, ::RANGE_STEP] if values.ndim == 2 else values
    finite = sample[np.isfinite(sample)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, percentiles)
    return float(lo), float(hi if hi > lo else lo + 1e-6)


def lut_indices(values: np.ndarray, invalid: np.ndarray, lo: float, hi: float, reverse: bool, out=None):
    """Palette index per pixel (float32 arithmetic, in ``out`` when given): 0..255, 256 where ``invalid``."""
    if not hi > lo:
        raise ValueError(f"colour range must have vmax > vmin, got [{lo}, {hi}]")
    t = np.empty(values.shape, np.float32) if out is None else out
    with np.errstate(invalid="ignore"):
        if reverse:  # 255 (hi - v) / (hi - lo)
            np.subtract(np.float32(hi), values, out=t)
        else:
            np.subtract(values, np.float32(lo), out=t)
        np.multiply(t, np.float32(255.0 / (hi - lo)), out=t)
        np.clip(t, np.float32(0.0), np.float32(255.0), out=t)
    np.rint(t, out=t)
    np.copyto(t, np.float32(256.0), where=invalid)
    return t


def colorize(
    values: np.ndarray,
    vmin: float | None = None,
    vmax: float | None = None,
    percentiles: tuple[float, float] = (2.0, 98.0),
    reverse: bool = False,
    invalid_rgb: tuple[int, int, int] = (0, 0, 0),
) -> np.ndarray:
    """H x W float map -> H x W x 3 uint8 RGB by palette lookup.

    The range is [vmin, vmax] where given, else the percentiles of the finite
    values; values outside are clipped. Non-finite values get ``invalid_rgb``.
    """
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"expected an H x W map, got shape {values.shape}")
    # Percentiles only for an end that is not given: a fixed range (the node's per-frame case) skips them.
    lo, hi = value_range(values, percentiles) if vmin is None or vmax is None else (0.0, 0.0)
    lo = lo if vmin is None else float(vmin)
    hi = hi if vmax is None else float(vmax)
    invalid = ~np.isfinite(values)
    idx = lut_indices(values, invalid, lo, hi, reverse).astype(np.intp)
    out = _LUT_WITH_INVALID[idx]
    if tuple(invalid_rgb) != (0, 0, 0):
        out[invalid] = invalid_rgb
    return out


def colorize_depth(
    depth_m: np.ndarray, vmin_m: float | None = None, vmax_m: float | None = None
) -> np.ndarray:
    """Depth in metres -> RGB, near = warm (red), far = cold (blue)."""
    return colorize(depth_m, vmin_m, vmax_m, reverse=True)


def colorize_sigma(
    sigma_m: np.ndarray, vmin_m: float | None = None, vmax_m: float | None = None
) -> np.ndarray:
    """Depth standard deviation in metres -> RGB, confident = cold (blue), uncertain = warm (red)."""
    return colorize(sigma_m, vmin_m, vmax_m, reverse=False)
