"""bag-eval figures (matplotlib's Agg canvas, no display, no global backend switch).

error vs. distance, sparsification curves (with oracle and random), and the worst frames as
depth / ground truth / error (/ sigma) colour maps.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from adu_depth_core.runtime import colormap


def _figure(width_in: float, height_in: float):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise RuntimeError(
            "bag-eval plots need matplotlib: pip install matplotlib (or pass --no-plots)"
        ) from exc
    fig = Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def plot_error_vs_distance(bins: dict[str, list[float]], path: str | os.PathLike) -> Path:
    """MAE and RMSE (m) and AbsRel by ground-truth distance (the ``DistanceBins.coarse()`` dict)."""
    fig = _figure(7, 4)
    ax = fig.add_subplot()
    x = bins["centre_m"]
    ax.plot(x, bins["mae_m"], "o-", label="MAE (m)")
    ax.plot(x, bins["rmse_m"], "s-", label="RMSE (m)")
    ax.set_xlabel("ground-truth distance (m)")
    ax.set_ylabel("error (m)")
    ax.grid(alpha=0.3)
    rel = ax.twinx()
    rel.plot(x, bins["abs_rel"], "^--", color="tab:red", label="AbsRel")
    rel.set_ylabel("AbsRel")
    lines = ax.get_legend_handles_labels()[0] + rel.get_legend_handles_labels()[0]
    ax.legend(lines, [ln.get_label() for ln in lines], loc="upper left")
    ax.set_title("error vs. distance (all evaluated pixels)")
    return _save(fig, path)


def plot_sparsification(curves: dict[str, list[float]], path: str | os.PathLike) -> Path:
    """Mean sparsification vs. oracle curves per metric (keys '<metric>' and '<metric>_oracle')."""
    metrics = [k for k in curves if not k.endswith("_oracle")]
    fig = _figure(5 * max(len(metrics), 1), 4)
    for i, metric in enumerate(metrics, start=1):
        ax = fig.add_subplot(1, len(metrics), i)
        y = np.asarray(curves[metric])
        x = np.arange(len(y)) / len(y)
        ax.plot(x, y, label="by predicted sigma")
        ax.plot(x, curves[f"{metric}_oracle"], label="oracle (by true error)")
        ax.axhline(y[0], color="grey", ls=":", label="random")
        ax.set_xlabel("fraction of pixels removed")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
        ax.set_title(f"sparsification: {metric}")
    return _save(fig, path)


def plot_worst_frames(frames: list[tuple[float, dict[str, Any]]], path: str | os.PathLike) -> Path:
    """One row per frame: prediction, ground truth (same colour range), |error| (and sigma when present)."""
    cols = 4 if any(f.get("sigma_m") is not None for _, f in frames) else 3
    aspect = frames[0][1]["gt_m"].shape[0] / frames[0][1]["gt_m"].shape[1] if frames else 0.5
    fig = _figure(3.2 * cols, (3.2 * aspect + 0.5) * max(len(frames), 1) + 0.2)
    for r, (score, f) in enumerate(frames):
        lo, hi = colormap.value_range(f["gt_m"])
        err = np.abs(f["pred_m"] - f["gt_m"])
        err_hi = colormap.value_range(err)[1]
        panels = [
            (f"prediction, {lo:.1f}-{hi:.1f} m", colormap.colorize_depth(f["pred_m"], lo, hi)),
            (
                f"ground truth, {lo:.1f}-{hi:.1f} m",
                colormap.colorize_depth(_dilate_sparse(f["gt_m"]), lo, hi),
            ),
            (f"|error|, 0-{err_hi:.1f} m", colormap.colorize(_dilate_sparse(err), 0.0, err_hi)),
        ]
        if cols == 4:
            sigma = f.get("sigma_m")
            s_lo, s_hi = colormap.value_range(sigma) if sigma is not None else (0.0, 0.0)
            rgb = colormap.colorize_sigma(sigma, s_lo, s_hi) if sigma is not None else None
            panels.append((f"sigma, {s_lo:.2f}-{s_hi:.2f} m", rgb))
        for c, (title, rgb) in enumerate(panels):
            ax = fig.add_subplot(max(len(frames), 1), cols, r * cols + c + 1)
            ax.set_axis_off()
            if rgb is not None:
                ax.imshow(rgb, interpolation="nearest")
            label = f"{f['label']}  AbsRel {score:.3f}" if c == 0 else ""
            ax.set_title(f"{title}\n{label}" if label else title, fontsize=8)
    return _save(fig, path)


def _dilate_sparse(values: np.ndarray) -> np.ndarray:
    """Grow sparse (LiDAR) valid pixels to 3x3 so they are visible in a small figure; dense maps unchanged."""
    finite = np.isfinite(values)
    if finite.mean() > 0.5:
        return values
    import cv2

    filled = np.where(finite, values, -np.inf).astype(np.float32)
    grown = cv2.dilate(filled, np.ones((3, 3), np.uint8))
    return np.where(np.isfinite(grown), grown, np.nan).astype(np.float32)
