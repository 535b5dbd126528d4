"""Colour maps for depth, uncertainty and error images (TensorBoard and evaluation figures)."""

from __future__ import annotations

import numpy as np


def colorize(
    values: np.ndarray, vmin: float, vmax: float, cmap: str = "magma_r", log: bool = False
) -> np.ndarray:
    """HxW floats -> HxWx3 uint8 RGB; NaN/inf pixels are black. ``log`` maps in log space."""
    from matplotlib import colormaps

    v = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(v)
    if log:
        v, vmin, vmax = np.log(np.clip(v, 1e-6, None)), np.log(max(vmin, 1e-6)), np.log(max(vmax, 1e-6))
    t = np.clip((v - vmin) / max(vmax - vmin, 1e-12), 0.0, 1.0)
    rgb = (colormaps[cmap](np.where(bad, 0.0, t))[..., :3] * 255).astype(np.uint8)
    rgb[bad] = 0
    return rgb


def depth_range(*maps: np.ndarray) -> tuple[float, float]:
    """Robust shared colour range (2nd-98th percentile of the finite, positive values)."""
    vals = np.concatenate([m[np.isfinite(m) & (m > 0)].ravel() for m in maps])
    if vals.size == 0:
        return 0.1, 1.0
    lo, hi = np.percentile(vals, [2, 98])
    return float(lo), float(max(hi, lo * 1.01 + 1e-6))


def depth_panel(
    image: np.ndarray, depth_m: np.ndarray, sigma_m: np.ndarray | None, gt_m: np.ndarray | None
) -> np.ndarray:
    """Stack image / predicted depth / sigma / GT (rows) into one HxWx3 uint8 picture."""
    lo, hi = depth_range(depth_m, *([gt_m] if gt_m is not None else []))
    rows = [np.asarray(image, dtype=np.uint8), colorize(depth_m, lo, hi, log=True)]
    if sigma_m is not None:
        rows.append(colorize(sigma_m, 0.0, float(np.nanpercentile(sigma_m, 98)) + 1e-6, cmap="viridis"))
    if gt_m is not None:
        gt = np.where(gt_m > 0, gt_m, np.nan)
        rows.append(colorize(gt, lo, hi, log=True))
    return np.concatenate(rows, axis=0)
