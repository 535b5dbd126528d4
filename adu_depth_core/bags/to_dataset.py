"""``bag-to-dataset``: a robot's rectified stereo recording -> the folder-stereo layout for training.

Left/right images (Image or CompressedImage) are paired by header stamp; K comes
from the left camera_info (its rectified projection P, or K when P is unset),
the baseline from the right camera_info (ROS: ``P[0, 3] = -fx * baseline``) or
``baseline_m``. Optional: a ground-truth depth topic for the left view
(-> ``depth/``), and a stereo teacher's pseudo-labels (-> ``teacher_depth/``,
float32 m) with their confidence ``exp(-b)`` in (0, 1] (-> ``confidence/``),
where ``b`` is the teacher's Laplace scale of log-depth (METHOD.md). Files are
written one frame at a time (each atomically), with ``frames.csv`` (stem, stamp)
flushed per row, so an interrupted run leaves a usable dataset of the frames done.
"""

from __future__ import annotations

import csv
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from adu_depth_core.bags import messages as M
from adu_depth_core.bags.io import IMAGE_TYPES, BagError, BagReader
from adu_depth_core.bags.matching import StampIndex, iter_frames, plan_matches

log = logging.getLogger(__name__)
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"


@dataclass
class DatasetConfig:
    """Topics and options of bag-to-dataset."""

    left_topic: str
    right_topic: str
    left_info_topic: str | None = None  # None: '<left namespace>/camera_info' when present
    right_info_topic: str | None = None
    depth_topic: str | None = None  # optional ground truth for the left view (32FC1 m / 16UC1 mm)
    baseline_m: float | None = None  # overrides / replaces the right camera_info's Tx
    tolerance_ms: float = 5.0
    every: int = 1  # keep every Nth matched pair
    max_frames: int | None = None


@dataclass
class DatasetStats:
    """What bag-to-dataset wrote and what it left out."""

    written: int = 0
    pairs: int = 0
    skipped: Counter = field(default_factory=Counter)
    unmatched: dict[str, int] = field(default_factory=dict)
    match_report: list[str] = field(default_factory=list)
    error: str = ""


class TeacherLabeler:
    """A frozen stereo teacher that labels rectified pairs: depth (m) and confidence exp(-b) per pixel."""

    def __init__(self, checkpoint: str | os.PathLike, device: str = "cpu") -> None:
        import torch

        from adu_depth_core.models import load_model

        model, card = load_model(checkpoint)
        if card.arch != "teacher":
            raise BagError(f"--teacher {checkpoint} is a '{card.arch}' checkpoint; give a stereo teacher's")
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.hw = (card.input_height, card.input_width)

    def __call__(self, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) uint8 RGB pair -> (depth_m, confidence), both (H, W) float32 at the images' size."""
        import torch

        from adu_depth_core.runtime.preprocess import preprocess, resize_map

        tensors = [torch.from_numpy(preprocess(im, *self.hw)).to(self.device) for im in (left, right)]
        with torch.no_grad():
            out = self.model(*tensors)
        depth = out["depth"][0, 0].float().cpu().numpy()
        conf = torch.exp(-torch.exp(out["log_b"][0, 0].float())).cpu().numpy()
        h, w = left.shape[:2]
        return resize_map(depth, h, w), np.clip(resize_map(conf, h, w), 0.0, 1.0)


def _sibling_info(bag: BagReader, image_topic: str) -> str | None:
    base = image_topic.rstrip("/")
    if base.endswith("/compressed"):
        base = base.rsplit("/", 1)[0]
    candidate = base.rsplit("/", 1)[0] + "/camera_info"
    info = bag.topics.get(candidate)
    return candidate if info is not None and info.msgtype == CAMERA_INFO else None


def _info_topics(bag: BagReader, cfg: DatasetConfig) -> tuple[str, str | None]:
    bag.require(cfg.left_topic, IMAGE_TYPES, role="left image topic")
    bag.require(cfg.right_topic, IMAGE_TYPES, role="right image topic")
    if cfg.depth_topic:
        bag.require(cfg.depth_topic, ["sensor_msgs/msg/Image"], role="depth topic")
    left_info = cfg.left_info_topic or _sibling_info(bag, cfg.left_topic)
    right_info = cfg.right_info_topic or _sibling_info(bag, cfg.right_topic)
    if left_info is None:
        raise BagError(f"no camera_info found next to '{cfg.left_topic}': pass --left-info")
    bag.require(left_info, [CAMERA_INFO], role="left camera_info topic")
    if right_info is not None:
        bag.require(right_info, [CAMERA_INFO], role="right camera_info topic")
    return left_info, right_info


def stereo_calibration(
    left_info: Any, right_info: Any | None, baseline_m: float | None
) -> tuple[np.ndarray, float]:
    """(K of the rectified left image, baseline in metres) from the pair's camera_infos."""
    left = M.camera_info_to_intrinsics(left_info)
    K = left.P[:, :3].copy()
    if baseline_m is None and right_info is not None:
        baseline_m = M.camera_info_to_intrinsics(right_info).baseline_m
    if baseline_m is None or not np.isfinite(baseline_m) or baseline_m <= 0:
        raise BagError(
            f"no usable stereo baseline (right camera_info P gives {baseline_m}); "
            "pass --baseline-m or --right-info with P[0,3] = -fx * baseline"
        )
    return K, float(baseline_m)


def _prepare_out(out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        raise BagError(f"output folder {out} is not empty; pick a new --out (datasets are never mixed)")
    out.mkdir(parents=True, exist_ok=True)


def bag_to_dataset(
    bag_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    cfg: DatasetConfig,
    teacher: TeacherLabeler | None = None,
    salvage: bool = False,
    progress: bool = True,
    stats: DatasetStats | None = None,
) -> DatasetStats:
    """Write the matched stereo pairs of a bag as a folder-stereo dataset in ``out_dir``."""
    from tqdm import tqdm

    from adu_depth_core.data.folder import write_calib

    stats = DatasetStats() if stats is None else stats
    out = Path(out_dir)
    with BagReader(bag_path, salvage=salvage) as bag:
        left_info, right_info = _info_topics(bag, cfg)
        lefts = StampIndex.from_bag(bag, left_info)
        rights = StampIndex.from_bag(bag, right_info) if right_info else None
        first = lefts.nearest(0)
        K, baseline_m = stereo_calibration(first, rights.nearest(0) if rights else None, cfg.baseline_m)
        roles = {"left": cfg.left_topic, "right": cfg.right_topic}
        if cfg.depth_topic:
            roles["depth"] = cfg.depth_topic
        plan = plan_matches(bag, roles, int(cfg.tolerance_ms * 1e6))
        stats.pairs, stats.unmatched, stats.match_report = len(plan.groups), plan.unmatched(), plan.report()
        stats.error = plan.read_error
        _prepare_out(out)
        extra = {
            "source_bag": str(Path(bag_path).resolve()),
            "topics": dict(roles),
            "teacher": teacher is not None,
        }
        write_calib(out, K, baseline_m, int(first.height), int(first.width), **extra)
        limit = (
            len(plan.groups) if cfg.max_frames is None else min(len(plan.groups), cfg.max_frames * cfg.every)
        )
        bar = tqdm(total=limit, desc="bag-to-dataset", unit="pair", disable=not progress)
        with (out / "frames.csv").open("w", newline="", encoding="utf-8") as f:
            rows = csv.writer(f)
            rows.writerow(["stem", "stamp_ns"])
            try:
                for k, frame in enumerate(iter_frames(bag, plan)):
                    if k >= limit:
                        break
                    bar.update(1)
                    if k % cfg.every == 0:
                        _write_pair(
                            out,
                            frame,
                            K,
                            baseline_m,
                            (int(first.height), int(first.width)),
                            teacher,
                            stats,
                            rows,
                        )
                        f.flush()
            except BagError as exc:  # corrupt tail: the pairs written so far stay
                stats.error = str(exc)
            finally:
                bar.close()
    return stats


def _write_pair(out: Path, frame, K, baseline_m, hw, teacher, stats: DatasetStats, rows) -> None:
    from adu_depth_core.data.folder import write_sample
    from adu_depth_core.data.sample import StereoSample

    try:
        left, right = M.image_to_rgb(frame.msgs["left"]), M.image_to_rgb(frame.msgs["right"])
        depth = M.depth_to_metres(frame.msgs["depth"]) if "depth" in frame.msgs else None
        for name, arr in (("left", left), ("right", right), ("depth", depth)):
            if arr is not None and arr.shape[:2] != hw:
                raise M.MessageError(
                    f"{name} image is {arr.shape[1]}x{arr.shape[0]}, camera_info says {hw[1]}x{hw[0]}"
                )
    except (M.MessageError, BagError) as exc:
        stats.skipped[str(exc)] += 1
        return
    stem = f"{stats.written:06d}"
    valid = None if depth is None else np.isfinite(depth)
    sample = StereoSample(left, right, depth, valid, K.copy(), baseline_m, f"bag@{frame.stamp_ns}")
    labels = {}
    if teacher is not None:
        labels["teacher_depth"], labels["confidence"] = teacher(left, right)
    write_sample(out, stem, sample, **labels)
    rows.writerow([stem, frame.stamp_ns])
    stats.written += 1
