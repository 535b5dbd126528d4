"""The per-frame output kernels, written into buffers that live across frames (float32 throughout).

Each kernel owns its buffers and reallocates them only when the frame size
changes, so a steady stream allocates nothing per frame except the message
bytes themselves. Results equal the reference functions in ``runtime.geometry``
and ``runtime.colormap`` (tested), only faster.
"""

from __future__ import annotations

import cv2
import numpy as np

from adu_depth_core.runtime import colormap
from adu_depth_core.runtime.geometry import point_dtype

NAN = np.float32(np.nan)


class Buffers:
    """Named arrays reused while their shape and dtype stay the same."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        """An array of ``shape`` and ``dtype`` under ``name`` (contents: whatever the last frame left)."""
        arr = self._arrays.get(name)
        if arr is None or arr.shape != tuple(shape) or arr.dtype != np.dtype(dtype):
            arr = self._arrays[name] = np.empty(shape, dtype=dtype)
        return arr


def clip_depth_range(
    buf: Buffers, depth_m: np.ndarray, sigma_m: np.ndarray, min_m: float, max_m: float, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(depth, sigma, invalid) in reused buffers: both times ``scale``, NaN outside [min_m, max_m] or non-finite.

    Same result as ``scale.apply_scale`` followed by ``geometry.valid_depth_range``.
    """
    shape = depth_m.shape
    depth, sigma = buf.get("depth", shape, np.float32), buf.get("sigma", shape, np.float32)
    bad, tmp = buf.get("invalid", shape, bool), buf.get("tmp_bool", shape, bool)
    np.multiply(depth_m, np.float32(scale), out=depth)
    np.multiply(sigma_m, np.float32(scale), out=sigma)
    with np.errstate(invalid="ignore"):
        np.greater_equal(depth, np.float32(min_m), out=bad)
        np.less_equal(depth, np.float32(max_m), out=tmp)
    np.logical_and(bad, tmp, out=bad)
    np.logical_not(bad, out=bad)
    np.copyto(depth, NAN, where=bad)
    np.copyto(sigma, NAN, where=bad)
    return depth, sigma, bad


def depth_to_mm_into(buf: Buffers, depth_m: np.ndarray, invalid: np.ndarray) -> np.ndarray:
    """REP 118 16UC1: millimetres, rounded, 0 where invalid or beyond 65.535 m (like image_encodings.depth_to_mm)."""
    mm = buf.get("mm_f", depth_m.shape, np.float32)
    np.multiply(depth_m, np.float32(1000.0), out=mm)
    np.rint(mm, out=mm)
    with np.errstate(invalid="ignore"):
        over = buf.get("tmp_bool", depth_m.shape, bool)
        np.greater(mm, np.float32(65535.0), out=over)
        np.logical_or(over, invalid, out=over)
    np.copyto(mm, np.float32(0.0), where=over)
    out = buf.get("mm", depth_m.shape, np.uint16)
    np.copyto(out, mm, casting="unsafe")
    return out


def colorize_into(
    buf: Buffers, values: np.ndarray, invalid: np.ndarray, lo: float, hi: float, reverse: bool
) -> np.ndarray:
    """H x W float32 -> H x W x 3 uint8 through the palette lookup table (``colormap.colorize``'s arithmetic)."""
    t = colormap.lut_indices(
        values, invalid, lo, hi, reverse, out=buf.get("color_t", values.shape, np.float32)
    )
    idx = buf.get("color_idx", values.shape, np.intp)
    np.copyto(idx, t, casting="unsafe")
    out = buf.get("color", values.shape + (3,), np.uint8)
    np.take(colormap._LUT_WITH_INVALID, idx, axis=0, out=out, mode="clip")  # "raise" buffers out
    return out


UNCERTAINTY_STRIDE = 4  # every 4th row and column: the summary costs well under a millisecond


def uncertainty_summary(depth: np.ndarray, sigma: np.ndarray, max_relative_sigma: float) -> dict[str, str]:
    """Diagnostics of one frame's uncertainty over its valid pixels (every UNCERTAINTY_STRIDE-th row and
    column): the median sigma / depth, and the share at or below ``max_relative_sigma`` (what the point
    cloud's relative filter keeps; left out when that filter is off); "none" without a valid pixel."""
    d = depth[::UNCERTAINTY_STRIDE, ::UNCERTAINTY_STRIDE]
    s = sigma[::UNCERTAINTY_STRIDE, ::UNCERTAINTY_STRIDE]
    with np.errstate(invalid="ignore"):
        ok = (d > 0) & np.isfinite(s)
    rel = s[ok] / d[ok]
    out = {"relative_sigma_median": f"{float(np.median(rel)):.3f}" if rel.size else "none"}
    if max_relative_sigma > 0:
        out["relative_sigma_kept"] = (
            f"{float(np.mean(rel <= max_relative_sigma)):.3f}" if rel.size else "none"
        )
    return out


class RayGrid:
    """Per-column (u - cx) / fx and per-row (v - cy) / fy of the sampled pixels, cached per K, size and stride."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self.x: np.ndarray = np.empty(0, np.float32)
        self.y: np.ndarray = np.empty((0, 1), np.float32)

    def get(self, K: np.ndarray, hw: tuple[int, int], stride: int) -> tuple[np.ndarray, np.ndarray]:
        fx, fy, cx, cy = (float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]))
        key = (fx, fy, cx, cy, tuple(hw), stride)
        if key != self._key:
            u = np.arange(0, hw[1], stride, dtype=np.float32)
            v = np.arange(0, hw[0], stride, dtype=np.float32)
            self.x = (u - np.float32(cx)) * np.float32(1.0 / fx)
            self.y = ((v - np.float32(cy)) * np.float32(1.0 / fy))[:, None]
            self._key = key
        return self.x, self.y


class CloudBuilder:
    """Organised x, y, z (+ packed rgb) cloud written straight into a reused structured array."""

    def __init__(self) -> None:
        self.rays = RayGrid()
        self.buf = Buffers()

    def build(
        self,
        depth_m: np.ndarray,
        sigma_m: np.ndarray,
        K: np.ndarray,
        stride: int = 1,
        max_sigma_m: float = 0.0,
        max_relative_sigma: float = 0.0,
        rgb: np.ndarray | None = None,
    ) -> np.ndarray:
        """(ceil(H/s), ceil(W/s)) structured float32 points; NaN where depth is invalid or sigma over a limit.

        Limits as ``geometry.sigma_limit_ratio``: sigma > max_sigma_m, or sigma > max_relative_sigma * depth
        (either 0 = off). The array is reused by the next call: wrap or copy it before then.
        """
        s = stride
        z, sig = depth_m[::s, ::s], sigma_m[::s, ::s]
        shape = z.shape
        pts = self.buf.get("rgb" if rgb is not None else "xyz", shape, point_dtype(rgb is not None))
        ok, tmp = self.buf.get("ok", shape, bool), self.buf.get("tmp", shape, bool)
        with np.errstate(invalid="ignore"):
            np.greater(z, np.float32(0.0), out=ok)  # False for NaN too
            if max_relative_sigma > 0:
                lim = self.buf.get("limit", shape, np.float32)
                np.multiply(z, np.float32(max_relative_sigma), out=lim)
                np.less_equal(sig, lim, out=tmp)
                np.logical_and(ok, tmp, out=ok)
            if max_sigma_m > 0:
                np.less_equal(sig, np.float32(max_sigma_m), out=tmp)
                np.logical_and(ok, tmp, out=ok)
        np.logical_not(ok, out=tmp)
        px, py, pz = pts["x"], pts["y"], pts["z"]
        np.copyto(pz, z)
        np.copyto(pz, NAN, where=tmp)
        rx, ry = self.rays.get(K, depth_m.shape, s)
        np.multiply(rx, pz, out=px)
        np.multiply(ry, pz, out=py)
        if rgb is not None:
            self._pack_rgb(np.ascontiguousarray(rgb[::s, ::s]), pts)
        return pts

    def _pack_rgb(self, rgb: np.ndarray, pts: np.ndarray) -> None:
        """The packed 0x00RRGGBB float32 ``rgb`` field (little endian: bytes B, G, R, 0), via one BGRA pass."""
        bgra = self.buf.get("bgra", rgb.shape[:2] + (4,), np.uint8)
        cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA, dst=bgra)
        packed = pts.view(np.uint32).reshape(pts.shape + (4,))[..., 3]
        np.bitwise_and(bgra.view(np.uint32)[..., 0], np.uint32(0x00FFFFFF), out=packed)
