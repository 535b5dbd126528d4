"""``bag-eval``: depth (and uncertainty) topics of a bag against ground truth from the same bag.

Frames are matched by header stamp (within a tolerance; unmatched frames are
counted and reported). Ground truth is a depth image (32FC1 m or 16UC1 mm) or a
LiDAR PointCloud2 projected through camera_info and ``T_cam_lidar``. Metrics are
``adu_depth_core.metrics.depth_metrics`` per frame (at the ground truth's size;
the prediction is resized to it when they differ) averaged over frames, plus
AUSE/AURG from ``uncertainty_metrics``. Pixels where the prediction (or its
sigma) is invalid are left out and reported as coverage. Each frame's row is
flushed to the CSV as it is computed; the summary and plots are written even
when the bag turns out to be corrupt part-way or the run is interrupted.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from adu_depth_core.bags import messages as M
from adu_depth_core.bags.eval_stats import CsvLog, CurveMean, DistanceBins, WorstFrames
from adu_depth_core.bags.io import BagError, BagReader
from adu_depth_core.bags.lidar import project_to_depth
from adu_depth_core.bags.matching import MatchedFrame, MatchPlan, StampIndex, iter_frames, plan_matches
from adu_depth_core.checkpoint import atomic_write_bytes
from adu_depth_core.metrics import METRIC_KEYS, MetricAggregator, NoValidPixels, depth_metrics, valid_pixels
from adu_depth_core.runtime.geometry import valid_depth_range
from adu_depth_core.runtime.intrinsics import scale_intrinsics
from adu_depth_core.runtime.preprocess import resize_map
from adu_depth_core.scale import GroundScaler, ScaleConfig, apply_scale

log = logging.getLogger(__name__)

UNCERTAINTY_KEYS = ("ause_abs_rel", "ause_rmse", "aurg_abs_rel", "aurg_rmse")
EIGEN_KEYS = ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "a1", "a2", "a3")
KITTI_KEYS = ("silog", "sq_error_rel", "abs_error_rel", "irmse")
IMAGE = "sensor_msgs/msg/Image"
CLOUD = "sensor_msgs/msg/PointCloud2"


@dataclass
class EvalConfig:
    """What bag-eval compares and how."""

    depth_topic: str
    gt_topic: str
    uncertainty_topic: str | None = None
    camera_info_topic: str | None = None  # needed for LiDAR ground truth
    T_cam_lidar: np.ndarray | None = None  # 4x4, needed for LiDAR ground truth
    tolerance_ms: float = 10.0
    min_depth_m: float = 1e-3
    max_depth_m: float = 80.0
    crop: str | None = None  # 'garg', 'eigen' or None
    worst_k: int = 4
    plots: bool = True
    # ground-plane scale applied to the recorded depth first (needs camera_info_topic)
    scale: ScaleConfig = field(default_factory=ScaleConfig)


@dataclass
class BagEvalResult:
    """Summary of a bag-eval run (what the JSON holds)."""

    bag: str
    config: dict[str, Any]
    frames_evaluated: int = 0
    frames_skipped: dict[str, int] = field(default_factory=dict)
    unmatched: dict[str, int] = field(default_factory=dict)
    match_report: list[str] = field(default_factory=list)
    mean: dict[str, float] = field(default_factory=dict)
    std: dict[str, float] = field(default_factory=dict)
    mean_coverage: float = float("nan")
    error_vs_distance: dict[str, list[float]] = field(default_factory=dict)
    sparsification: dict[str, list[float]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    error: str = ""


class _GroundTruth:
    """Turns the ground-truth message of a frame into an H x W metres map (NaN invalid)."""

    def __init__(self, bag: BagReader, cfg: EvalConfig) -> None:
        self.kind = bag.require(cfg.gt_topic, [IMAGE, CLOUD], role="ground-truth topic").msgtype
        self.cfg = cfg
        self.infos = None
        if self.kind == CLOUD:
            if not cfg.camera_info_topic or cfg.T_cam_lidar is None:
                raise BagError(
                    f"ground truth '{cfg.gt_topic}' is a PointCloud2: LiDAR ground truth needs "
                    "--camera-info-topic (the depth camera's) and --extrinsic (T_cam_lidar)"
                )
            bag.require(cfg.camera_info_topic, ["sensor_msgs/msg/CameraInfo"], role="camera_info topic")
            self.infos = StampIndex.from_bag(bag, cfg.camera_info_topic)

    def __call__(self, msg: Any, stamp_ns: int) -> np.ndarray:
        if self.kind == IMAGE:
            return M.depth_to_metres(msg)
        intr = M.camera_info_to_intrinsics(self.infos.nearest(stamp_ns))
        return project_to_depth(M.pointcloud_xyz(msg), self.cfg.T_cam_lidar, intr.K, intr.height, intr.width)


class _Rescale:
    """The node's ground-plane scale stage applied to recorded depth (and sigma), frames in stamp order."""

    def __init__(self, bag: BagReader, cfg: EvalConfig) -> None:
        if not cfg.camera_info_topic:
            raise BagError(f"--scale-mode {cfg.scale.mode} needs --camera-info-topic (the depth camera's)")
        bag.require(cfg.camera_info_topic, ["sensor_msgs/msg/CameraInfo"], role="camera_info topic")
        self.infos = StampIndex.from_bag(bag, cfg.camera_info_topic)
        self.scaler = GroundScaler(cfg.scale)
        self.range_m = (cfg.min_depth_m, cfg.max_depth_m)
        self.used = 0

    def __call__(self, frame: MatchedFrame, pred: np.ndarray, sigma: np.ndarray | None):
        intr = M.camera_info_to_intrinsics(self.infos.nearest(frame.stamp_ns))
        K = scale_intrinsics(intr.K, (intr.height, intr.width), pred.shape)
        state = self.scaler.update(pred, K, frame.msgs["depth"].header.frame_id)
        self.used += state.used
        depth, scaled_sigma = apply_scale(pred, pred if sigma is None else sigma, state.scale)
        # as the node does after its scale stage: depth pushed out of the range becomes invalid (depth the
        # recording already dropped before the scale cannot come back)
        depth, scaled_sigma = valid_depth_range(depth, scaled_sigma, *self.range_m)
        return depth, None if sigma is None else scaled_sigma


def _frame_maps(
    frame: MatchedFrame, gt_of: _GroundTruth, rescale: _Rescale | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """(pred, gt, sigma, usable) at the ground truth's size; usable = pred (and sigma) finite."""
    gt = gt_of(frame.msgs["gt"], frame.stamp_ns)
    pred = M.depth_to_metres(frame.msgs["depth"])
    sigma = M.image_to_array(frame.msgs["sigma"]).astype(np.float32) if "sigma" in frame.msgs else None
    if sigma is not None and sigma.shape != pred.shape:
        raise M.MessageError(f"uncertainty image {sigma.shape} and depth image {pred.shape} differ in size")
    if rescale is not None:
        pred, sigma = rescale(frame, pred, sigma)
    if pred.shape != gt.shape:
        pred = resize_map(pred, *gt.shape)
        sigma = None if sigma is None else resize_map(sigma, *gt.shape)
    usable = np.isfinite(pred) if sigma is None else np.isfinite(pred) & np.isfinite(sigma)
    return pred, gt, sigma, usable


class Evaluation:
    """Per-frame metrics into aggregators, CSV, distance bins, curves and the worst-frame list."""

    def __init__(self, cfg: EvalConfig, out_dir: Path | None) -> None:
        self.cfg = cfg
        self.agg = MetricAggregator()
        self.coverage: list[float] = []
        self.bins = DistanceBins(cfg.max_depth_m)
        self.curves = CurveMean()
        self.worst = WorstFrames(cfg.worst_k)
        self.skipped: dict[str, int] = {}
        columns = ["stamp_ns", "gt_stamp_ns", "dt_ms", "valid_px", "coverage", *METRIC_KEYS]
        columns += list(UNCERTAINTY_KEYS) if cfg.uncertainty_topic else []
        self.csv = CsvLog(out_dir / "frames.csv", columns) if out_dir else None

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def add(
        self,
        frame: MatchedFrame,
        pred: np.ndarray,
        gt: np.ndarray,
        sigma: np.ndarray | None,
        usable: np.ndarray,
    ) -> None:
        """Metrics of one frame over the ground-truth pixels where the prediction is usable."""
        cfg = self.cfg
        kw = {"min_depth": cfg.min_depth_m, "max_depth": cfg.max_depth_m, "crop": cfg.crop}
        n_gt = int(valid_pixels(np.zeros_like(gt), gt, **kw)[2].sum())  # raises NoValidPixels if none
        gt = np.where(usable, gt, np.float32(np.nan))
        metrics = depth_metrics(pred, gt, **kw)
        p, g, mask = valid_pixels(pred, gt, **kw)
        self.bins.add(p, g)
        if sigma is not None:
            metrics.update(self._uncertainty(p, g, sigma[mask]))
        self.agg.add(metrics)
        coverage = float(mask.sum()) / n_gt
        self.coverage.append(coverage)
        gt_stamp = M.stamp_ns(frame.msgs["gt"].header)
        row = {
            "stamp_ns": frame.stamp_ns,
            "gt_stamp_ns": gt_stamp,
            "dt_ms": (gt_stamp - frame.stamp_ns) / 1e6,
        }
        row.update(valid_px=int(mask.sum()), coverage=coverage, **metrics)
        if self.csv:
            self.csv.write(row)
        label = f"t={frame.stamp_ns / 1e9:.3f}s"
        self.worst.offer(metrics["abs_rel"], {"pred_m": pred, "gt_m": gt, "sigma_m": sigma, "label": label})

    def _uncertainty(self, p: np.ndarray, g: np.ndarray, u: np.ndarray) -> dict[str, float]:
        from adu_depth_core import uncertainty_metrics as U

        out, curves = {}, {}
        for metric in U.CURVE_METRICS:
            spars = U.sparsification_curve(p, g, u, metric)
            oracle = U.oracle_curve(p, g, metric)
            curves[metric], curves[f"{metric}_oracle"] = spars, oracle
            out[f"ause_{metric}"], out[f"aurg_{metric}"] = U.ause(spars, oracle), U.aurg(spars, spars[0])
        self.curves.add(curves)
        return out


def _prepare(bag: BagReader, cfg: EvalConfig) -> tuple[_GroundTruth, dict[str, str]]:
    """Check every topic (TopicError lists the bag's topics) -> ground-truth reader and match roles."""
    bag.require(cfg.depth_topic, [IMAGE], role="depth topic")
    if cfg.uncertainty_topic:
        bag.require(cfg.uncertainty_topic, [IMAGE], role="uncertainty topic")
    gt_of = _GroundTruth(bag, cfg)
    roles = {"depth": cfg.depth_topic, "gt": cfg.gt_topic}
    if cfg.uncertainty_topic:
        roles["sigma"] = cfg.uncertainty_topic
    return gt_of, roles


def _evaluate_frames(
    bag: BagReader, plan: MatchPlan, gt_of: _GroundTruth, ev: Evaluation, progress: bool, rescale=None
) -> None:
    from tqdm import tqdm

    for frame in tqdm(iter_frames(bag, plan), total=len(plan.groups), desc="bag-eval", disable=not progress):
        try:
            ev.add(frame, *_frame_maps(frame, gt_of, rescale))
        except NoValidPixels:
            ev.skip("no usable ground-truth pixels in the depth range")
        except (M.MessageError, ValueError, BagError) as exc:  # this frame only; a broken bag stops the loop
            ev.skip(str(exc))


def _summarise(ev: Evaluation, result: BagEvalResult) -> None:
    result.frames_evaluated = len(ev.coverage)
    result.frames_skipped = dict(ev.skipped)
    result.mean, result.std = ev.agg.mean(), ev.agg.std()
    result.mean_coverage = float(np.mean(ev.coverage)) if ev.coverage else float("nan")
    result.error_vs_distance = ev.bins.coarse()
    result.sparsification = ev.curves.mean()


def _write_outputs(
    ev: Evaluation, result: BagEvalResult, out_dir: Path | None, json_path: Path | None
) -> None:
    """Plots (when there is something to plot) and the JSON summary (atomic), into out_dir / json_path."""
    if out_dir is not None and ev.cfg.plots and result.frames_evaluated:
        from adu_depth_core.bags import plots

        files = {
            "error_vs_distance": plots.plot_error_vs_distance(
                result.error_vs_distance, out_dir / "error_vs_distance.png"
            )
        }
        if result.sparsification:
            files["sparsification"] = plots.plot_sparsification(
                result.sparsification, out_dir / "sparsification.png"
            )
        files["worst_frames"] = plots.plot_worst_frames(ev.worst.worst_first(), out_dir / "worst_frames.png")
        result.files.update({k: str(v) for k, v in files.items()})
    targets = [p for p in (json_path, out_dir / "summary.json" if out_dir else None) if p is not None]
    if ev.csv:
        result.files["frames_csv"] = str(ev.csv.path)
    text = json.dumps(asdict(result), indent=2, default=float, allow_nan=True)
    for target in targets:
        result.files.setdefault("summary_json", str(target))
        atomic_write_bytes(target, lambda f: f.write(text.encode("utf-8")))


def evaluate_bag(
    bag_path: str | os.PathLike,
    cfg: EvalConfig,
    out_dir: str | os.PathLike | None = None,
    json_path: str | os.PathLike | None = None,
    salvage: bool = False,
    progress: bool = True,
) -> BagEvalResult:
    """Evaluate a bag; writes frames.csv, summary.json and plots into ``out_dir`` (if given).

    Missing topics raise TopicError before anything is written. A bag that turns out to be
    corrupt part-way, or Ctrl-C, still leaves the CSV rows and a summary of the frames read
    before it (``result.error`` says why it stopped; KeyboardInterrupt is re-raised afterwards).
    """
    out = None if out_dir is None else Path(out_dir)
    config = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(cfg).items()}
    result = BagEvalResult(bag=str(bag_path), config=config)
    with BagReader(bag_path, salvage=salvage) as bag:
        gt_of, roles = _prepare(bag, cfg)
        rescale = _Rescale(bag, cfg) if cfg.scale.enabled else None
        plan = plan_matches(bag, roles, int(cfg.tolerance_ms * 1e6))
        result.unmatched, result.match_report = plan.unmatched(), plan.report()
        if plan.read_error:
            result.error = plan.read_error
        ev = Evaluation(cfg, out)
        try:
            _evaluate_frames(bag, plan, gt_of, ev, progress, rescale)
        except BagError as exc:  # a corrupt tail: the frames before it count
            result.error = str(exc)
        except KeyboardInterrupt:
            result.error = "interrupted"
            raise
        finally:
            if ev.csv:
                ev.csv.close()
            _summarise(ev, result)
            _write_outputs(ev, result, out, None if json_path is None else Path(json_path))
    return result


def format_table(result: BagEvalResult) -> str:
    """Eigen, KITTI-benchmark and uncertainty metrics as three aligned two-row tables."""
    lines = []
    for title, keys in (
        ("Eigen", EIGEN_KEYS),
        ("KITTI benchmark", KITTI_KEYS),
        ("uncertainty", UNCERTAINTY_KEYS),
    ):
        present = [k for k in keys if k in result.mean]
        if not present:
            continue
        lines.append(f"{title}:")
        lines.append("  " + " ".join(f"{k:>13}" for k in present))
        lines.append("  " + " ".join(f"{result.mean[k]:>13.4f}" for k in present))
    return "\n".join(lines)
