"""3D points -> sparse depth images through a rigid extrinsic and pinhole intrinsics (pure numpy).

Convention: ``T_cam_lidar`` (4x4) maps homogeneous points from the cloud's frame
into the camera *optical* frame (x right, y down, z forward). Pixel centres sit at
integer coordinates, so a point lands in pixel ``(round(v), round(u))``; when
several points share a pixel the nearest one wins. Used by the data readers
(KITTI, synthetic LiDAR) and the bag tools alike.
"""

from __future__ import annotations

import numpy as np

from adu_depth_core.runtime.intrinsics import check_K


class ExtrinsicError(ValueError):
    """An extrinsic that is not a rigid 4x4 transform, or a file that holds none."""


def check_rigid(T: np.ndarray, source: str) -> np.ndarray:
    """T as a 4x4 float64 rigid transform (3x4 gets its last row); ExtrinsicError otherwise."""
    T = np.asarray(T, dtype=np.float64)
    if T.shape == (3, 4):
        T = np.vstack([T, [0.0, 0.0, 0.0, 1.0]])
    if T.shape != (4, 4) or not np.isfinite(T).all():
        raise ExtrinsicError(
            f"extrinsic from {source} must be a finite 4x4 (or 3x4) matrix, got shape {T.shape}"
        )
    R = T[:3, :3]
    if (
        not np.allclose(R @ R.T, np.eye(3), atol=1e-4)
        or np.linalg.det(R) < 0.999
        or not np.allclose(T[3], [0, 0, 0, 1])
    ):
        raise ExtrinsicError(
            f"extrinsic from {source} is not a rigid transform (rotation not orthonormal or last row not 0 0 0 1):\n{T}"
        )
    return T


def project_to_depth(
    points: np.ndarray,
    T_cam_lidar: np.ndarray,
    K: np.ndarray,
    height: int,
    width: int,
    min_depth_m: float = 1e-3,
) -> np.ndarray:
    """(N, 3) points in the LiDAR frame -> (height, width) float32 sparse z-depth in metres, NaN where empty.

    ``K`` is the 3x3 intrinsics of the ``height`` x ``width`` image.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    K = check_K(K)
    T = check_rigid(T_cam_lidar, "T_cam_lidar")
    cam = points @ T[:3, :3].T + T[:3, 3]
    cam = cam[np.isfinite(cam).all(axis=1) & (cam[:, 2] > min_depth_m)]
    z = cam[:, 2]
    u = np.floor(K[0, 0] * cam[:, 0] / z + K[0, 2] + 0.5)
    v = np.floor(K[1, 1] * cam[:, 1] / z + K[1, 2] + 0.5)
    inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
    flat = (v[inside] * width + u[inside]).astype(np.int64)
    z = z[inside]
    order = np.lexsort((z, flat))  # by pixel, nearest first
    first = np.unique(flat[order], return_index=True)[1]
    depth = np.full(height * width, np.nan, dtype=np.float32)
    depth[flat[order][first]] = z[order][first]
    return depth.reshape(height, width)
