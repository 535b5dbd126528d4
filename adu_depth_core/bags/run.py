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
from adu_depth_core.recipe import OUTPUTS, FrameArrays, FrameRecipe, RecipeConfig, message_plan, output_topic
from adu_depth_core.runtime.preprocess import ImageError

log = logging.getLogger(__name__)


@dataclass
class BagRunConfig:
    """What bag-run reads and writes; ``outputs`` holds the node's output settings (config/depth.yaml)."""

    image_topic: str
    camera_info_topic: str | None = None  # None: '<image topic's namespace>/camera_info' when present
    namespace: str = ""  # output namespace, like the launch file's 'namespace' argument
    points: bool = False
    color: bool = False
    frame_id: str = ""  # override of the outputs' frame_id; empty = the input image's
    copy_inputs: bool = True
    storage: str = "mcap"
    outputs: RecipeConfig = field(default_factory=RecipeConfig)  # the frame recipe's settings
    max_input_pixels: int = DEFAULT_MAX_INPUT_PIXELS  # larger frames are skipped undecoded; 0 = no limit

    @property
    def wanted(self) -> frozenset[str]:
        """The outputs this run writes."""
        extra = {"points"} if self.points else set()
        return frozenset(
            {"depth", "uncertainty", "camera_info"} | extra | ({"color"} if self.color else set())
        )


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


def to_messages(arrays: FrameArrays, template: Any | None, header: Any) -> dict[str, Any]:
    """Wrap the recipe's arrays into rosbags messages, as the node wraps them into rclpy ones."""
    out: dict[str, Any] = {}
    for name, arr, encoding in message_plan(arrays):
        out[name] = (
            M.pointcloud_msg(arr, header) if encoding == "points" else M.image_msg(arr, encoding, header)
        )
    if arrays.camera is not None and template is not None:
        out["camera_info"] = M.rescaled_camera_info(
            template, arrays.camera.height, arrays.camera.width, header
        )
    return out


class FrameOutputs:
    """One image (+ its camera_info) -> {output name: rosbags message} through the node's frame recipe."""

    def __init__(self, estimator: Any, cfg: BagRunConfig) -> None:
        self.cfg = cfg
        self.recipe = FrameRecipe(estimator)

    def __call__(self, image_msg: Any, info_msg: Any | None, stats: RunStats) -> dict[str, Any]:
        rgb = M.image_to_rgb(image_msg, self.cfg.max_input_pixels)
        camera = None
        if info_msg is not None:
            try:
                camera = M.camera_info_to_intrinsics(info_msg)
            except M.MessageError as exc:
                stats.problems[f"camera_info unusable: {exc}"] += 1
        frame_id = self.cfg.frame_id or image_msg.header.frame_id
        arrays = self.recipe.run(rgb, camera, self.cfg.outputs, self.cfg.wanted, frame_id)
        for _, message in arrays.problems:
            stats.problems[message] += 1
        stats.timings_ms.update(arrays.timings_ms)
        if arrays.scale is not None:
            stats.scales.append(arrays.scale.scale)
            stats.scales_used += arrays.scale.used
        header = M.make_header(M.stamp_ns(image_msg.header), frame_id)
        return to_messages(arrays, info_msg, header)


def _default_info_topic(bag: BagReader, image_topic: str) -> str | None:
    parent = image_topic.rstrip("/").rsplit("/", 1)[0]
    if image_topic.endswith("/compressed"):
        parent = parent.rsplit("/", 1)[0]
    candidate = f"{parent}/camera_info"
    found = bag.topics.get(candidate)
    return candidate if found is not None and found.msgtype == "sensor_msgs/msg/CameraInfo" else None


def _resolve_topics(bag: BagReader, cfg: BagRunConfig) -> str | None:
    """Check the input topics; returns the camera_info topic to use (or None)."""
    bag.require(cfg.image_topic, IMAGE_TYPES, role="image topic")
    info_topic = cfg.camera_info_topic
    if info_topic:
        bag.require(info_topic, ["sensor_msgs/msg/CameraInfo"], role="camera_info topic")
    else:
        info_topic = _default_info_topic(bag, cfg.image_topic)
    if info_topic is None and cfg.outputs.scale.enabled:
        raise BagError(
            f"--scale-mode {cfg.outputs.scale.mode} needs camera_info: none found next to '{cfg.image_topic}'; "
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


def _write_frame(writer: BagWriter, cfg: BagRunConfig, raw: RawMessage, outputs: dict[str, Any]) -> None:
    for name, msg in outputs.items():
        writer.write(output_topic(cfg.namespace, name), msg, raw.log_time_ns)


def run_bag(
    bag_path: str | os.PathLike,
    estimator: Any,
    out_path: str | os.PathLike,
    cfg: BagRunConfig,
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
            out_topics = {output_topic(cfg.namespace, n) for n in OUTPUTS}
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
