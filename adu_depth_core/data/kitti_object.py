"""KITTI 3D-object layout: left colour images, velodyne scans and per-frame calibration.

Layout (as published, ``training`` or ``testing``)::

    <root>/training/image_2/<NNNNNN>.png     left colour camera
    <root>/training/image_3/<NNNNNN>.png     right colour camera (optional download)
    <root>/training/velodyne/<NNNNNN>.bin    float32 x, y, z, reflectance
    <root>/training/calib/<NNNNNN>.txt       P0..P3 (3x4), R0_rect (3x3), Tr_velo_to_cam (3x4), ...

Ground truth is the LiDAR sweep projected with ``P2 · R0_rect · Tr_velo_to_cam``: depth is z in the
camera-2 frame, the nearest point per pixel, points with z <= 0.1 m dropped. One sweep, not KITTI's
accumulated depth benchmark, so expect LiDAR/camera parallax at object edges.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from adu_depth_core.data.io import read_rgb
from adu_depth_core.data.kitti import (
    _matrix,
    lidar_depth,
    parse_calib_file,
    read_velodyne,
    rectified_camera,
    stereo_from_projections,
)
from adu_depth_core.data.sample import DataError, StereoSample, make_valid

MIN_Z_M = 0.1


def object_calibration(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, float]:
    """(T_cam2_velo 4x4, K 3x3 of camera 2, baseline_m of cameras 2-3) from one calib/<NNNNNN>.txt."""
    path = Path(path)
    cal = parse_calib_file(path)
    P2 = _matrix(cal, "P2", (3, 4), path)
    T, K = rectified_camera(
        P2, _matrix(cal, "R0_rect", (3, 3), path), _matrix(cal, "Tr_velo_to_cam", (3, 4), path)
    )
    _, baseline_m = stereo_from_projections(P2, _matrix(cal, "P3", (3, 4), path))
    return T, K, abs(baseline_m)


class KittiObject:
    """KITTI object frames (``split`` folder ``training`` or ``testing``); gt "lidar" or "none"."""

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "training",
        gt: str = "lidar",
        frames: list[str] | None = None,
    ) -> None:
        if gt not in ("lidar", "none"):
            raise ValueError(f"gt must be 'lidar' or 'none', got {gt!r}")
        self.dir = Path(root) / split
        image_dir = self.dir / "image_2"
        if not image_dir.is_dir():
            raise DataError(
                f"not a KITTI object folder: {image_dir} is missing (expected <root>/{split}/image_2, "
                "velodyne and calib as in the KITTI 3D-object download)"
            )
        self.gt = gt
        found = sorted(p.stem for p in image_dir.iterdir() if p.suffix.lower() in (".png", ".jpg"))
        self.frames = [str(f) for f in frames] if frames is not None else found
        if not self.frames:
            raise DataError(f"no images in {image_dir}")

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: int) -> StereoSample:
        stem = self.frames[i]
        left = read_rgb(self._image(2, stem))
        h, w = left.shape[:2]
        T, K, baseline_m = object_calibration(self.dir / "calib" / f"{stem}.txt")
        right_path = self._image(3, stem, required=False)
        right = None if right_path is None else read_rgb(right_path, (h, w))
        depth = valid = None
        if self.gt == "lidar":
            points = read_velodyne(self.dir / "velodyne" / f"{stem}.bin")
            depth = lidar_depth(points, T, K, h, w, min_depth_m=MIN_Z_M)
            valid = make_valid(depth)
        return StereoSample(left, right, depth, valid, K, baseline_m, str(self.dir / "image_2" / stem))

    def _image(self, cam: int, stem: str, required: bool = True) -> Path | None:
        for ext in (".png", ".jpg"):
            path = self.dir / f"image_{cam}" / f"{stem}{ext}"
            if path.is_file():
                return path
        if required:
            raise DataError(f"missing image: {self.dir / f'image_{cam}' / stem}.png")
        return None
