"""One frame, arrays in and arrays out: what the depth node and ``bag-run`` both do to an image.

    recipe = FrameRecipe(estimator)
    out = recipe.run(rgb, camera, cfg, wanted={"depth", "points"}, frame_id="cam")
    out.arrays["depth"], out.camera, out.problems, out.notes, out.timings_ms

``camera`` is the image's camera_info as ``Intrinsics`` (or None). It is checked
against the image size *before* inference, and its K sets a camera-aware model's
metric scale; missing or mismatched, the canonical camera is assumed and that is
reported as a problem. Then, in order: the ground-plane scale stage
(``cfg.scale``), depth clipping to [min_depth_m, max_depth_m], and only the
outputs in ``wanted``. Arrays live in buffers reused by the next ``run``: wrap
them into messages (which copies) before calling ``run`` again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import adu_depth_core.recipe.kernels as kernels
from adu_depth_core.recipe.outputs import OUTPUTS, RecipeConfig
from adu_depth_core.runtime import colormap
from adu_depth_core.runtime.intrinsics import Intrinsics, scale_intrinsics, scale_projection
from adu_depth_core.runtime.preprocess import resize_image
from adu_depth_core.scale import GroundPrior, GroundScaler, ScaleState

NO_CAMERA = (
    "no valid camera_info for this image; depth assumes the model's canonical camera, "
    "depth/camera_info and points wait for one"
)
# frame_id -> a ground prior (e.g. from TF), a reason why there is none, or None (use cfg.scale's mounting)
GroundPriorSource = Callable[[str], "GroundPrior | str | None"]


@dataclass
class FrameArrays:
    """The outputs of one frame as arrays (by output name), plus what to report."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # depth, uncertainty, color, points
    camera: Intrinsics | None = None  # the depth image's camera (camera_info output), None without one
    timings_ms: dict[str, float] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (category, message)
    notes: dict[str, str] = field(default_factory=dict)  # fx_px / fx_source, sigma summary, for diagnostics
    scale: ScaleState | None = None


def message_plan(arrays: FrameArrays) -> list[tuple[str, np.ndarray, str]]:
    """(output name, array, encoding) per array output, in the order made; 'points' for the cloud."""
    plan = []
    for name, arr in arrays.arrays.items():
        if name in ("points", "color"):
            plan.append((name, arr, "points" if name == "points" else "rgb8"))
        else:
            plan.append((name, arr, "16UC1" if arr.dtype == np.uint16 else "32FC1"))
    return plan


def check_camera(camera: Intrinsics | None, image_hw: tuple[int, int]) -> tuple[Intrinsics | None, str]:
    """The camera if it belongs to an image of ``image_hw``, else (None, why not)."""
    if camera is None:
        return None, NO_CAMERA
    if (camera.height, camera.width) != tuple(image_hw):
        return None, (
            f"camera_info is {camera.height}x{camera.width} (HxW) but the image is {image_hw[0]}x{image_hw[1]}; "
            "depth assumes the model's canonical camera - publish the camera_info that belongs to this "
            "image (after any resize/crop); no depth/camera_info or points for it"
        )
    return camera, ""


def resized_camera(camera: Intrinsics, out_hw: tuple[int, int]) -> Intrinsics:
    """The camera of the image resized to ``out_hw`` (K and P rescaled)."""
    src = (camera.height, camera.width)
    if src == tuple(out_hw):
        return camera
    return Intrinsics(
        out_hw[1], out_hw[0], scale_intrinsics(camera.K, src, out_hw), scale_projection(camera.P, src, out_hw)
    )


class FrameRecipe:
    """Runs frames through an estimator and builds the wanted outputs; keeps the scale filter and buffers."""

    def __init__(self, estimator: Any, ground_prior: GroundPriorSource | None = None) -> None:
        self.estimator = estimator
        self.ground_prior = ground_prior
        self.scaler: GroundScaler | None = None
        self.buf = kernels.Buffers()
        self.cloud = kernels.CloudBuilder()

    def run(
        self,
        rgb: np.ndarray,
        camera: Intrinsics | None,
        cfg: RecipeConfig,
        wanted: Iterable[str] = tuple(OUTPUTS),
        frame_id: str = "",
    ) -> FrameArrays:
        """Infer and build the ``wanted`` outputs of one H x W x 3 uint8 RGB image."""
        wanted = frozenset(wanted)
        out = FrameArrays()
        t0 = time.perf_counter()
        image_hw = rgb.shape[:2]
        camera, why = check_camera(camera, image_hw)
        if why:
            out.problems.append(("camera_info", why))
        pred = self.estimator.infer(rgb, output=cfg.infer_output, K=None if camera is None else camera.K)
        if pred.fx_px is not None:
            out.notes.update(fx_px=f"{pred.fx_px:.2f}", fx_source=pred.fx_source)
        t1 = time.perf_counter()
        out.timings_ms["infer"] = 1e3 * (t1 - t0)
        out.timings_ms.update({f"infer_{k}": float(v) for k, v in pred.timings_ms.items() if k != "total"})
        out_hw = pred.depth_m.shape[:2]
        out.camera = None if camera is None else resized_camera(camera, out_hw)
        scale = self._scale(pred.depth_m, out.camera, cfg, frame_id, out) if cfg.scale.enabled else 1.0
        t2 = time.perf_counter()
        depth, sigma, invalid = kernels.clip_depth_range(
            self.buf, pred.depth_m, pred.sigma_m, cfg.min_depth_m, cfg.max_depth_m, scale
        )
        self._images(out, depth, sigma, invalid, cfg, wanted)
        out.notes.update(kernels.uncertainty_summary(depth, sigma, cfg.max_relative_sigma))
        t3 = time.perf_counter()
        out.timings_ms["images"] = 1e3 * (t3 - t2)
        if "points" in wanted and out.camera is not None:
            colour = None
            if cfg.points_color:
                colour = rgb if out_hw == image_hw else resize_image(rgb, *out_hw)
            out.arrays["points"] = self.cloud.build(
                depth, sigma, out.camera.K, cfg.points_stride, cfg.max_sigma_m, cfg.max_relative_sigma, colour
            )
            out.timings_ms["points"] = 1e3 * (time.perf_counter() - t3)
        if "camera_info" not in wanted:
            out.camera = None
        out.timings_ms["build"] = 1e3 * (time.perf_counter() - t1)
        return out

    def _scale(self, depth_m, camera: Intrinsics | None, cfg: RecipeConfig, frame_id: str, out) -> float:
        """Ground-plane metric scale of this frame (the last one held without a camera)."""
        t = time.perf_counter()
        if self.scaler is None or self.scaler.config != cfg.scale:
            self.scaler = GroundScaler(cfg.scale)  # new mounting or settings: start the filter afresh
        prior = self.ground_prior(frame_id) if self.ground_prior is not None else None
        if isinstance(prior, str):
            out.problems.append(("tf", f"{prior}; using camera_height_m/pitch/roll"))
            prior = None
        if camera is None:
            out.scale = self.scaler.hold("no usable camera_info to back-project the depth")
        else:
            out.scale = self.scaler.update(depth_m, camera.K, frame_id, prior)
        out.timings_ms["scale"] = 1e3 * (time.perf_counter() - t)
        return out.scale.scale

    def _images(self, out: FrameArrays, depth, sigma, invalid, cfg: RecipeConfig, wanted) -> None:
        if "depth" in wanted:
            mm = cfg.depth_encoding == "16UC1"
            out.arrays["depth"] = kernels.depth_to_mm_into(self.buf, depth, invalid) if mm else depth
        if "uncertainty" in wanted:
            out.arrays["uncertainty"] = sigma
        if "color" in wanted:
            fixed = cfg.color_max_depth_m > 0
            lo, hi = (cfg.color_min_depth_m, cfg.color_max_depth_m) if fixed else colormap.value_range(depth)
            out.arrays["color"] = kernels.colorize_into(self.buf, depth, invalid, lo, hi, reverse=True)
