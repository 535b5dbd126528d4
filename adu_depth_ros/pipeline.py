"""What the depth node does to one frame: message in, the core frame recipe, messages out.

Also the two small pieces of state the node keeps between frames: the
newest-frame slot (inference never queues) and the camera_info cache.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from adu_depth_core.recipe import FrameArrays, FrameRecipe, RecipeConfig, message_plan
from adu_depth_core.scale import ScaleState
from adu_depth_ros import conversions as conv
from adu_depth_ros.params import DepthNodeConfig


@dataclass
class Frame:
    """An input message and when it arrived (monotonic seconds)."""

    msg: Image | CompressedImage
    received_s: float


class FrameSlot:
    """Holds only the newest frame: ``put`` replaces an untaken frame (a drop), ``take`` waits for one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._closed = False

    def put(self, frame: Frame) -> bool:
        """Store ``frame``; True if it replaced a frame the worker had not taken (that one is dropped)."""
        with self._cond:
            dropped = self._frame is not None
            self._frame = frame
            self._cond.notify()
            return dropped

    def take(self, timeout_s: float | None = None) -> Frame | None:
        """The newest frame (and empty the slot), or None after ``timeout_s`` or once closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._frame is not None or self._closed, timeout=timeout_s)
            frame, self._frame = self._frame, None
            return None if self._closed else frame

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


class CameraInfoCache:
    """Recent valid camera_infos by stamp; lookup matches the image stamp, else the latest.

    An image and its camera_info travel on two topics, so either can arrive first.
    When the latest camera_info cannot serve an image (none yet, or another size,
    as when a camera switches resolution), lookup waits up to ``wait_s`` for the one
    with the image's stamp; otherwise it never waits, so normal frames pay nothing.
    A wait that times out is remembered for that image size, so a camera whose
    camera_info never fits (or never comes) costs one wait, not one per frame.
    """

    def __init__(self, size: int = 16, wait_s: float = 1.0) -> None:
        self._items: OrderedDict[tuple[int, int], tuple[CameraInfo, conv.Intrinsics]] = OrderedDict()
        self._size = size
        self._wait_s = wait_s
        self._gave_up_hw: tuple[int, int] | None = None  # image size whose last wait timed out
        self._cond = threading.Condition()

    def add(self, msg: CameraInfo) -> None:
        """Validate and store; raises ConversionError for zeros/NaN (the cache keeps the previous ones)."""
        intr = conv.camera_info_to_intrinsics(msg)
        key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        with self._cond:
            self._items.pop(key, None)
            self._items[key] = (msg, intr)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
            if (intr.height, intr.width) == self._gave_up_hw:
                self._gave_up_hw = None  # a fitting camera_info came after all: wait again next time
            self._cond.notify_all()

    def lookup(
        self, stamp, image_hw: tuple[int, int] | None = None
    ) -> tuple[CameraInfo, conv.Intrinsics] | None:
        """The camera_info stamped like the image, else the latest (waiting briefly if that would not fit)."""
        key = (stamp.sec, stamp.nanosec)

        def fits() -> bool:
            if key in self._items:
                return True
            latest = next(reversed(self._items.values()), None)
            return (
                latest is not None
                and image_hw is not None
                and (latest[1].height, latest[1].width) == image_hw
            )

        with self._cond:
            waited_in_vain = (
                not fits()
                and image_hw != self._gave_up_hw
                and not self._cond.wait_for(lambda: key in self._items, timeout=self._wait_s)
            )
            if waited_in_vain:
                self._gave_up_hw = image_hw
            if not self._items:
                return None
            return self._items.get(key) or next(reversed(self._items.values()))


@dataclass
class FrameResult:
    """Messages to publish (by output name), stage timings and problems to report."""

    messages: dict[str, Any] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # shown as is in diagnostics (e.g. the fx used)
    scale: ScaleState | None = None  # the metric scale applied (scale_mode ground_plane)


def to_rgb(msg: Image | CompressedImage, max_pixels: int = 0) -> np.ndarray:
    """Any supported input message -> HxWx3 uint8 RGB (raises ConversionError)."""
    if isinstance(msg, CompressedImage):
        return conv.compressed_to_rgb(msg, max_pixels)
    return conv.image_to_rgb(msg, max_pixels)


def output_header(msg_header: Header, cfg: DepthNodeConfig) -> Header:
    """The input image's header (stamp and frame_id) unchanged, unless frame_id is overridden."""
    return Header(stamp=msg_header.stamp, frame_id=cfg.frame_id or msg_header.frame_id)


def recipe_config(cfg: DepthNodeConfig) -> RecipeConfig:
    """The frame recipe's settings of the node's parameters (same names)."""
    return RecipeConfig.from_settings(cfg)


def to_messages(arrays: FrameArrays, template: CameraInfo | None, header: Header) -> dict[str, Any]:
    """Wrap the recipe's arrays into rclpy messages (the only ROS part of a frame)."""
    out: dict[str, Any] = {}
    for name, arr, encoding in message_plan(arrays):
        out[name] = (
            conv.point_cloud(arr, header)
            if encoding == "points"
            else conv.numpy_to_image(arr, encoding, header)
        )
    if arrays.camera is not None and template is not None:
        out["camera_info"] = conv.intrinsics_to_camera_info(template, arrays.camera, header)
    return out


class FrameProcessor:
    """Runs one frame through the shared frame recipe and wraps the wanted outputs into messages."""

    def __init__(self, estimator: Any, infos: CameraInfoCache, ground_prior=None) -> None:
        self.estimator = estimator
        self.infos = infos
        self.recipe = FrameRecipe(estimator, ground_prior)  # one per model: a reload makes a new processor
        self._recipe_cfg: tuple[DepthNodeConfig, RecipeConfig] | None = None

    def run(self, msg: Image | CompressedImage, cfg: DepthNodeConfig, wanted: frozenset[str]) -> FrameResult:
        """Convert, infer, publish-ready messages; raises ConversionError for a bad image."""
        res = FrameResult()
        t0 = time.perf_counter()
        rgb = to_rgb(msg, cfg.max_input_pixels)
        t1 = time.perf_counter()
        found = self.infos.lookup(msg.header.stamp, rgb.shape[:2])  # before inference: its K scales depth
        header = output_header(msg.header, cfg)
        arrays = self.recipe.run(
            rgb, None if found is None else found[1], self._config(cfg), wanted, header.frame_id
        )
        t2 = time.perf_counter()
        res.messages = to_messages(arrays, None if found is None else found[0], header)
        res.timings_ms.update(arrays.timings_ms)
        res.timings_ms.update(convert=1e3 * (t1 - t0), wrap=1e3 * (time.perf_counter() - t2))
        res.problems, res.notes, res.scale = arrays.problems, arrays.notes, arrays.scale
        return res

    def _config(self, cfg: DepthNodeConfig) -> RecipeConfig:
        """The recipe settings of ``cfg``, derived once per parameter change."""
        if self._recipe_cfg is None or self._recipe_cfg[0] is not cfg:
            self._recipe_cfg = (cfg, recipe_config(cfg))
        return self._recipe_cfg[1]
