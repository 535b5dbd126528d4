"""One camera stream's metric scale: per-frame ground-plane scale, temporal filter, camera-change reset.

    scaler = GroundScaler(ScaleConfig(mode="ground_plane", camera_height_m=1.65))
    state = scaler.update(depth_m, K, camera_key="cam_optical_frame")
    depth_m, sigma_m = apply_scale(depth_m, sigma_m, state.scale)

Depth and its standard deviation are multiplied by the same factor, so sigma
stays the uncertainty of the published depth (and the point cloud, built from
the scaled depth, follows). Before the first frame with visible ground the
scale is 1 (the network's own metric scale); afterwards a frame that cannot be
used keeps the last filtered scale, and ``state.reason`` says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adu_depth_core.scale.ground_plane import FitOptions, FrameScale, GroundPrior, frame_scale
from adu_depth_core.scale.temporal import ScaleFilter

SCALE_MODES = ("none", "ground_plane")
# ScaleConfig field -> the name of the node parameter and of the CLI option's argparse dest
SETTING_NAMES = {
    "mode": "scale_mode",
    "camera_height_m": "camera_height_m",
    "camera_pitch_deg": "camera_pitch_deg",
    "camera_roll_deg": "camera_roll_deg",
    "window": "scale_window",
    "min_confidence": "scale_min_confidence",
}


@dataclass(frozen=True)
class ScaleConfig:
    """How depth gets its metric scale: 'none' (the network's) or 'ground_plane' (camera height)."""

    mode: str = "none"
    camera_height_m: float = 1.65
    camera_pitch_deg: float = 0.0  # > 0: looking down
    camera_roll_deg: float = 0.0  # > 0: right side lower
    window: int = 1  # trimmed mean over this many accepted frames; 1 = each frame (outliers still gated)
    min_confidence: float = 0.5

    def __post_init__(self) -> None:
        if self.mode not in SCALE_MODES:
            raise ValueError(f"scale mode '{self.mode}' is not one of {', '.join(SCALE_MODES)}")
        if self.mode != "none" and not self.camera_height_m > 0:
            raise ValueError(
                f"camera_height_m must be > 0 for ground-plane scale, got {self.camera_height_m}"
            )
        if self.window < 1:
            raise ValueError(f"scale window must be >= 1, got {self.window}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {self.min_confidence}")

    @classmethod
    def from_settings(cls, settings: object) -> ScaleConfig:
        """From node parameters or parsed CLI options (the names in SETTING_NAMES); absent ones keep defaults."""
        return cls(**{f: getattr(settings, n) for f, n in SETTING_NAMES.items() if hasattr(settings, n)})

    @property
    def enabled(self) -> bool:
        return self.mode != "none"

    def prior(self) -> GroundPrior:
        """The ground prior of these mounting parameters."""
        return GroundPrior.from_angles(self.camera_height_m, self.camera_pitch_deg, self.camera_roll_deg)

    def fit_options(self) -> FitOptions:
        return FitOptions(min_confidence=self.min_confidence)


@dataclass(frozen=True)
class ScaleState:
    """What to apply to this frame and why: the applied scale, this frame's own verdict, filter use."""

    scale: float  # applied to depth and sigma
    frame: FrameScale  # this frame's estimate (scale NaN when no plane)
    used: bool  # the frame's scale entered the filter
    reason: str

    def as_notes(self) -> dict[str, str]:
        """Key/value strings for diagnostics."""
        return {
            "scale_applied": f"{self.scale:.4f}",
            "scale_frame": f"{self.frame.scale:.4f}",
            "scale_confidence": f"{self.frame.confidence:.2f}",
            "scale_used": "true" if self.used else "false",
            "scale_reason": self.reason,
        }


def apply_scale(depth_m: np.ndarray, sigma_m: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Depth and sigma both times ``scale`` (float32), so sigma stays consistent with depth."""
    s = np.float32(scale)
    return (depth_m * s).astype(np.float32, copy=False), (sigma_m * s).astype(np.float32, copy=False)


def camera_key(K: np.ndarray, shape: tuple[int, int], frame_id: str = "") -> tuple:
    """What identifies a camera for the filter: frame_id, image size and K to 0.1 % of fx."""
    K = np.asarray(K, dtype=np.float64).reshape(3, 3)
    q = max(K[0, 0], 1e-9) * 1e-3
    return (frame_id, tuple(shape), tuple(np.round(K[:2].ravel() / q).astype(np.int64).tolist()))


class GroundScaler:
    """Stateful scale of one stream; ``reset`` on model reload; a new camera key resets by itself."""

    def __init__(self, config: ScaleConfig) -> None:
        self.config = config
        self.filter = ScaleFilter(config.window)
        self._key: tuple | None = None
        self.last: ScaleState | None = None

    def reset(self) -> None:
        self.filter.reset()
        self._key = None

    def update(
        self, depth_m: np.ndarray, K: np.ndarray, frame_id: str = "", prior: GroundPrior | None = None
    ) -> ScaleState:
        """Estimate this frame's scale (``K`` of ``depth_m``'s size) and return the scale to apply.

        ``prior`` overrides the config's mounting (e.g. read from TF).
        """
        key = camera_key(K, depth_m.shape, frame_id)
        changed = self._key is not None and key != self._key
        if changed:
            self.filter.reset()
        self._key = key
        est = frame_scale(depth_m, K, prior or self.config.prior(), self.config.fit_options())
        accepted = est.used and self.filter.update(est.scale)
        if accepted:
            reason = "ok"
        elif est.used:
            reason = f"kept the previous scale: this frame's {est.scale:.3f} is an outlier"
        else:
            reason = f"kept the previous scale: {est.reason}"
        if changed:
            reason = f"camera changed, filter reset; {reason}"
        return self._state(est, accepted, reason)

    def hold(self, reason: str) -> ScaleState:
        """A frame that cannot be measured (no intrinsics): keep the filtered scale."""
        return self._state(FrameScale(float("nan"), 0.0, False, reason), False, reason)

    def _state(self, est: FrameScale, accepted: bool, reason: str) -> ScaleState:
        held = self.filter.value
        if held is None:
            reason = f"no ground seen yet, scale 1: {reason}"
        self.last = ScaleState(1.0 if held is None else held, est, accepted, reason)
        return self.last
