"""ROS image encodings and REP 118 depth conventions as plain numpy (no ROS, no message types).

One table and one set of depth rules shared by the node's rclpy conversions, the
rosbag tools' message builders and the offline ``infer`` writer, so every path
writes the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_DEPTH_MM = 65535  # uint16 millimetres reach 65.535 m; farther depth is written as 0 (invalid)


@dataclass(frozen=True)
class Encoding:
    """Pixel layout of a sensor_msgs/Image encoding."""

    channels: int
    dtype: np.dtype


ENCODINGS: dict[str, Encoding] = {
    "rgb8": Encoding(3, np.dtype(np.uint8)),
    "bgr8": Encoding(3, np.dtype(np.uint8)),
    "rgba8": Encoding(4, np.dtype(np.uint8)),
    "bgra8": Encoding(4, np.dtype(np.uint8)),
    "mono8": Encoding(1, np.dtype(np.uint8)),
    "mono16": Encoding(1, np.dtype(np.uint16)),
    "8UC1": Encoding(1, np.dtype(np.uint8)),
    "8UC3": Encoding(3, np.dtype(np.uint8)),
    "16UC1": Encoding(1, np.dtype(np.uint16)),
    "32FC1": Encoding(1, np.dtype(np.float32)),
}
COLOR_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", "8UC3")
DEPTH_ENCODINGS = ("32FC1", "16UC1")


def depth_to_mm(depth_m: np.ndarray) -> np.ndarray:
    """Metres -> uint16 millimetres (REP 118): NaN, <= 0 and beyond 65.535 m become 0 (invalid).

    Saturating at 65535 instead would publish a wrong, valid-looking depth for far pixels.
    """
    depth = np.asarray(depth_m, dtype=np.float32)  # float32 arithmetic, as the published 32FC1 image
    with np.errstate(invalid="ignore", over="ignore"):
        mm = np.rint(np.nan_to_num(depth, nan=0.0, posinf=0.0, neginf=0.0) * np.float32(1000.0))
    mm[(mm <= 0) | (mm > MAX_DEPTH_MM)] = 0
    return mm.astype(np.uint16)


def to_rgb(pixels: np.ndarray, encoding: str) -> np.ndarray:
    """Pixels of a colour or mono encoding (HxW or HxWxC) -> HxWx3 uint8 RGB, contiguous."""
    if encoding == "mono8":
        return np.repeat(pixels[:, :, None], 3, axis=2)
    if encoding.startswith("bgr"):
        return np.ascontiguousarray(pixels[:, :, 2::-1])
    return np.ascontiguousarray(pixels[:, :, :3])


def decode_compressed_rgb(
    data, fmt: str, error: type[Exception] = ValueError, max_pixels: int = 0
) -> np.ndarray:
    """A jpeg/png CompressedImage payload -> HxWx3 uint8 RGB; ``error`` (the caller's type) when it is not one.

    With ``max_pixels`` > 0 the size is read from the PNG/JPEG header first and a larger image is
    refused before it is decoded.
    """
    import cv2

    from adu_depth_core.image_size import check_pixels, compressed_size

    if "compresseddepth" in fmt.lower():
        raise error(f"'{fmt}' is a compressed depth image, not a colour image")
    if len(data) == 0:
        raise error("compressed image is empty (0 bytes)")
    undecodable = f"could not decode compressed image (format '{fmt}', {len(data)} bytes): data is truncated or not jpeg/png"
    if max_pixels:
        size = compressed_size(data)
        if size is None:
            raise error(undecodable + " (no PNG/JPEG header to read its size from)")
        check_pixels(*size, max_pixels, "compressed image", error)
    bgr = cv2.imdecode(np.frombuffer(bytes(data), dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.size == 0:
        raise error(undecodable)
    return np.ascontiguousarray(bgr[:, :, ::-1])
