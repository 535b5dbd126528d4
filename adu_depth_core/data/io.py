"""Reading and writing image / depth files with errors that name the file and what was expected."""

from __future__ import annotations

import io
import os
from pathlib import Path

import cv2
import numpy as np

from adu_depth_core.checkpoint import atomic_write_bytes
from adu_depth_core.data.sample import DataError

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND\xaeB`\x82"
_JPEG_MAGIC = b"\xff\xd8"
_JPEG_END = b"\xff\xd9"


def read_bytes(path: str | os.PathLike, what: str = "file") -> bytes:
    """The whole file, or DataError if it is missing or empty."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"missing {what}: {path}")
    data = path.read_bytes()
    if not data:
        raise DataError(f"empty {what}: {path}")
    return data


def _check_complete(data: bytes, path: Path, what: str) -> None:
    if data.startswith(_PNG_MAGIC) and not data.rstrip(b"\0").endswith(_PNG_END):
        raise DataError(f"truncated {what}: {path} (PNG without its IEND end chunk; re-copy the file)")
    if data.startswith(_JPEG_MAGIC) and _JPEG_END not in data[-64:]:
        raise DataError(f"truncated {what}: {path} (JPEG without its end-of-image marker; re-copy the file)")


def decode_image(data: bytes, flags: int, path: Path, what: str) -> np.ndarray:
    """cv2.imdecode with a DataError that names the file when it cannot be decoded."""
    _check_complete(data, path, what)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if img is None:
        raise DataError(f"unreadable {what}: {path} (not a PNG/JPEG image cv2 can decode)")
    return img


def check_hw(arr: np.ndarray, expected_hw: tuple[int, int] | None, path: Path, what: str) -> np.ndarray:
    """Raise DataError if arr's (H, W) differs from expected_hw."""
    if expected_hw is not None and tuple(arr.shape[:2]) != tuple(expected_hw):
        raise DataError(
            f"mis-sized {what}: {path} is {arr.shape[0]}x{arr.shape[1]} (HxW), expected "
            f"{expected_hw[0]}x{expected_hw[1]}"
        )
    return arr


def read_rgb(path: str | os.PathLike, expected_hw: tuple[int, int] | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB from a PNG/JPEG (grey images are expanded, alpha dropped)."""
    path = Path(path)
    img = decode_image(read_bytes(path, "image"), cv2.IMREAD_UNCHANGED, path, "image")
    if img.dtype != np.uint8:
        raise DataError(f"wrong image type: {path} is {img.dtype}, expected 8-bit colour")
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    else:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return check_hw(img, expected_hw, path, "image")


def read_depth_png(
    path: str | os.PathLike, scale: float, expected_hw: tuple[int, int] | None = None
) -> np.ndarray:
    """(H, W) float32 metres from a uint16 PNG: depth_m = value * scale, 0 -> NaN."""
    path = Path(path)
    raw = decode_image(read_bytes(path, "depth PNG"), cv2.IMREAD_UNCHANGED, path, "depth PNG")
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise DataError(
            f"wrong depth PNG format: {path} is {raw.dtype} with shape {raw.shape}, expected single-channel uint16"
        )
    check_hw(raw, expected_hw, path, "depth PNG")
    depth = raw.astype(np.float32) * np.float32(scale)
    depth[raw == 0] = np.nan
    return depth


def read_npy(
    path: str | os.PathLike, expected_hw: tuple[int, int] | None = None, what: str = "depth .npy"
) -> np.ndarray:
    """(H, W) float32 array from a .npy file (non-finite and <= 0 stay as they are)."""
    path = Path(path)
    data = read_bytes(path, what)
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"unreadable or truncated {what}: {path} ({exc})") from None
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.floating):
        raise DataError(f"wrong {what} format: {path} is {arr.dtype} {arr.shape}, expected 2-D float (H, W)")
    return check_hw(arr.astype(np.float32, copy=False), expected_hw, path, what)


def write_rgb(path: str | os.PathLike, rgb: np.ndarray) -> Path:
    """Atomically write an (H, W, 3) uint8 RGB array as PNG."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
    if not ok:
        raise DataError(f"could not encode PNG for {path}")
    return atomic_write_bytes(path, lambda f: f.write(buf.tobytes()))


def write_npy(path: str | os.PathLike, arr: np.ndarray) -> Path:
    """Atomically write a .npy array."""
    return atomic_write_bytes(path, lambda f: np.save(f, arr, allow_pickle=False))
