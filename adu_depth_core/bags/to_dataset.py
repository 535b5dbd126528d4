"""``bag-to-dataset``: a robot's stereo recording -> the folder-stereo layout for training.

The pairs are exactly what the ``rosbag`` training dataset reads
(``adu_depth_core.data.rosbag.RosbagStereo``: left/right by header stamp, K from
the left camera_info's P, baseline from the right one's Tx, optional
rectification and left-view depth), so converting first or training straight from
the bag gives the same samples. Optional: a stereo teacher's pseudo-labels
(-> ``teacher_depth/``, float32 m) and their confidence ``exp(-b)`` in (0, 1]
(-> ``confidence/``), ``b`` being the teacher's Laplace scale of log-depth
(docs/method.md). Pairs are written one at a time (each file atomically) with
``frames.csv`` (stem, stamp) flushed per row, so an interrupted run leaves a
usable dataset of the pairs done.
"""

from __future__ import annotations

import csv
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from adu_depth_core.bags.io import BagError, list_topics

log = logging.getLogger(__name__)


@dataclass
class DatasetConfig:
    """Topics and options of bag-to-dataset."""

    left_topic: str
    right_topic: str
    left_info_topic: str | None = None  # None: '<left namespace>/camera_info'
    right_info_topic: str | None = None
    depth_topic: str | None = None  # optional ground truth for the left view (32FC1 m / 16UC1 mm)
    baseline_m: float | None = None  # overrides / replaces the right camera_info's Tx
    tolerance_ms: float = 5.0
    rectify: bool = False  # undistort + rectify raw images with each camera_info first
    every: int = 1  # keep every Nth pair
    max_frames: int | None = None


@dataclass
class DatasetStats:
    """What bag-to-dataset wrote and what it left out."""

    written: int = 0
    pairs: int = 0
    skipped: Counter = field(default_factory=Counter)
    unmatched: dict[str, int] = field(default_factory=dict)
    match_report: list[str] = field(default_factory=list)


class TeacherLabeler:
    """A frozen stereo teacher that labels rectified pairs: depth (m) and confidence exp(-b) per pixel.

    The teacher runs at the pair's own aspect ratio, scaled to at most its card's (training) width and
    rounded to multiples of 32: it predicts disparity and takes the pair's fx and baseline, so it needs
    no fixed input, and a non-KITTI aspect ratio is not squashed.
    """

    def __init__(
        self,
        checkpoint: str | os.PathLike,
        device: str = "cpu",
        max_width: int | None = None,
        refine: bool = False,
    ) -> None:
        import torch

        from adu_depth_core.models import load_model
        from adu_depth_core.models.loading import teacher_checkpoint
        from adu_depth_core.stereo_refine import RefineConfig

        model, card = load_model(teacher_checkpoint(checkpoint))
        if card.arch != "teacher":
            raise BagError(f"--teacher {checkpoint} is a '{card.arch}' checkpoint; give a stereo teacher's")
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.max_width = max_width or card.input_width
        self.refine = RefineConfig() if refine else None  # the defaults, chosen on synthetic pairs

    def __call__(
        self, left: np.ndarray, right: np.ndarray, K: np.ndarray, baseline_m: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) uint8 RGB pair with its K and baseline -> (depth_m, confidence), (H, W) float32 each."""
        from adu_depth_core.stereo import network_size, teacher_disparity

        if not baseline_m or baseline_m <= 0:
            raise BagError(f"the teacher needs the stereo baseline; got baseline_m={baseline_m}")
        hw = network_size(left.shape[:2], max_width=self.max_width)
        out = teacher_disparity(
            self.model, left, right, float(K[0, 0]), float(baseline_m), hw, refine=self.refine
        )
        return out["depth"], np.clip(out["confidence"], 0.0, 1.0)


def _match_report(
    bag_path: str | os.PathLike, reader, cfg: DatasetConfig
) -> tuple[list[str], dict[str, int]]:
    """Lines and counts of frames without a partner (pairing is one-to-one, so counts follow from totals)."""
    counts = {name: info.count for name, info in list_topics(bag_path).items()}
    pairs = len(reader)
    n_left, n_right = counts.get(cfg.left_topic, 0), counts.get(cfg.right_topic, 0)
    unmatched = {"left_without_right": n_left - pairs, "right_without_left": n_right - pairs}
    lines = [
        f"{pairs} of {n_left} left frames matched (tolerance {cfg.tolerance_ms:g} ms)",
        f"  left frames without a right partner: {n_left - pairs}; "
        f"right messages without a left partner: {n_right - pairs}",
    ]
    if cfg.depth_topic:
        no_depth = sum(1 for _, _, depth in reader.samples if depth is None)
        unmatched["pairs_without_depth"] = no_depth
        unmatched["depth_without_pair"] = counts.get(cfg.depth_topic, 0) - (pairs - no_depth)
        lines.append(f"  pairs without a depth partner: {no_depth}")
    return lines, unmatched


def _prepare_out(out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        raise BagError(f"output folder {out} is not empty; pick a new --out (datasets are never mixed)")
    out.mkdir(parents=True, exist_ok=True)


def bag_to_dataset(
    bag_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    cfg: DatasetConfig,
    teacher: TeacherLabeler | None = None,
    progress: bool = True,
    stats: DatasetStats | None = None,
) -> DatasetStats:
    """Write the stereo pairs of a bag as a folder-stereo dataset in ``out_dir``; DataError for a bad bag."""
    from tqdm import tqdm

    from adu_depth_core.data.folder import write_calib
    from adu_depth_core.data.rosbag import RosbagStereo

    stats = DatasetStats() if stats is None else stats
    out = Path(out_dir)
    reader = RosbagStereo(
        bag_path, cfg.left_topic, cfg.right_topic, cfg.left_info_topic, cfg.right_info_topic, cfg.depth_topic,
        max_dt_s=cfg.tolerance_ms / 1e3, baseline_m=cfg.baseline_m, rectify=cfg.rectify,
    )  # fmt: skip
    try:
        stats.pairs = len(reader)
        stats.match_report, stats.unmatched = _match_report(bag_path, reader, cfg)
        _prepare_out(out)
        extra = {
            "source_bag": str(Path(bag_path).resolve()),
            "topics": dict(reader.topics),
            "teacher": teacher is not None,
        }
        write_calib(out, reader.K, reader.baseline_m, reader.hw[0], reader.hw[1], **extra)
        picks = list(range(0, len(reader), cfg.every))[: cfg.max_frames]
        with (out / "frames.csv").open("w", newline="", encoding="utf-8") as f:
            rows = csv.writer(f)
            rows.writerow(["stem", "stamp_ns"])
            for i in tqdm(picks, desc="bag-to-dataset", unit="pair", disable=not progress):
                if _write_pair(out, reader, i, teacher, stats):
                    rows.writerow([f"{stats.written - 1:06d}", reader.samples[i][0].stamp_ns])
                    f.flush()
    finally:
        reader.close()
    return stats


def _write_pair(out: Path, reader, i: int, teacher: TeacherLabeler | None, stats: DatasetStats) -> bool:
    """Write pair ``i`` as the next stem; False (and a skip reason) if its messages do not decode."""
    from adu_depth_core.data.folder import write_sample
    from adu_depth_core.data.sample import DataError

    try:
        sample = reader[i]
    except DataError as exc:
        stats.skipped[str(exc).split(": ", 1)[-1]] += 1
        return False
    labels = {}
    if teacher is not None:
        labels["teacher_depth"], labels["confidence"] = teacher(
            sample.left, sample.right, sample.K, sample.baseline_m
        )
    write_sample(out, f"{stats.written:06d}", sample, **labels)
    stats.written += 1
    return True
