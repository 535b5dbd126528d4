"""Camera intrinsics between image sizes (pure numpy; used by the runtime, the node and bag tools).

Convention: pixel centres sit at integer coordinates and a resize maps pixel
*edges* onto each other (what ``cv2.resize`` and every image resize do), so a
continuous coordinate ``u`` becomes ``(u + 0.5) * s - 0.5`` with ``s = new / old``.
Hence ``fx' = s_x fx`` and ``cx' = (cx + 0.5) s_x - 0.5`` (likewise for y).
image_proc's resize uses ``cx' = s_x cx``, which is off by ``(s_x - 1) / 2``
pixels; the difference is below half a pixel for downscaling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


class IntrinsicsError(ValueError):
    """Camera intrinsics that cannot describe a pinhole camera (zeros, NaN, wrong shape)."""


def make_K(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """3x3 float64 pinhole matrix from focal lengths and principal point (pixels)."""
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]], dtype=np.float64)


def check_K(K: np.ndarray | Sequence[float]) -> np.ndarray:
    """Return K as a 3x3 float64 array; raise IntrinsicsError if it is not a usable pinhole matrix."""
    K = np.asarray(K, dtype=np.float64)
    if K.size != 9:
        raise IntrinsicsError(f"K must have 9 values (3x3), got shape {K.shape}")
    K = K.reshape(3, 3)
    if not np.all(np.isfinite(K)):
        raise IntrinsicsError(f"K contains NaN or inf: {K.ravel().tolist()}")
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise IntrinsicsError(
            f"K has non-positive focal length (fx={K[0, 0]}, fy={K[1, 1]}); "
            "the camera is uncalibrated (camera_info with zeros?) - calibrate it or pass fx/fy"
        )
    return K


def _scales(src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> tuple[float, float]:
    (sh, sw), (dh, dw) = src_hw, dst_hw
    if min(sh, sw, dh, dw) <= 0:
        raise IntrinsicsError(f"image sizes must be positive, got {src_hw} -> {dst_hw}")
    return dw / sw, dh / sh


def _resize_matrix(src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> np.ndarray:
    """3x3 map from pixel coordinates of the source image to those of the resized one."""
    sx, sy = _scales(src_hw, dst_hw)
    return np.array([[sx, 0.0, 0.5 * (sx - 1.0)], [0.0, sy, 0.5 * (sy - 1.0)], [0.0, 0.0, 1.0]])


def scale_intrinsics(K: np.ndarray, src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> np.ndarray:
    """K of an image of size ``src_hw`` (h, w) -> K of the same image resized to ``dst_hw``."""
    K = check_K(K)
    return _resize_matrix(src_hw, dst_hw) @ K


def scale_projection(P: np.ndarray, src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> np.ndarray:
    """3x4 projection matrix (CameraInfo P, including the stereo Tx/Ty terms) -> resized image."""
    P = np.asarray(P, dtype=np.float64)
    if P.size != 12:
        raise IntrinsicsError(f"P must have 12 values (3x4), got shape {P.shape}")
    return _resize_matrix(src_hw, dst_hw) @ P.reshape(3, 4)


def scale_camera_info(
    k: Sequence[float], p: Sequence[float] | None, src_hw: tuple[int, int], dst_hw: tuple[int, int]
) -> tuple[list[float], list[float] | None]:
    """CameraInfo-style flat ``k`` (9) and ``p`` (12, or None/all zeros) -> flat lists for ``dst_hw``.

    Distortion ``d`` and rectification ``r`` do not change with image size.
    """
    k_out = scale_intrinsics(np.asarray(k), src_hw, dst_hw).ravel().tolist()
    if p is None or not np.any(np.asarray(p, dtype=np.float64)):
        return k_out, None if p is None else [0.0] * 12
    return k_out, scale_projection(np.asarray(p), src_hw, dst_hw).ravel().tolist()


@dataclass(frozen=True)
class Intrinsics:
    """A CameraInfo reduced to the pinhole model: image size, K 3x3 and P 3x4 (float64, pixels)."""

    width: int
    height: int
    K: np.ndarray
    P: np.ndarray

    @property
    def baseline_m(self) -> float:
        """Stereo baseline from P (ROS: ``P[0, 3] = -fx * baseline``); 0 for a left/mono camera."""
        return float(-self.P[0, 3] / self.P[0, 0])


def intrinsics_from_camera_info(
    width: int, height: int, k: Sequence[float], p: Sequence[float]
) -> Intrinsics:
    """Validate CameraInfo fields (size, K, P; an all-zero P means 'use K') -> Intrinsics, else IntrinsicsError."""
    if width == 0 or height == 0:
        raise IntrinsicsError(f"camera_info has zero size ({height}x{width} HxW); is the camera calibrated?")
    try:
        K = check_K(k)
    except IntrinsicsError as exc:
        raise IntrinsicsError(f"camera_info K is unusable: {exc}") from None
    P = np.asarray(p, dtype=np.float64).reshape(3, 4)
    if not P.any():  # raw cameras often leave P unset: use K
        P = np.hstack([K, np.zeros((3, 1))])
    elif not np.isfinite(P).all() or P[0, 0] <= 0 or P[1, 1] <= 0:
        raise IntrinsicsError(
            f"camera_info P is unusable (NaN/inf or non-positive focal length: {P.ravel().tolist()}); "
            "recalibrate or leave P all zeros"
        )
    return Intrinsics(int(width), int(height), K, P)


def network_focal_px(fx_px: float, image_width: int, network_width: int) -> float:
    """fx of an image ``image_width`` pixels wide once resized to ``network_width`` (as scale_intrinsics)."""
    return float(fx_px) * network_width / image_width


def canonical_depth_scale(canonical_focal_px: float | None, fx_network_px: float | None) -> float:
    """Factor from a canonical-camera network's depth to metres: fx_network / f_canonical (1 if either is None)."""
    if canonical_focal_px is None or fx_network_px is None:
        return 1.0
    if not np.isfinite(fx_network_px) or fx_network_px <= 0:
        raise IntrinsicsError(f"focal length must be a positive number of pixels, got {fx_network_px}")
    return float(fx_network_px) / float(canonical_focal_px)
