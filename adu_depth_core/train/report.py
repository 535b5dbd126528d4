"""Evaluation artefacts: per-image CSV, markdown tables, and figures (matplotlib, Agg backend)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from adu_depth_core.checkpoint import atomic_write_bytes
from adu_depth_core.train.visualize import colorize, depth_range

# Column order and headers of every table (metric key -> header; lower-is-better unless in HIGHER).
COLUMNS = {
    "abs_rel": "AbsRel",
    "sq_rel": "SqRel",
    "rmse": "RMSE",
    "rmse_log": "RMSElog",
    "a1": "δ1",
    "a2": "δ2",
    "a3": "δ3",
    "silog": "SILog",
    "ause_abs_rel": "AUSE(AbsRel)",
    "ause_rmse": "AUSE(RMSE)",
}
EXTRA_COLUMNS = {
    "log10": "log10",
    "sq_error_rel": "sqErrorRel",
    "abs_error_rel": "absErrorRel",
    "irmse": "iRMSE",
    "aurg_abs_rel": "AURG(AbsRel)",
    "aurg_rmse": "AURG(RMSE)",
}
HIGHER = {"a1", "a2", "a3", "aurg_abs_rel", "aurg_rmse"}


def write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, lambda f: f.write(text.encode()))


def write_csv(path: str | Path, rows: Sequence[Mapping[str, object]]) -> Path:
    """Rows of dicts -> CSV (columns: union of keys, in first-seen order), written atomically."""
    fields: list[str] = []
    for r in rows:
        fields.extend(k for k in r if k not in fields)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields)
    w.writeheader()
    for r in rows:
        w.writerow({k: _fmt_csv(v) for k, v in r.items()})
    return write_text(path, buf.getvalue())


def _fmt_csv(v: object) -> object:
    return f"{v:.6g}" if isinstance(v, float) else v


def fmt(value: float, std: float | None = None, digits: int = 3) -> str:
    """``0.123`` or ``0.123 ± 0.004``; NaN -> ``–``."""
    if value is None or not math.isfinite(value):
        return "–"
    s = f"{value:.{digits}f}"
    return s if std is None or not math.isfinite(std) else f"{s} ± {std:.{digits}f}"


def markdown_table(
    rows: Sequence[tuple[str, Mapping[str, float], Mapping[str, float] | None]],
    columns: Mapping[str, str] = COLUMNS,
    first_header: str = "model",
) -> str:
    """Rows of ``(name, means, stds or None)`` -> a markdown table over ``columns`` present in any row."""
    keys = [k for k in columns if any(k in r[1] for r in rows)]
    arrows = [columns[k] + (" ↑" if k in HIGHER else " ↓") for k in keys]
    lines = ["| " + " | ".join([first_header, *arrows]) + " |", "|" + "---|" * (len(keys) + 1)]
    for name, mean, std in rows:
        cells = [fmt(mean.get(k, float("nan")), None if std is None else std.get(k)) for k in keys]
        lines.append("| " + " | ".join([name, *cells]) + " |")
    return "\n".join(lines) + "\n"


def mean_std(runs: Sequence[Mapping[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Per-key mean and sample std over runs (std 0 for a single run); NaNs ignored."""
    keys = sorted({k for r in runs for k in r})
    mean, std = {}, {}
    for k in keys:
        v = np.array([r.get(k, np.nan) for r in runs], dtype=np.float64)
        v = v[np.isfinite(v)]
        mean[k] = float(v.mean()) if v.size else float("nan")
        std[k] = float(v.std(ddof=1)) if v.size > 1 else 0.0
    return mean, std


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_sample_figure(
    path: str | Path,
    image: np.ndarray,
    gt_m: np.ndarray,
    pred_m: np.ndarray,
    sigma_m: np.ndarray | None,
    title: str = "",
) -> Path:
    """Image, GT, prediction (shared log colour range), AbsRel error and sigma maps in one PNG."""
    plt = _figure()
    gt = np.where(np.isfinite(gt_m) & (gt_m > 0), gt_m, np.nan)
    lo, hi = depth_range(pred_m, gt)
    err = np.abs(pred_m - gt) / gt
    panels = [
        ("image", image),
        ("ground truth (m)", colorize(gt, lo, hi, log=True)),
        ("prediction (m)", colorize(pred_m, lo, hi, log=True)),
        ("AbsRel error (0-0.3)", colorize(err, 0.0, 0.3, cmap="inferno")),
    ]
    if sigma_m is not None:
        panels.append(
            ("sigma (m)", colorize(sigma_m, 0.0, float(np.nanpercentile(sigma_m, 98)) + 1e-6, "viridis"))
        )
    h, w = image.shape[:2]
    fig, axes = plt.subplots(len(panels), 1, figsize=(6, len(panels) * 6 * h / w + 0.6), squeeze=False)
    for ax, (name, pic) in zip(axes[:, 0], panels):
        ax.imshow(pic)
        ax.set_title(name, fontsize=8)
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    return _save(fig, path, plt)


def save_sparsification_figure(path: str | Path, curves: Mapping[str, Mapping[str, np.ndarray]]) -> Path:
    """Per-metric sparsification plot: error vs removed fraction, by uncertainty and by oracle."""
    plt = _figure()
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.6), squeeze=False)
    for ax, (metric, c) in zip(axes[0], curves.items()):
        frac = np.asarray(c["fractions"])
        ax.plot(frac, c["by_uncertainty"], label="by predicted uncertainty")
        ax.plot(frac, c["by_error"], "--", label="oracle (by true error)")
        if "random" in c:
            ax.plot(frac, c["random"], ":", label="random")
        ax.set_xlabel("fraction of pixels removed")
        ax.set_ylabel(COLUMNS.get(metric, metric))
        ax.set_title(f"sparsification ({COLUMNS.get(metric, metric)})")
        ax.legend(fontsize=7)
    return _save(fig, path, plt)


def save_reliability_figure(
    path: str | Path, panels: Mapping[str, Mapping[str, Mapping[str, Sequence[float]]]], cols: int = 2
) -> Path:
    """Reliability diagram per panel (title -> model -> Reliability.to_dict()): binned RMS sigma vs error."""
    from matplotlib.ticker import NullFormatter

    plt = _figure()
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.2 * rows), squeeze=False)
    for ax, (title, models) in zip(axes.flat, panels.items()):
        lo, hi = np.inf, 0.0
        for i, (name, r) in enumerate(models.items()):
            x, y = np.asarray(r["sigma_rms"]), np.asarray(r["err_rms"])
            ax.plot(x, y, "o-", ms=3, color=f"C{i}", label=f"{name}: RMS error")
            ax.plot(x, r["err_mean_abs"], ":", color=f"C{i}", label=f"{name}: mean |error|")
            lo, hi = min(lo, x.min(), y.min()), max(hi, x.max(), y.max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="calibrated: RMS error = sigma")
        ax.plot(
            [lo, hi],
            [lo / math.sqrt(2), hi / math.sqrt(2)],
            "k:",
            lw=1,
            label="calibrated: mean = sigma/sqrt2",
        )
        ax.set(xscale="log", yscale="log", xlabel="predicted sigma (RMS per bin)", ylabel="observed error")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    return _save(fig, path, plt)


def _save(fig, path: str | Path, plt) -> Path:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return atomic_write_bytes(path, lambda f: f.write(buf.getvalue()))
