"""Folder stereo: a user's own recordings, and the output of ``adu-depth synth``.

Layout (stems pair the files; images PNG or JPEG)::

    DIR/calib.yaml          K: [[fx, 0, cx], [0, fy, cy], [0, 0, 1]], baseline_m: 0.54
                            (optional: height, width, and anything else, ignored)
    DIR/left/<stem>.png     required
    DIR/right/<stem>.png    optional folder
    DIR/depth/<stem>.npy    optional folder: float32 metres, NaN invalid
    DIR/depth/<stem>.png      ... or uint16 millimetres, 0 invalid
    DIR/confidence/<stem>.npy  optional, used with min_confidence
    DIR/calib/<stem>.yaml   optional per-frame K (and baseline_m) overriding calib.yaml for that frame
                            (frames from cameras with different intrinsics, e.g. ``adu-depth synth --hfov``)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from adu_depth_core.config import save_yaml
from adu_depth_core.data.io import read_depth_png, read_npy, read_rgb, write_npy, write_rgb
from adu_depth_core.data.sample import DataError, StereoSample, make_valid

CALIB_FILE = "calib.yaml"
IMAGE_EXTS = (".png", ".jpg", ".jpeg")


def _parse_calib(path: Path, what: str, baseline_m: float | None = None) -> tuple[np.ndarray, float, dict]:
    """(K, baseline_m, the YAML mapping) of a calibration file; ``baseline_m`` is the default when it has none."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DataError(f"unreadable {what} {path}: {exc}") from None
    if not isinstance(data, dict) or "K" not in data or ("baseline_m" not in data and baseline_m is None):
        raise DataError(f"{what} {path} needs the keys K (3x3 nested list) and baseline_m (metres)")
    try:
        K = np.array(data["K"], dtype=np.float64)
        baseline_m = float(data.get("baseline_m", baseline_m))
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"{what} {path}: K must be a 3x3 list of numbers and baseline_m a number ({exc})"
        ) from None
    if K.shape != (3, 3) or not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise DataError(
            f"{what} {path}: K must be a 3x3 matrix with positive focal lengths, got {K.tolist()}"
        )
    if not np.isfinite(baseline_m) or baseline_m <= 0:
        raise DataError(f"{what} {path}: baseline_m must be a positive number of metres, got {baseline_m}")
    return K, baseline_m, data


def read_calib(root: str | os.PathLike) -> tuple[np.ndarray, float, dict[str, Any]]:
    """(K, baseline_m, the whole YAML mapping) from DIR/calib.yaml, with errors that say what is expected."""
    path = Path(root) / CALIB_FILE
    if not path.is_file():
        raise DataError(f"missing calibration: {path} (expected YAML with K: 3x3 nested list and baseline_m)")
    return _parse_calib(path, "calibration")


def write_calib(
    root: str | os.PathLike, K: np.ndarray, baseline_m: float, height: int, width: int, **extra: Any
) -> Path:
    """Atomically write DIR/calib.yaml (extra keys are stored as given)."""
    data = {
        "K": np.asarray(K, dtype=float).tolist(),
        "baseline_m": float(baseline_m),
        "height": int(height),
        "width": int(width),
        **extra,
    }
    return save_yaml(data, Path(root) / CALIB_FILE)


def write_frame_calib(root: str | os.PathLike, stem: str, K: np.ndarray, baseline_m: float) -> Path:
    """Atomically write DIR/calib/<stem>.yaml: this frame's own K and baseline."""
    data = {"K": np.asarray(K, dtype=float).tolist(), "baseline_m": float(baseline_m)}
    return save_yaml(data, Path(root) / "calib" / f"{stem}.yaml")


def _frame_calib(root: Path, stem: str, K: np.ndarray, baseline_m: float) -> tuple[np.ndarray, float]:
    """K and baseline of one frame: DIR/calib/<stem>.yaml when present, else the folder's."""
    path = root / "calib" / f"{stem}.yaml"
    if not path.is_file():
        return K.copy(), baseline_m
    K_frame, baseline_frame, _ = _parse_calib(path, "frame calibration", baseline_m)
    return K_frame, baseline_frame


def write_sample(root: str | os.PathLike, stem: str, sample: StereoSample, **extra_depth: np.ndarray) -> None:
    """Write left/right PNGs and depth/<stem>.npy (NaN invalid); extra_depth=arr goes to <name>/<stem>.npy."""
    root = Path(root)
    write_rgb(root / "left" / f"{stem}.png", sample.left)
    if sample.right is not None:
        write_rgb(root / "right" / f"{stem}.png", sample.right)
    if sample.depth_m is not None:
        write_npy(
            root / "depth" / f"{stem}.npy", np.where(sample.valid, sample.depth_m, np.nan).astype(np.float32)
        )
    for name, arr in extra_depth.items():
        write_npy(root / name / f"{stem}.npy", np.asarray(arr, dtype=np.float32))


def _find(folder: Path, stem: str, exts: tuple[str, ...]) -> Path | None:
    for ext in exts:
        if (folder / f"{stem}{ext}").is_file():
            return folder / f"{stem}{ext}"
    return None


class FolderStereo:
    """Reader of the folder-stereo layout above; depth_dir picks another depth folder (e.g. "lidar")."""

    def __init__(
        self, root: str | os.PathLike, depth_dir: str = "depth", min_confidence: float | None = None
    ) -> None:
        self.root = Path(root)
        if not (self.root / "left").is_dir():
            raise DataError(
                f"not a folder-stereo directory: {self.root / 'left'} is missing (expected left/, "
                f"optional right/ and {depth_dir}/, and {CALIB_FILE})"
            )
        self.K, self.baseline_m, calib = read_calib(self.root)
        self.hw = (
            (int(calib["height"]), int(calib["width"])) if "height" in calib and "width" in calib else None
        )
        self.stems = sorted(p.stem for p in (self.root / "left").iterdir() if p.suffix.lower() in IMAGE_EXTS)
        if not self.stems:
            raise DataError(f"no images in {self.root / 'left'} (expected {', '.join(IMAGE_EXTS)} files)")
        self.right_dir = self.root / "right" if (self.root / "right").is_dir() else None
        self.depth_dir = self.root / depth_dir if (self.root / depth_dir).is_dir() else None
        self.min_confidence = min_confidence

    def __len__(self) -> int:
        return len(self.stems)

    def __getitem__(self, i: int) -> StereoSample:
        stem = self.stems[i]
        left = read_rgb(_find(self.root / "left", stem, IMAGE_EXTS), self.hw)
        hw = left.shape[:2]
        right = None
        if self.right_dir is not None:
            path = _find(self.right_dir, stem, IMAGE_EXTS)
            if path is None:
                raise DataError(f"missing right image: {self.right_dir / stem}.png (pairs with left/{stem})")
            right = read_rgb(path, hw)
        depth = self._depth(stem, hw)
        valid = None if depth is None else make_valid(depth)
        if depth is not None and self.min_confidence is not None:
            valid &= (
                read_npy(self.root / "confidence" / f"{stem}.npy", hw, "confidence .npy")
                >= self.min_confidence
            )
        K, baseline_m = _frame_calib(self.root, stem, self.K, self.baseline_m)
        return StereoSample(left, right, depth, valid, K, baseline_m, str(self.root / "left" / stem))

    def _depth(self, stem: str, hw: tuple[int, int]) -> np.ndarray | None:
        if self.depth_dir is None:
            return None
        path = _find(self.depth_dir, stem, (".npy", ".png"))
        if path is None:
            raise DataError(
                f"missing depth: expected {self.depth_dir / stem}.npy (float32 m) or .png (uint16 mm)"
            )
        if path.suffix == ".npy":
            return read_npy(path, hw)
        return read_depth_png(path, scale=1e-3, expected_hw=hw)


class FolderStereoSet:
    """Several folder-stereo directories read as one (e.g. cached street and room scenes)."""

    def __init__(self, roots: list[str | os.PathLike], **kwargs: Any) -> None:
        if not roots:
            raise DataError("the 'folders' dataset needs at least one root in roots: [...]")
        self.readers = [FolderStereo(r, **kwargs) for r in roots]
        self.offsets = np.cumsum([0] + [len(r) for r in self.readers])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, i: int) -> StereoSample:
        if not -len(self) <= i < len(self):
            raise IndexError(f"sample {i} out of range for {len(self)} samples")
        i %= len(self)
        k = int(np.searchsorted(self.offsets, i, side="right")) - 1
        return self.readers[k][i - int(self.offsets[k])]
