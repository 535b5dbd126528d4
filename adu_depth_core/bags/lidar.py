"""LiDAR ground truth: project a point cloud through camera intrinsics and an extrinsic to sparse depth.

Convention: ``T_cam_lidar`` (4x4) maps homogeneous points from the cloud's frame
into the camera *optical* frame (x right, y down, z forward):
``p_cam = T_cam_lidar @ p_lidar``. Pixel centres sit at integer coordinates, so a
point lands in pixel ``(round(v), round(u))``; when several points share a
pixel the nearest one wins (occluded points behind it are dropped).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from adu_depth_core.projection import ExtrinsicError, check_rigid, project_to_depth

__all__ = ["ExtrinsicError", "check_rigid", "load_extrinsic", "project_to_depth"]


def _from_kitti_txt(text: str, source: str) -> np.ndarray:
    """KITTI calib_velo_to_cam.txt: lines 'R: 9 numbers' and 'T: 3 numbers'."""
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key.strip() in ("R", "T"):
            values[key.strip()] = np.array([float(x) for x in rest.split()])
    if set(values) != {"R", "T"} or values["R"].size != 9 or values["T"].size != 3:
        raise ExtrinsicError(f"{source}: expected KITTI-style 'R:' (9 numbers) and 'T:' (3 numbers) lines")
    T = np.eye(4)
    T[:3, :3] = values["R"].reshape(3, 3)
    T[:3, 3] = values["T"]
    return T


def _from_yaml(path: Path) -> np.ndarray:
    import yaml

    data = yaml.safe_load(path.read_text())
    if isinstance(data, dict):
        for key in ("T_cam_lidar", "extrinsic", "matrix", "data"):
            if key in data:
                data = data[key]
                break
        else:
            raise ExtrinsicError(
                f"{path}: expected a key T_cam_lidar (4x4 or 16 numbers), found {sorted(data)}"
            )
        if isinstance(data, dict) and "data" in data:  # OpenCV-style {rows, cols, data}
            data = data["data"]
    return np.asarray(data, dtype=np.float64).reshape(4, 4)


def load_extrinsic(spec: str | os.PathLike) -> np.ndarray:
    """T_cam_lidar (4x4 float64) from 16 numbers (comma/space separated), a YAML file or a KITTI calib .txt."""
    text = str(spec)
    path = Path(text)
    try:
        if path.is_file():
            raw = path.read_text()
            if path.suffix == ".txt":
                T = _from_kitti_txt(raw, text)
            else:
                T = _from_yaml(path)
        else:
            numbers = [float(x) for x in text.replace(",", " ").split()]
            if len(numbers) not in (12, 16):
                raise ExtrinsicError(
                    f"--extrinsic '{text}' is neither a file nor 16 numbers (row-major 4x4 T_cam_lidar)"
                )
            T = np.asarray(numbers).reshape(-1, 4)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, ExtrinsicError):
            raise
        raise ExtrinsicError(f"cannot read an extrinsic from '{text}': {exc}") from None
    return check_rigid(T, text)
