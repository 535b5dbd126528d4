"""What the depth node does to one frame, without rclpy plumbing: messages in, library calls, messages out.

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

from adu_depth_core.runtime import colormap, geometry
from adu_depth_core.runtime.intrinsics import scale_intrinsics, scale_projection
from adu_depth_core.runtime.preprocess import resize_image
from adu_depth_core.scale import GroundScaler, ScaleState, apply_scale
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
    """Any supported input message -> HxWx3 uint8 RGB (raises ConversionError; too large: refused undecoded)."""
    if isinstance(msg, CompressedImage):
        return conv.compressed_to_rgb(msg, max_pixels)
    return conv.image_to_rgb(msg, max_pixels)


def output_header(msg_header: Header, cfg: DepthNodeConfig) -> Header:
    """The input image's header (stamp and frame_id) unchanged, unless frame_id is overridden."""
    return Header(stamp=msg_header.stamp, frame_id=cfg.frame_id or msg_header.frame_id)


def intrinsics_for(
    info: conv.Intrinsics, image_hw: tuple[int, int], out_hw: tuple[int, int]
) -> conv.Intrinsics:
    """camera_info intrinsics (checked against the image size) rescaled to the published size."""
    if (info.height, info.width) != image_hw:
        raise conv.ConversionError(
            f"camera_info is {info.height}x{info.width} (HxW) but the image is {image_hw[0]}x{image_hw[1]}; "
            "publish the camera_info that belongs to this image (after any resize/crop)"
        )
    K = scale_intrinsics(info.K, image_hw, out_hw)
    P = scale_projection(info.P, image_hw, out_hw)
    return conv.Intrinsics(out_hw[1], out_hw[0], K, P)


class FrameProcessor:
    """Runs one frame through the estimator and builds the wanted output messages."""

    def __init__(self, estimator: Any, infos: CameraInfoCache, ground_prior=None) -> None:
        self.estimator = estimator
        self.infos = infos
        self.ground_prior = ground_prior  # frame_id -> GroundPrior | reason (TF), or None: parameters
        self.scaler: GroundScaler | None = None  # one per model: a reload makes a new processor

    def run(self, msg: Image | CompressedImage, cfg: DepthNodeConfig, wanted: frozenset[str]) -> FrameResult:
        """Convert, infer, publish-ready messages; raises ConversionError for a bad image."""
        res = FrameResult()
        t0 = time.perf_counter()
        rgb = to_rgb(msg, cfg.max_input_pixels)
        t1 = time.perf_counter()
        image_hw = rgb.shape[:2]
        info = self._camera_info(msg, image_hw, res)
        pred = self.estimator.infer(
            rgb,
            output="input" if cfg.output_resolution == "camera" else "network",
            K=None if info is None else info[1].K,
        )
        out_hw = pred.depth_m.shape[:2]
        if pred.fx_px is not None:
            res.notes.update(fx_px=f"{pred.fx_px:.2f}", fx_source=pred.fx_source)
        t2 = time.perf_counter()
        res.timings_ms.update(convert=1e3 * (t1 - t0), infer=1e3 * (t2 - t1))
        res.timings_ms.update({f"infer_{k}": float(v) for k, v in pred.timings_ms.items() if k != "total"})
        header = output_header(msg.header, cfg)
        need_intr = wanted & {"camera_info", "points"} or cfg.scale_mode != "none"
        intr = self._intrinsics(info, image_hw, out_hw, res) if need_intr else None
        depth_m, sigma_m = pred.depth_m, pred.sigma_m
        if cfg.scale_mode != "none":
            t_scale = time.perf_counter()
            depth_m, sigma_m = self._scale(depth_m, sigma_m, intr, header.frame_id, cfg, res)
            res.timings_ms["scale"] = 1e3 * (time.perf_counter() - t_scale)
        depth_m, sigma_m = geometry.valid_depth_range(depth_m, sigma_m, cfg.min_depth_m, cfg.max_depth_m)
        self._images(res, depth_m, sigma_m, header, cfg, wanted)
        if intr is not None and "camera_info" in wanted:
            res.messages["camera_info"] = conv.intrinsics_to_camera_info(intr[0], intr[1], header)
        if intr is not None and "points" in wanted:
            t3 = time.perf_counter()
            colour = (rgb if out_hw == image_hw else resize_image(rgb, *out_hw)) if cfg.points_color else None
            res.messages["points"] = self._points(depth_m, sigma_m, intr[1].K, colour, header, cfg)
            res.timings_ms["points"] = 1e3 * (time.perf_counter() - t3)
        res.timings_ms["build"] = 1e3 * (time.perf_counter() - t2)
        return res

    def _scale(self, depth_m, sigma_m, intr, frame_id: str, cfg: DepthNodeConfig, res: FrameResult):
        """Ground-plane metric scale (depth and sigma alike); without intrinsics the last scale is kept."""
        scale_cfg = cfg.scale_config()
        if self.scaler is None or self.scaler.config != scale_cfg:
            self.scaler = GroundScaler(scale_cfg)  # new mounting or settings: start the filter afresh
        prior = self.ground_prior(frame_id) if self.ground_prior is not None else None
        if isinstance(prior, str):
            res.problems.append(("tf", f"{prior}; using camera_height_m/pitch/roll"))
            prior = None
        if intr is None:
            res.scale = self.scaler.hold("no usable camera_info to back-project the depth")
        else:
            res.scale = self.scaler.update(depth_m, intr[1].K, frame_id, prior)
        return apply_scale(depth_m, sigma_m, res.scale.scale)

    def _camera_info(self, msg, image_hw, res: FrameResult) -> tuple[CameraInfo, conv.Intrinsics] | None:
        """The image's camera_info (its fx sets a camera-aware model's metric scale), None if it has none."""
        found = self.infos.lookup(msg.header.stamp, image_hw)
        if found is None:
            res.problems.append(
                (
                    "camera_info",
                    "no valid camera_info received yet; depth assumes the model's canonical camera, "
                    "depth/camera_info and points wait for one",
                )
            )
            return None
        if (found[1].height, found[1].width) != tuple(image_hw):
            res.problems.append(
                (
                    "camera_info",
                    f"camera_info is {found[1].width}x{found[1].height} but the image is "
                    f"{image_hw[1]}x{image_hw[0]}; depth assumes the model's canonical camera - publish the "
                    "camera_info that belongs to this image (after any resize/crop)",
                )
            )
            return None
        return found

    def _intrinsics(
        self, found, image_hw, out_hw, res: FrameResult
    ) -> tuple[CameraInfo, conv.Intrinsics] | None:
        if found is None:
            return None
        try:
            return found[0], intrinsics_for(found[1], image_hw, out_hw)
        except conv.ConversionError as exc:
            res.problems.append(("camera_info", str(exc)))
            return None

    @staticmethod
    def _images(res: FrameResult, depth_m, sigma_m, header: Header, cfg: DepthNodeConfig, wanted) -> None:
        if "depth" in wanted:
            res.messages["depth"] = conv.depth_image(depth_m, header, cfg.depth_encoding)
        if "uncertainty" in wanted:
            res.messages["uncertainty"] = conv.numpy_to_image(sigma_m, "32FC1", header)
        if "color" in wanted:
            fixed = cfg.color_max_depth_m > 0  # else the per-frame percentile range
            lo, hi = (cfg.color_min_depth_m, cfg.color_max_depth_m) if fixed else (None, None)
            res.messages["color"] = conv.numpy_to_image(
                colormap.colorize_depth(depth_m, lo, hi), "rgb8", header
            )

    @staticmethod
    def _points(depth_m, sigma_m, K, colour, header: Header, cfg: DepthNodeConfig):
        """depth_image_proc-style organised/strided cloud, uncertainty-filtered, via the library."""
        ratio = geometry.sigma_limit_ratio(depth_m, sigma_m, cfg.max_sigma_m, cfg.max_relative_sigma)
        xyz = geometry.backproject(depth_m, K, cfg.points_stride, ratio, None if ratio is None else 1.0)
        s = cfg.points_stride
        points = geometry.to_point_array(xyz, None if colour is None else colour[::s, ::s])
        return conv.point_cloud(points, header)
