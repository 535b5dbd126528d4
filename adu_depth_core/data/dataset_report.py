"""Checks of a labelled folder dataset before distilling: pair count, confidence histogram, contact sheet.

``adu-depth dataset-report`` writes ``summary.json``, ``confidence_hist.png`` (the teacher's per-pixel
confidence ``exp(−b)`` over the sampled frames) and ``contact_sheet.png`` (rows of left image / teacher
depth / confidence for evenly spaced frames) so a user sees whether the labels look right before training.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from adu_depth_core.data.folder import FolderStereo
from adu_depth_core.data.io import read_npy
from adu_depth_core.data.sample import DataError

CONFIDENCE_LEVELS = (0.5, 0.8, 0.9, 0.95)  # reported: share of pixels at or above each
SHEET_WIDTH_PX = 320  # each tile is resized to this width


def _evenly(n: int, k: int) -> list[int]:
    return sorted({int(round(v)) for v in np.linspace(0, n - 1, min(k, n))}) if n else []


def _tile(rgb: np.ndarray) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    return cv2.resize(
        rgb, (SHEET_WIDTH_PX, max(1, round(h * SHEET_WIDTH_PX / w))), interpolation=cv2.INTER_AREA
    )


def contact_sheet(reader: FolderStereo, indices: list[int], depth_dir: str) -> np.ndarray:
    """Rows of [left | teacher depth (log colours) | confidence (0..1)] for the given frames."""
    from adu_depth_core.train.visualize import colorize, depth_range

    rows = []
    for i in indices:
        stem = reader.stems[i]
        left = reader[i].left
        hw = left.shape[:2]
        depth = read_npy(reader.root / depth_dir / f"{stem}.npy", hw, "teacher depth .npy")
        tiles = [left, colorize(depth, *depth_range(depth), log=True)]
        conf_path = reader.root / "confidence" / f"{stem}.npy"
        if conf_path.is_file():
            tiles.append(colorize(read_npy(conf_path, hw, "confidence .npy"), 0.0, 1.0, cmap="viridis"))
        rows.append(np.concatenate([_tile(t) for t in tiles], axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    return np.concatenate(rows, axis=0)


def confidence_histogram(values: np.ndarray, path: Path) -> None:
    """A PNG histogram of confidences in [0, 1] with the shares above the usual thresholds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(values, bins=50, range=(0.0, 1.0), color="tab:blue")
    ax.set_xlabel("teacher confidence exp(-b)")
    ax.set_ylabel("pixels")
    ax.set_yscale("log")
    for t in CONFIDENCE_LEVELS:
        ax.axvline(t, color="grey", lw=0.8, ls="--")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def dataset_report(
    root: str | os.PathLike, out: str | os.PathLike, max_frames: int = 12, depth_dir: str = "teacher_depth"
) -> dict:
    """Write summary.json, confidence_hist.png and contact_sheet.png for a labelled folder dataset."""
    from adu_depth_core.data.io import write_rgb

    reader = FolderStereo(root)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not (reader.root / depth_dir).is_dir():
        raise DataError(
            f"{reader.root / depth_dir} is missing: label the pairs first (bag-to-dataset --teacher)"
        )
    idx = _evenly(len(reader), max_frames)
    summary: dict = {
        "pairs": len(reader),
        "with_right": reader.right_dir is not None,
        "sampled": len(idx),
        "baseline_m": reader.baseline_m,
        "fx_px": float(reader.K[0, 0]),
    }
    if (reader.root / "confidence").is_dir():
        hw = reader[idx[0]].left.shape[:2]
        conf = np.concatenate(
            [read_npy(reader.root / "confidence" / f"{reader.stems[i]}.npy", hw).ravel() for i in idx]
        )
        conf = conf[np.isfinite(conf)]
        confidence_histogram(conf, out / "confidence_hist.png")
        summary["confidence_share"] = {f">={t:g}": float(np.mean(conf >= t)) for t in CONFIDENCE_LEVELS}
        summary["confidence_median"] = float(np.median(conf))
    write_rgb(out / "contact_sheet.png", contact_sheet(reader, idx, depth_dir))
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
