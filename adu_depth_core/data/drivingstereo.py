"""DrivingStereo (Yang et al., CVPR 2019) as downloaded from its website.

Assumed layout, checked against public loaders and the dataset's folder names (the images are
the half-resolution release, about 881 x 400)::

    <root>/<split>-left-image/<sequence>/<name>.jpg      split = train | test
    <root>/<split>-right-image/<sequence>/<name>.jpg
    <root>/<split>-depth-map/<sequence>/<name>.png       uint16, depth_m = value / 256, 0 = invalid
    <root>/<split>-disparity-map/<sequence>/<name>.png   uint16, disparity_px = value / 256, 0 = invalid
    <root>/half-image-calib/<sequence>.txt               KITTI-like 'key: values' text per sequence

Some releases add a level inside the split folders (``test-left-image/left-image-half-size/...``);
the reader pairs files by their path relative to the split folder with 'left' replaced by 'right' /
'depth' / 'disparity' in folder names. The sequence is the file-name prefix before the first '_'
(``2018-07-09-16-11-56_2018-07-09-16-11-56-502.jpg``). Calibration keys: ``P_rect_101`` (left),
``P_rect_103`` (right), optional ``T_103`` (metres) and ``S_rect_101`` (width height). Baseline:
norm of ``T_103`` when present (one public toolkit reports ``-P_rect_103[0,3] / fx`` to be twice
the physical baseline in the half-size calibration), else from the projection matrices. When
``S_rect_101`` differs from the image size (full-size calibration with half-size images), K is
scaled to the image.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from adu_depth_core.data.io import read_depth_png, read_rgb
from adu_depth_core.data.kitti import _matrix, parse_calib_file
from adu_depth_core.data.sample import DataError, StereoSample, make_valid
from adu_depth_core.runtime.intrinsics import scale_intrinsics

CALIB_DIRS = ("half-image-calib", "full-image-calib", "calib", "calib_{split}", "{split}-calib")


class DrivingStereo:
    """DrivingStereo samples of one split; depth="depth" (depth maps), "disparity" (converted) or "none"."""

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        depth: str = "depth",
        calib_dir: str | os.PathLike | None = None,
    ) -> None:
        if depth not in ("depth", "disparity", "none"):
            raise ValueError(f"depth must be 'depth', 'disparity' or 'none', got {depth!r}")
        self.root, self.split, self.depth = Path(root), split, depth
        self._calib: dict[str, dict] = {}  # sequence -> parsed calibration file
        left_root = self.root / f"{split}-left-image"
        if not left_root.is_dir():
            raise DataError(
                f"not a DrivingStereo root: {left_root} is missing (expected {split}-left-image/, "
                f"{split}-right-image/, {split}-depth-map/ and half-image-calib/)"
            )
        self.rel_paths = sorted(p.relative_to(left_root) for p in left_root.rglob("*.jpg"))
        self.rel_paths += sorted(p.relative_to(left_root) for p in left_root.rglob("*.png"))
        if not self.rel_paths:
            raise DataError(f"no .jpg/.png images under {left_root}")
        self.calib_files = _index_calib(self.root, split, calib_dir)

    def __len__(self) -> int:
        return len(self.rel_paths)

    def __getitem__(self, i: int) -> StereoSample:
        rel = self.rel_paths[i]
        left_path = self.root / f"{self.split}-left-image" / rel
        left = read_rgb(left_path)
        hw = left.shape[:2]
        right = read_rgb(self.root / f"{self.split}-right-image" / _swap(rel, "right-image"), hw)
        K, baseline_m = self._calibration(rel.name.split("_")[0], hw)
        depth = None
        if self.depth != "none":
            folder = f"{self.split}-{self.depth}-map"
            arr = read_depth_png(
                self.root / folder / _swap(rel, f"{self.depth}-map").with_suffix(".png"), 1.0 / 256.0, hw
            )
            depth = arr if self.depth == "depth" else (K[0, 0] * baseline_m / arr).astype(np.float32)
        return StereoSample(
            left,
            right,
            depth,
            None if depth is None else make_valid(depth),
            K,
            baseline_m,
            f"drivingstereo:{left_path}",
        )

    def _calibration(self, sequence: str, hw: tuple[int, int]) -> tuple[np.ndarray, float]:
        path = self.calib_files.get(sequence)
        if path is None:
            raise DataError(
                f"no calibration for sequence {sequence}: expected {sequence}.txt in one of "
                f"{', '.join(d.format(split=self.split) for d in CALIB_DIRS)} under {self.root}"
            )
        if sequence not in self._calib:  # parsed once per sequence, not once per sample
            self._calib[sequence] = parse_calib_file(path)
        cal = self._calib[sequence]
        P_left, P_right = _matrix(cal, "P_rect_101", (3, 4), path), _matrix(cal, "P_rect_103", (3, 4), path)
        K = P_left[:3, :3].copy()
        T = cal.get("T_103")
        baseline_m = (
            float(np.linalg.norm(T))
            if isinstance(T, np.ndarray) and T.size == 3
            else float(P_left[0, 3] / P_left[0, 0] - P_right[0, 3] / P_right[0, 0])
        )
        size = cal.get("S_rect_101")
        if isinstance(size, np.ndarray) and size.size == 2 and (round(size[1]), round(size[0])) != hw:
            K = scale_intrinsics(K, (float(size[1]), float(size[0])), hw)
        return K, abs(baseline_m)


def _swap(rel: Path, new: str) -> Path:
    """Relative path with 'left-image' (or 'left') in folder names replaced for another modality."""
    parts = [p.replace("left-image", new).replace("left", new.split("-")[0]) for p in rel.parts[:-1]]
    return Path(*parts, rel.name)


def _index_calib(root: Path, split: str, calib_dir: str | os.PathLike | None) -> dict[str, Path]:
    dirs = [Path(calib_dir)] if calib_dir is not None else [root / d.format(split=split) for d in CALIB_DIRS]
    files: dict[str, Path] = {}
    for d in dirs:
        if d.is_dir():
            for p in sorted(d.rglob("*.txt")):
                files.setdefault(p.stem, p)
    return files
