"""KITTI raw with an Eigen-style split file: images, calibration, annotated or LiDAR-projected depth.

Layout (as published)::

    <root>/<date>/calib_cam_to_cam.txt        P_rect_02, P_rect_03, R_rect_00, S_rect_02, ...
    <root>/<date>/calib_velo_to_cam.txt       R, T
    <root>/<date>/<drive>/image_02/data/<frame:010d>.png   left colour (.jpg also accepted)
    <root>/<date>/<drive>/image_03/data/<frame:010d>.png   right colour
    <root>/<date>/<drive>/velodyne_points/data/<frame:010d>.bin   float32 x, y, z, reflectance
    <root>/<date>/<drive>/proj_depth/groundtruth/image_02/<frame:010d>.png   uint16, depth_m = v / 256, 0 = invalid
      (or, for the depth-completion download, <annotated_root>/{train,val}/<drive>/proj_depth/...)

Split lines: ``<date>/<drive> <frame> l|r`` (monodepth2 / BTS style); 'r' makes image_03 the
reference view. Since a StereoSample's right camera is at +baseline, an 'r' sample is mirrored by
default (r_mode="mirror": mirrored image_03 as left, mirrored image_02 as right, K and depth mirrored);
r_mode="signed" keeps the images and gives baseline_m < 0 instead.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from adu_depth_core.data.augment import hflip
from adu_depth_core.data.io import read_bytes, read_depth_png, read_rgb
from adu_depth_core.data.sample import DataError, StereoSample, crop_sample, make_valid
from adu_depth_core.projection import project_to_depth

BENCHMARK_CROP_HW = (352, 1216)  # KITTI depth benchmark size, bottom-centred
_BTS_LINE = re.compile(
    r"^(?P<date>\d{4}_\d\d_\d\d)/(?P<drive>[^/\s]+)/image_0(?P<cam>[23])/data/(?P<frame>\d+)\.\w+"
)


def parse_calib_file(path: str | os.PathLike) -> dict[str, np.ndarray | str]:
    """KITTI 'key: v1 v2 ...' calibration text -> {key: float array, or the raw string if not numeric}."""
    path = Path(path)
    text = read_bytes(path, "KITTI calibration file").decode("utf-8", errors="replace")
    out: dict[str, np.ndarray | str] = {}
    for line in text.splitlines():
        if ":" not in line:
            continue
        key, value = line.split(":", 1)
        try:
            out[key.strip()] = np.array([float(x) for x in value.split()], dtype=np.float64)
        except ValueError:
            out[key.strip()] = value.strip()
    return out


def _matrix(calib: dict, key: str, shape: tuple[int, int], path: Path) -> np.ndarray:
    value = calib.get(key)
    if not isinstance(value, np.ndarray) or value.size != shape[0] * shape[1]:
        raise DataError(f"{path}: expected key '{key}' with {shape[0] * shape[1]} numbers")
    return value.reshape(shape)


def stereo_from_projections(P_left: np.ndarray, P_right: np.ndarray) -> tuple[np.ndarray, float]:
    """(K, baseline_m) of a rectified pair from its 3x4 projection matrices (P[0, 3] = -fx * x_cam)."""
    baseline_m = P_left[0, 3] / P_left[0, 0] - P_right[0, 3] / P_right[0, 0]
    return P_left[:3, :3].copy(), float(baseline_m)


def rectified_camera(
    P: np.ndarray, R_rect: np.ndarray, velo_to_cam: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(T_cam_velo 4x4, K 3x3) of a rectified camera: ``P @ R_rect @ velo_to_cam`` written as K @ T.

    P: 3x4 projection; R_rect: 3x3 rectifying rotation of camera 0; velo_to_cam: 3x4 [R|T].
    """
    R = np.eye(4)
    R[:3, :3] = R_rect
    velo = np.eye(4)
    velo[:3, :] = velo_to_cam
    K = P[:3, :3].copy()
    offset = np.eye(4)
    offset[:3, 3] = np.linalg.solve(K, P[:, 3])  # the camera's offset from the rectified camera 0
    return offset @ R @ velo, K


def velo_to_camera(
    cam_calib: dict, velo_calib: dict, cam: int, paths: tuple[Path, Path]
) -> tuple[np.ndarray, np.ndarray]:
    """(T_cam_velo 4x4, K 3x3) of rectified camera `cam` from KITTI raw's two calibration files."""
    velo = np.hstack([_matrix(velo_calib, "R", (3, 3), paths[1]), _matrix(velo_calib, "T", (3, 1), paths[1])])
    return rectified_camera(
        _matrix(cam_calib, f"P_rect_0{cam}", (3, 4), paths[0]),
        _matrix(cam_calib, "R_rect_00", (3, 3), paths[0]),
        velo,
    )


def read_velodyne(path: str | os.PathLike) -> np.ndarray:
    """(N, 4) float32 x, y, z, reflectance from a KITTI .bin scan."""
    path = Path(path)
    data = read_bytes(path, "velodyne scan")
    if len(data) % 16:
        raise DataError(
            f"truncated velodyne scan: {path} has {len(data)} bytes, expected a multiple of 16 "
            "(float32 x, y, z, reflectance per point)"
        )
    return np.frombuffer(data, dtype=np.float32).reshape(-1, 4)


def lidar_depth(
    points: np.ndarray,
    T_cam_velo: np.ndarray,
    K: np.ndarray,
    height: int,
    width: int,
    min_depth_m: float = 1e-3,
) -> np.ndarray:
    """Sparse (H, W) float32 depth from velodyne points: in front only, nearest point per pixel, NaN elsewhere."""
    ahead = points[points[:, 0] > 0, :3]  # in front of the scanner
    return project_to_depth(ahead, T_cam_velo, K, height, width, min_depth_m)


class KittiEigen:
    """KITTI raw samples listed by a split file; gt is "annotated", "lidar" or "none"."""

    def __init__(
        self,
        root: str | os.PathLike,
        split_file: str | os.PathLike,
        gt: str = "annotated",
        annotated_root: str | os.PathLike | None = None,
        crop: str | None = None,
        r_mode: str = "mirror",
        with_right: bool = True,
    ) -> None:
        if gt not in ("annotated", "lidar", "none"):
            raise ValueError(f"gt must be 'annotated', 'lidar' or 'none', got {gt!r}")
        if crop not in (None, "benchmark"):
            raise ValueError(f"crop must be None or 'benchmark', got {crop!r}")
        if r_mode not in ("mirror", "signed"):
            raise ValueError(f"r_mode must be 'mirror' or 'signed', got {r_mode!r}")
        self.root, self.gt, self.crop, self.r_mode, self.with_right = Path(root), gt, crop, r_mode, with_right
        self.annotated_root = None if annotated_root is None else Path(annotated_root)
        self.entries = parse_split_file(split_file)
        self._calib: dict[str, tuple[dict, Path]] = {}
        self._velo: dict[Path, dict] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> StereoSample:
        date, drive, frame, side = self.entries[i]
        cam = 2 if side == "l" else 3
        other = 5 - cam
        cal, cal_path = self._cam_calib(date)
        K, baseline_m = stereo_from_projections(
            _matrix(cal, f"P_rect_0{cam}", (3, 4), cal_path),
            _matrix(cal, f"P_rect_0{other}", (3, 4), cal_path),
        )
        hw = _rect_size(cal, cam)
        drive_dir = self.root / date / drive
        left = read_rgb(_image_path(drive_dir, cam, frame), hw)
        hw = left.shape[:2]
        right = read_rgb(_image_path(drive_dir, other, frame), hw) if self.with_right else None
        depth = self._depth(date, drive, cam, frame, hw)
        sample = StereoSample(
            left,
            right,
            depth,
            None if depth is None else make_valid(depth),
            K,
            baseline_m,
            f"kitti:{date}/{drive} {frame:010d} {side}",
        )
        if side == "r" and self.r_mode == "mirror":
            sample = hflip(sample.replace(right=None)).replace(
                right=None if right is None else np.ascontiguousarray(right[:, ::-1]), baseline_m=-baseline_m
            )
        if self.crop == "benchmark":
            ch, cw = BENCHMARK_CROP_HW
            if sample.height < ch or sample.width < cw:
                raise DataError(
                    f"{sample.source_id}: image {sample.height}x{sample.width} is smaller than the "
                    f"benchmark crop {ch}x{cw}"
                )
            sample = crop_sample(sample, sample.height - ch, (sample.width - cw) // 2, ch, cw)
        return sample

    def _cam_calib(self, date: str) -> tuple[dict, Path]:
        if date not in self._calib:
            path = self.root / date / "calib_cam_to_cam.txt"
            self._calib[date] = (parse_calib_file(path), path)
        return self._calib[date]

    def _depth(self, date: str, drive: str, cam: int, frame: int, hw: tuple[int, int]) -> np.ndarray | None:
        if self.gt == "none":
            return None
        if self.gt == "annotated":
            return read_depth_png(self._annotated_path(date, drive, cam, frame), 1.0 / 256.0, hw)
        cal, cal_path = self._cam_calib(date)
        velo_path = self.root / date / "calib_velo_to_cam.txt"
        if velo_path not in self._velo:
            self._velo[velo_path] = parse_calib_file(velo_path)
        T, K = velo_to_camera(cal, self._velo[velo_path], cam, (cal_path, velo_path))
        scan = read_velodyne(self.root / date / drive / "velodyne_points" / "data" / f"{frame:010d}.bin")
        return lidar_depth(scan, T, K, *hw)

    def _annotated_path(self, date: str, drive: str, cam: int, frame: int) -> Path:
        rel = Path("proj_depth") / "groundtruth" / f"image_0{cam}" / f"{frame:010d}.png"
        if self.annotated_root is None:
            return self.root / date / drive / rel
        candidates = [self.annotated_root / part / drive / rel for part in ("train", "val")]
        return next((p for p in candidates if p.is_file()), candidates[0])


def _rect_size(cal: dict, cam: int) -> tuple[int, int] | None:
    size = cal.get(f"S_rect_0{cam}")
    if isinstance(size, np.ndarray) and size.size == 2:
        return int(round(size[1])), int(round(size[0]))  # stored as width height
    return None


def _image_path(drive_dir: Path, cam: int, frame: int) -> Path:
    base = drive_dir / f"image_0{cam}" / "data" / f"{frame:010d}"
    for ext in (".png", ".jpg"):
        if base.with_suffix(ext).is_file():
            return base.with_suffix(ext)
    raise DataError(f"missing KITTI image: {base}.png (or .jpg)")


def parse_split_file(path: str | os.PathLike) -> list[tuple[str, str, int, str]]:
    """[(date, drive, frame, 'l'|'r')] from '<date>/<drive> <frame> l|r' lines (BTS image-path lines too)."""
    path = Path(path)
    entries = []
    for n, raw in enumerate(read_bytes(path, "split file").decode("utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _BTS_LINE.match(line)
        if m:
            entries.append((m["date"], m["drive"], int(m["frame"]), "l" if m["cam"] == "2" else "r"))
            continue
        parts = line.split()
        try:
            date, drive = parts[0].strip("/").split("/")
            frame = int(parts[1])
            side = parts[2] if len(parts) > 2 else "l"
        except (ValueError, IndexError):
            raise DataError(f"{path}:{n}: expected '<date>/<drive> <frame> l|r', got {line!r}") from None
        if side not in ("l", "r"):
            raise DataError(f"{path}:{n}: side must be 'l' or 'r', got {side!r}")
        entries.append((date, drive, frame, side))
    if not entries:
        raise DataError(f"split file {path} lists no samples")
    return entries
