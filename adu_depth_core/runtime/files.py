"""Offline inputs and outputs of ``adu-depth infer``: images / folders / videos in, depth files out."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from adu_depth_core.image_encodings import depth_to_mm
from adu_depth_core.image_size import check_pixels, compressed_size
from adu_depth_core.runtime.cache import write_atomic
from adu_depth_core.runtime.colormap import colorize_depth, colorize_sigma
from adu_depth_core.runtime.geometry import backproject
from adu_depth_core.runtime.intrinsics import check_K, make_K, scale_intrinsics
from adu_depth_core.runtime.ply import write_ply

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg")


def list_inputs(path: Path) -> tuple[str, list[Path]]:
    """('images', files) for an image or a folder of images, ('video', [file]) for a video."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {path}")
        return "images", files
    if not path.is_file():
        raise FileNotFoundError(f"input not found: {path}")
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return "video", [path]
    return "images", [path]


def read_rgb(path: Path, max_pixels: int = 0) -> np.ndarray:
    """An image file as H x W x 3 uint8 RGB (grey and alpha are converted); ValueError if unreadable.

    With ``max_pixels`` > 0 a larger image is refused (ImageTooLargeError): PNG/JPEG before decoding.
    """
    if max_pixels:
        with open(path, "rb") as f:
            size = compressed_size(f.read(1 << 18))
        if size is not None:
            check_pixels(*size, max_pixels, f"image {path}")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"cannot read image {path} (not an image, or corrupt)")
    check_pixels(*bgr.shape[:2], max_pixels, f"image {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def video_frames(
    path: Path, every: int = 1, max_frames: int | None = None, max_pixels: int = 0
) -> Iterator[tuple[str, np.ndarray]]:
    """(name, RGB frame) for every ``every``-th frame of a video; ValueError now if it cannot be opened
    (or, with ``max_pixels`` > 0, if its frames are larger than that)."""
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"cannot open video {path} (unsupported codec or corrupt file)")
    h, w = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
    try:
        check_pixels(h, w, max_pixels, f"video {path}")
    except ValueError:
        cap.release()
        raise
    return _read_frames(cap, path.stem, every, max_frames)


def _read_frames(cap, stem: str, every: int, max_frames: int | None) -> Iterator[tuple[str, np.ndarray]]:
    try:
        index = emitted = 0
        while max_frames is None or emitted < max_frames:
            ok, bgr = cap.read()
            if not ok:
                break
            if index % every == 0:
                yield f"{stem}_{index:06d}", cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                emitted += 1
            index += 1
    finally:
        cap.release()


def video_frame_count(path: Path) -> int | None:
    """Frame count from the container (may be approximate or absent)."""
    cap = cv2.VideoCapture(str(path))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
    cap.release()
    return n if n > 0 else None


def load_calib(path: Path) -> tuple[np.ndarray, tuple[int, int] | None]:
    """K (3x3) and the (h, w) it belongs to (None if unstated) from a YAML file.

    Accepts a ROS camera_info YAML (``camera_matrix: {data: [9 values]}``,
    ``image_width``/``image_height``) or ``{fx, fy, cx, cy[, width, height]}``.
    """
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read calibration {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"calibration {path} must be a YAML mapping")
    if "camera_matrix" in data:
        K = check_K(np.asarray(data["camera_matrix"]["data"], dtype=np.float64))
        size = (data.get("image_height"), data.get("image_width"))
    elif {"fx", "fy", "cx", "cy"} <= set(data):
        K = check_K(make_K(data["fx"], data["fy"], data["cx"], data["cy"]))
        size = (data.get("height"), data.get("width"))
    else:
        raise ValueError(f"calibration {path} needs 'camera_matrix' (ROS camera_info YAML) or fx, fy, cx, cy")
    return K, (int(size[0]), int(size[1])) if all(size) else None


def intrinsics_for(K: np.ndarray, calib_hw: tuple[int, int] | None, image_hw: tuple[int, int]) -> np.ndarray:
    """K for an image of ``image_hw``: rescaled when the calibration was made at another size."""
    return (
        K
        if calib_hw is None or tuple(calib_hw) == tuple(image_hw)
        else scale_intrinsics(K, calib_hw, image_hw)
    )


def _write_png(path: Path, image: np.ndarray) -> None:
    data = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", data)
    if not ok:
        raise OSError(f"PNG encoding failed for {path}")
    write_atomic(path, buf.tobytes())


def _write_npy(path: Path, array: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, array)
    write_atomic(path, buf.getvalue())


def save_outputs(
    out_dir: str | os.PathLike,
    name: str,
    depth_m: np.ndarray,
    sigma_m: np.ndarray,
    rgb: np.ndarray | None = None,
    K: np.ndarray | None = None,
    depth_range_m: tuple[float, float] | None = None,
    max_sigma_m: float | None = None,
) -> list[Path]:
    """Write depth/sigma as uint16 mm PNG + float32 .npy, colourised PNGs, and a PLY when K is given.

    ``rgb`` and ``K`` must match the depth map's size. Returns the written paths.
    """
    out = Path(out_dir)
    vmin, vmax = depth_range_m or (None, None)
    files = {
        f"{name}_depth_mm.png": lambda p: _write_png(p, depth_to_mm(depth_m)),
        f"{name}_depth.npy": lambda p: _write_npy(p, depth_m.astype(np.float32)),
        f"{name}_sigma_mm.png": lambda p: _write_png(p, depth_to_mm(sigma_m)),
        f"{name}_sigma.npy": lambda p: _write_npy(p, sigma_m.astype(np.float32)),
        f"{name}_depth_color.png": lambda p: _write_png(p, colorize_depth(depth_m, vmin, vmax)),
        f"{name}_sigma_color.png": lambda p: _write_png(p, colorize_sigma(sigma_m)),
    }
    if K is not None:
        xyz = backproject(depth_m, K, sigma_m=sigma_m, max_sigma_m=max_sigma_m)
        files[f"{name}.ply"] = lambda p: write_ply(p, xyz, rgb)
    for filename, write in files.items():
        write(out / filename)
    return [out / f for f in files]
