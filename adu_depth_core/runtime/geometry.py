"""Depth -> 3D points through a pinhole K, the way depth_image_proc does it (pure numpy).

Points are in the camera optical frame (x right, y down, z forward), metres,
float32. Invalid points are NaN so organised clouds keep their shape
(``is_dense = false`` in PointCloud2 terms).
"""

from __future__ import annotations

import numpy as np

from adu_depth_core.runtime.intrinsics import check_K


def _grid(height: int, width: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (u, v) of the sampled pixels, float32, shapes (1, w') and (h', 1)."""
    u = np.arange(0, width, stride, dtype=np.float32)[None, :]
    v = np.arange(0, height, stride, dtype=np.float32)[:, None]
    return u, v


def invalid_mask(
    depth_m: np.ndarray, sigma_m: np.ndarray | None = None, max_sigma_m: float | None = None
) -> np.ndarray:
    """True where depth is not finite/positive, or its sigma is NaN or above ``max_sigma_m``."""
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(depth_m) | (depth_m <= 0)
        if sigma_m is not None and max_sigma_m is not None:
            bad |= ~(sigma_m <= max_sigma_m)
    return bad


def backproject(
    depth_m: np.ndarray,
    K: np.ndarray,
    stride: int = 1,
    sigma_m: np.ndarray | None = None,
    max_sigma_m: float | None = None,
) -> np.ndarray:
    """Organised point array (ceil(H/stride), ceil(W/stride), 3) float32 metres, NaN where invalid.

    ``depth_m`` is H x W z-depth (REP 118); ``K`` the 3x3 intrinsics *of that
    H x W image*. With ``stride`` s, pixel (v, u) = (i s, j s) is sampled.
    Points with ``sigma_m > max_sigma_m`` (or NaN sigma) are dropped to NaN.
    """
    if depth_m.ndim != 2:
        raise ValueError(f"depth must be H x W, got shape {depth_m.shape}")
    if sigma_m is not None and sigma_m.shape != depth_m.shape:
        raise ValueError(f"sigma shape {sigma_m.shape} differs from depth shape {depth_m.shape}")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    K = check_K(K)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    z = np.array(depth_m[::stride, ::stride], dtype=np.float32)
    sig = None if sigma_m is None else sigma_m[::stride, ::stride]
    z[invalid_mask(z, sig, max_sigma_m)] = np.nan
    u, v = _grid(*depth_m.shape, stride)
    xyz = np.empty(z.shape + (3,), dtype=np.float32)
    xyz[..., 0] = (u - np.float32(cx)) * np.float32(1.0 / fx) * z
    xyz[..., 1] = (v - np.float32(cy)) * np.float32(1.0 / fy) * z
    xyz[..., 2] = z
    return xyz


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) RGB -> float32 (...) whose bits are 0x00RRGGBB (PCL / RViz / depth_image_proc layout)."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.shape[-1] != 3:
        raise ValueError(f"expected uint8 (..., 3) RGB, got {rgb.dtype} {rgb.shape}")
    c = rgb.astype(np.uint32)
    packed = (c[..., 0] << 16) | (c[..., 1] << 8) | c[..., 2]
    return packed.view(np.float32)


def unpack_rgb(packed: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pack_rgb`: float32 (...) -> uint8 (..., 3)."""
    bits = np.asarray(packed, dtype=np.float32).view(np.uint32)
    return np.stack([(bits >> 16) & 0xFF, (bits >> 8) & 0xFF, bits & 0xFF], axis=-1).astype(np.uint8)


def point_dtype(with_rgb: bool) -> np.dtype:
    """Structured dtype of one PointCloud2 point: float32 x, y, z (+ packed rgb), little endian."""
    names = ["x", "y", "z"] + (["rgb"] if with_rgb else [])
    return np.dtype(
        {"names": names, "formats": ["<f4"] * len(names), "offsets": [4 * i for i in range(len(names))]}
    )


def to_point_array(xyz: np.ndarray, rgb: np.ndarray | None = None) -> np.ndarray:
    """(h, w, 3) points (+ (h, w, 3) uint8 colours at the same sampling) -> (h, w) structured array.

    ``out.tobytes()`` is PointCloud2 ``data`` with ``point_step = out.dtype.itemsize``.
    """
    out = np.empty(xyz.shape[:-1], dtype=point_dtype(rgb is not None))
    out["x"], out["y"], out["z"] = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    if rgb is not None:
        if rgb.shape[:-1] != xyz.shape[:-1]:
            raise ValueError(f"colour shape {rgb.shape} does not match points {xyz.shape}")
        out["rgb"] = pack_rgb(rgb)
    return out


def valid_depth_range(
    depth_m: np.ndarray, sigma_m: np.ndarray, min_m: float, max_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Depth outside [min_m, max_m] -> NaN (REP 118 invalid), and sigma NaN wherever depth is."""
    with np.errstate(invalid="ignore"):
        bad = ~((depth_m >= min_m) & (depth_m <= max_m))
    depth_m = np.where(bad, np.float32(np.nan), depth_m).astype(np.float32, copy=False)
    sigma_m = np.where(bad, np.float32(np.nan), sigma_m).astype(np.float32, copy=False)
    return depth_m, sigma_m


def sigma_limit_ratio(
    depth_m: np.ndarray, sigma_m: np.ndarray, max_sigma_m: float, max_relative_sigma: float
) -> np.ndarray | None:
    """sigma / allowed sigma (> 1 = too uncertain) under an absolute (m) and a relative (sigma/depth)
    threshold, either 0 = off; None when both are off. Feeds ``backproject``'s uncertainty filter."""
    limits = []
    if max_sigma_m > 0:
        limits.append(np.float32(max_sigma_m))
    if max_relative_sigma > 0:
        limits.append(np.float32(max_relative_sigma) * depth_m)
    if not limits:
        return None
    limit = limits[0] if len(limits) == 1 else np.minimum(*limits)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sigma_m / limit
