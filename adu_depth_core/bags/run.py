"""``bag-run``: the depth node's work over a recorded bag, without ROS.

Every image of one topic (Image or CompressedImage) goes through a
``DepthEstimator``; the output bag gets the messages the node would publish
(``depth``, ``depth/uncertainty``, ``depth/camera_info``, optionally
``depth/color`` and ``points``, under ``namespace`` like the launch file's),
each with the input image's header and recording time. By default the input
bag's topics are copied too, so the output is self-contained for ``bag-eval``.
The output bag is written as it goes and closed properly on any error or
Ctrl-C, so frames already processed are kept.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adu_depth_core.bags import messages as M
from adu_depth_core.bags.io import IMAGE_TYPES, BagError, BagReader, BagWriter, RawMessage
from adu_depth_core.bags.matching import StampIndex
from adu_depth_core.image_size import DEFAULT_MAX_INPUT_PIXELS
from adu_depth_core.runtime import colormap, geometry
from adu_depth_core.runtime.preprocess import ImageError, resize_image
from adu_depth_core.scale import GroundScaler, ScaleConfig, apply_scale

log = logging.getLogger(__name__)

OUTPUT_TOPICS = {
    "depth": "depth",
    "uncertainty": "depth/uncertainty",
    "camera_info": "depth/camera_info",
    "color": "depth/color",
    "points": "points",
}


@dataclass
class RunConfig:
    """What bag-run reads and writes; thresholds and defaults are the node's (config/depth.yaml)."""

    image_topic: str
    camera_info_topic: str | None = None  # None: '<image topic's namespace>/camera_info' when present
    namespace: str = ""  # output namespace, like the launch file's 'namespace' argument
    points: bool = False
    color: bool = False
    min_depth_m: float = 0.1
    max_depth_m: float = 80.0
    max_sigma_m: float = 0.0  # point filter, 0 = off
    max_relative_sigma: float = 0.25  # point filter, 0 = off
    output_resolution: str = "camera"  # or "network"
    depth_encoding: str = "32FC1"
    points_stride: int = 1
    points_color: bool = True
    frame_id: str = ""  # override of the outputs' frame_id; empty = the input image's
    copy_inputs: bool = True
    storage: str = "mcap"
    scale: ScaleConfig = field(default_factory=ScaleConfig)  # ground-plane metric scale (needs camera_info)
    max_input_pixels: int = DEFAULT_MAX_INPUT_PIXELS  # larger frames are skipped undecoded; 0 = no limit


@dataclass
class RunStats:
    """What a bag-run did: frames in/out, skipped frames by reason, summed stage timings."""

    images: int = 0
    processed: int = 0
    skipped: Counter = field(default_factory=Counter)
    problems: Counter = field(default_factory=Counter)
    timings_ms: Counter = field(default_factory=Counter)
    written: dict[str, int] = field(default_factory=dict)
    error: str = ""
    scales: list[float] = field(default_factory=list)  # applied ground-plane scale per processed frame
    scales_used: int = 0  # frames whose own scale entered the filter

    def mean_timings_ms(self) -> dict[str, float]:
        return {k: v / max(self.processed, 1) for k, v in self.timings_ms.items()}


def output_topic(namespace: str, name: str) -> str:
    """Absolute topic of output ``name`` ('depth', 'uncertainty', ...) in ``namespace``."""
    ns = namespace.strip("/")
    return f"/{ns}/{OUTPUT_TOPICS[name]}" if ns else f"/{OUTPUT_TOPICS[name]}"


class FrameOutputs:
    """One image (+ its camera_info) -> {output name: rosbags message}, as the depth node builds them."""

    def __init__(self, estimator: Any, cfg: RunConfig) -> None:
        self.estimator = estimator
        self.cfg = cfg
        self.scaler = GroundScaler(cfg.scale) if cfg.scale.enabled else None

    def __call__(self, image_msg: Any, info_msg: Any | None, stats: RunStats) -> dict[str, Any]:
        cfg = self.cfg
        rgb = M.image_to_rgb(image_msg, cfg.max_input_pixels)
        image_hw = rgb.shape[:2]
        info = self._checked_info(info_msg, image_hw, stats)
        K = None if info is None else M.camera_info_to_intrinsics(info).K
        pred = self.estimator.infer(
            rgb, output="input" if cfg.output_resolution == "camera" else "network", K=K
        )
        stats.timings_ms.update(pred.timings_ms)
        out_hw = pred.depth_m.shape[:2]
        header = M.make_header(M.stamp_ns(image_msg.header), cfg.frame_id or image_msg.header.frame_id)
        depth_m, sigma_m = pred.depth_m, pred.sigma_m
        if self.scaler is not None:
            depth_m, sigma_m = self._scale(depth_m, sigma_m, info, header, stats)
        depth_m, sigma_m = geometry.valid_depth_range(depth_m, sigma_m, cfg.min_depth_m, cfg.max_depth_m)
        out = {
            "depth": M.depth_msg(depth_m, header, cfg.depth_encoding),
            "uncertainty": M.image_msg(sigma_m, "32FC1", header),
        }
        if cfg.color:
            out["color"] = M.image_msg(colormap.colorize_depth(depth_m), "rgb8", header)
        if info is None:
            return out
        out["camera_info"] = M.rescaled_camera_info(info, out_hw[0], out_hw[1], header)
        if cfg.points:
            K = M.camera_info_to_intrinsics(out["camera_info"]).K
            colour = (rgb if out_hw == image_hw else resize_image(rgb, *out_hw)) if cfg.points_color else None
            out["points"] = self._points(depth_m, sigma_m, K, colour, header)
        return out

    def _scale(self, depth_m, sigma_m, info, header, stats: RunStats):
        """The node's ground-plane scale stage: depth and sigma times the filtered scale."""
        if info is None:
            state = self.scaler.hold("no usable camera_info to back-project the depth")
        else:
            K = M.camera_info_to_intrinsics(M.rescaled_camera_info(info, *depth_m.shape, header)).K
            state = self.scaler.update(depth_m, K, header.frame_id)
        stats.scales.append(state.scale)
        stats.scales_used += state.used
        return apply_scale(depth_m, sigma_m, state.scale)

    @staticmethod
    def _checked_info(info_msg: Any | None, image_hw: tuple[int, int], stats: RunStats) -> Any | None:
        if info_msg is None:
            return None
        try:
            intr = M.camera_info_to_intrinsics(info_msg)
        except M.MessageError as exc:
            stats.problems[f"camera_info unusable: {exc}"] += 1
            return None
        if (intr.height, intr.width) != tuple(image_hw):
            stats.problems[
                f"camera_info is {intr.height}x{intr.width} (HxW) but the image is {image_hw[0]}x{image_hw[1]}; "
                "their depth assumes the model's canonical camera; no depth/camera_info or points for them"
            ] += 1
            return None
        return info_msg

    def _points(self, depth_m, sigma_m, K, colour, header) -> Any:
        """depth_image_proc-style organised/strided cloud, uncertainty-filtered (the node's recipe)."""
        ratio = geometry.sigma_limit_ratio(
            depth_m, sigma_m, self.cfg.max_sigma_m, self.cfg.max_relative_sigma
        )
        s = self.cfg.points_stride
        xyz = geometry.backproject(depth_m, K, s, ratio, None if ratio is None else 1.0)
        return M.pointcloud_msg(
            geometry.to_point_array(xyz, None if colour is None else colour[::s, ::s]), header
        )


def _default_info_topic(bag: BagReader, image_topic: str) -> str | None:
    parent = image_topic.rstrip("/").rsplit("/", 1)[0]
    if image_topic.endswith("/compressed"):
        parent = parent.rsplit("/", 1)[0]
    candidate = f"{parent}/camera_info"
    found = bag.topics.get(candidate)
    return candidate if found is not None and found.msgtype == "sensor_msgs/msg/CameraInfo" else None


def _resolve_topics(bag: BagReader, cfg: RunConfig) -> str | None:
    """Check the input topics; returns the camera_info topic to use (or None)."""
    bag.require(cfg.image_topic, IMAGE_TYPES, role="image topic")
    info_topic = cfg.camera_info_topic
    if info_topic:
        bag.require(info_topic, ["sensor_msgs/msg/CameraInfo"], role="camera_info topic")
    else:
        info_topic = _default_info_topic(bag, cfg.image_topic)
    if info_topic is None and cfg.scale.enabled:
        raise BagError(
            f"--scale-mode {cfg.scale.mode} needs camera_info: none found next to '{cfg.image_topic}'; "
            "pass --camera-info-topic"
        )
    if info_topic is None and cfg.points:
        raise BagError(
            f"--points needs camera_info: none found next to '{cfg.image_topic}'; pass --camera-info-topic"
        )
    if info_topic is None:
        log.warning("no camera_info topic: writing depth and uncertainty only (no depth/camera_info)")
    return info_topic


def _copy_topics(bag: BagReader, writer: BagWriter, out_topics: set[str]) -> set[str]:
    """Declare every input topic in the output bag (raw definitions); returns the ones that can be copied."""
    copied = set()
    for name in bag.topics:
        if name in out_topics:
            log.warning("input topic %s is also an output topic: not copied", name)
            continue
        msgtype, msgdef, digest = bag.connection_defs(name)
        try:
            writer.add_topic(name, msgtype, msgdef, digest)
            copied.add(name)
        except BagError as exc:
            log.warning("not copying %s: %s", name, exc)
    return copied


def _write_frame(writer: BagWriter, cfg: RunConfig, raw: RawMessage, outputs: dict[str, Any]) -> None:
    for name, msg in outputs.items():
        writer.write(output_topic(cfg.namespace, name), msg, raw.log_time_ns)


def run_bag(
    bag_path: str | os.PathLike,
    estimator: Any,
    out_path: str | os.PathLike,
    cfg: RunConfig,
    salvage: bool = False,
    progress: bool = True,
    stats: RunStats | None = None,
) -> RunStats:
    """Run ``estimator`` over ``cfg.image_topic`` of a bag; write the outputs bag at ``out_path``.

    Pass ``stats`` to keep the counts when the run is interrupted (the bag is closed either way).
    """
    from tqdm import tqdm

    stats = RunStats() if stats is None else stats
    with BagReader(bag_path, salvage=salvage) as bag:
        info_topic = _resolve_topics(bag, cfg)
        infos = StampIndex.from_bag(bag, info_topic) if info_topic else StampIndex([])
        process = FrameOutputs(estimator, cfg)
        with BagWriter(out_path, storage=cfg.storage) as writer:
            writer.set_custom_data("adu_depth.tool", "bag-run")
            writer.set_custom_data("adu_depth.source_bag", str(Path(bag_path).resolve()))
            out_topics = {output_topic(cfg.namespace, n) for n in OUTPUT_TOPICS}
            copied = _copy_topics(bag, writer, out_topics) if cfg.copy_inputs else set()
            total = bag.topics[cfg.image_topic].count
            bar = tqdm(total=total, desc="bag-run", unit="frame", disable=not progress)
            try:
                _loop(bag, writer, cfg, process, infos, copied, stats, bar)
            except BagError as exc:  # a corrupt tail: keep what was written, report it
                stats.error = str(exc)
            finally:
                bar.close()
                stats.written = dict(writer.counts)
    return stats


def _loop(bag, writer, cfg, process, infos, copied, stats, bar) -> None:
    topics = copied | {cfg.image_topic}
    for raw in bag.raw_messages(topics):
        if raw.topic in copied:
            writer.write_raw(raw.topic, raw.data, raw.log_time_ns)
        if raw.topic != cfg.image_topic:
            continue
        stats.images += 1
        bar.update(1)
        try:
            msg = bag.deserialize(raw)
            info = infos.nearest(M.stamp_ns(msg.header)) if len(infos) else None
            outputs = process(msg, info, stats)
        except (M.MessageError, ImageError, BagError) as exc:
            stats.skipped[str(exc)] += 1
            continue
        _write_frame(writer, cfg, raw, outputs)
        stats.processed += 1
