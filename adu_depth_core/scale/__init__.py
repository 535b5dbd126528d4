"""Metric scale from the camera mounting: ground-plane scale per frame and a steady scale over time.

Pure numpy (no torch, no rclpy); used by the depth node, ``adu-depth infer``,
``bag-run``, ``bag-eval`` and ``eval``. See docs/ground_scale.md.
"""

from adu_depth_core.scale.ground_plane import (
    FitOptions,
    FrameScale,
    GroundPrior,
    PlaneFit,
    fit_ground_plane,
    frame_scale,
    up_normal,
)
from adu_depth_core.scale.scaler import SCALE_MODES, GroundScaler, ScaleConfig, ScaleState, apply_scale
from adu_depth_core.scale.temporal import ScaleFilter

__all__ = [
    "SCALE_MODES",
    "FitOptions",
    "FrameScale",
    "GroundPrior",
    "GroundScaler",
    "PlaneFit",
    "ScaleConfig",
    "ScaleFilter",
    "ScaleState",
    "apply_scale",
    "fit_ground_plane",
    "frame_scale",
    "up_normal",
]
