"""The one sensor_msgs codec: numpy <-> message fields, the same for rclpy messages and rosbags messages.

Reading takes any object with the ROS field names (rclpy or rosbags), so both
sides share one strictness policy: zero-sized, truncated, too-long or
inconsistent (``step``) buffers are refused with a message that says what is
wrong; padded rows and big-endian data are accepted. Writing returns plain
field values (``data`` as a 1-D uint8 array); ``adu_depth_ros.conversions``
and ``bags.messages`` only put them into their message classes. Images are
little endian with packed rows; PointCloud2 is organised, float32 ``x, y, z``
(+ packed ``rgb``), ``is_dense = False`` (NaN marks invalid points).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from adu_depth_core.image_encodings import COLOR_ENCODINGS, ENCODINGS, Encoding, decode_compressed_rgb, to_rgb
from adu_depth_core.image_size import check_pixels

FLOAT32 = 7  # sensor_msgs/PointField.FLOAT32
UINT8 = 2
FLOAT64 = 8
POINT_FIELD_TYPES = {np.dtype("<f4"): FLOAT32, np.dtype("<f8"): FLOAT64, np.dtype("u1"): UINT8}


class MessageError(ValueError):
    """A message cannot be converted; the text says what is wrong and what to do."""


def encoding_of(name: str, allowed: dict[str, Encoding] | None = None) -> Encoding:
    """The Encoding of ``name``; MessageError naming the supported ones otherwise."""
    table = ENCODINGS if allowed is None else allowed
    enc = table.get(name)
    if enc is None:
        raise MessageError(
            f"unsupported encoding '{name}'; supported: {', '.join(table)} "
            "(convert on the camera side or with an image_proc node)"
        )
    return enc


def _check_layout(h: int, w: int, step: int, size: int, enc: Encoding) -> None:
    if h == 0 or w == 0:
        raise MessageError(f"image is zero-sized ({h}x{w} HxW); the sender sent an empty frame")
    row_bytes = w * enc.channels * enc.dtype.itemsize
    if step < row_bytes:
        raise MessageError(
            f"step mismatch: step={step} bytes but width {w} x {enc.channels} channel(s) x "
            f"{enc.dtype.itemsize} byte(s) needs at least {row_bytes}; fix the publisher's step"
        )
    if size != step * h:
        kind = "truncated" if size < step * h else "too long"
        raise MessageError(
            f"image data {kind}: {size} bytes but step {step} x height {h} = {step * h}; "
            "the message is corrupt or its step/height are wrong"
        )


def image_to_array(msg: Any, allowed: dict[str, Encoding] | None = None) -> np.ndarray:
    """Image -> array in its own encoding (HxW for one channel, HxWxC otherwise), native byte order."""
    enc = encoding_of(msg.encoding, allowed)
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    data = np.frombuffer(msg.data, dtype=np.uint8) if not isinstance(msg.data, np.ndarray) else msg.data
    _check_layout(h, w, step, data.size, enc)
    dtype = enc.dtype.newbyteorder(">" if msg.is_bigendian else "<")
    rows = data.reshape(h, step)[:, : w * enc.channels * enc.dtype.itemsize]
    pixels = (rows if rows.flags.c_contiguous else np.ascontiguousarray(rows)).view(dtype)
    arr = pixels.reshape(h, w, enc.channels) if enc.channels > 1 else pixels.reshape(h, w)
    return arr if dtype.isnative else arr.astype(enc.dtype)


def image_to_rgb(msg: Any, allowed: tuple[str, ...] = COLOR_ENCODINGS, max_pixels: int = 0) -> np.ndarray:
    """A colour/mono Image or a jpeg/png CompressedImage -> HxWx3 uint8 RGB (contiguous).

    Images above ``max_pixels`` (> 0; compressed ones judged by their header) are refused undecoded.
    """
    if not hasattr(msg, "encoding"):  # CompressedImage
        return decode_compressed_rgb(msg.data, msg.format, MessageError, max_pixels)
    check_pixels(int(msg.height), int(msg.width), max_pixels, "image", MessageError)
    if msg.encoding not in allowed:
        raise MessageError(
            f"unsupported encoding '{msg.encoding}' for the depth network; supported: {', '.join(allowed)}"
        )
    return to_rgb(image_to_array(msg), msg.encoding)


def image_fields(array: np.ndarray, encoding: str) -> dict[str, Any]:
    """Array -> Image fields (little endian, packed rows; ``data`` a uint8 view when already so laid out)."""
    enc = encoding_of(encoding)
    channels = 1 if array.ndim == 2 else array.shape[2]
    if array.ndim not in (2, 3) or channels != enc.channels or array.dtype != enc.dtype:
        raise MessageError(
            f"array {array.dtype} {array.shape} does not fit '{encoding}' ({enc.channels} channel(s) of {enc.dtype})"
        )
    data = np.ascontiguousarray(array, dtype=enc.dtype.newbyteorder("<")).reshape(-1).view(np.uint8)
    h, w = int(array.shape[0]), int(array.shape[1])
    return dict(
        height=h,
        width=w,
        encoding=encoding,
        is_bigendian=0,
        step=w * enc.channels * enc.dtype.itemsize,
        data=data,
    )


def cloud_fields(points: np.ndarray) -> dict[str, Any]:
    """(h, w) structured array (``geometry.point_dtype``) -> PointCloud2 fields; ``fields`` as (name, offset, type)."""
    if points.dtype.names is None or points.ndim != 2:
        raise MessageError(f"points must be an (h, w) structured array, got {points.dtype} {points.shape}")
    fields = []
    for name in points.dtype.names:
        dt, offset = points.dtype.fields[name][:2]
        if dt not in POINT_FIELD_TYPES:
            raise MessageError(f"point field '{name}' has unsupported type {dt}")
        fields.append((name, int(offset), POINT_FIELD_TYPES[dt]))
    step = points.dtype.itemsize
    data = np.ascontiguousarray(points).reshape(-1).view(np.uint8)
    return dict(
        height=int(points.shape[0]),
        width=int(points.shape[1]),
        fields=fields,
        is_bigendian=False,
        point_step=step,
        row_step=step * int(points.shape[1]),
        is_dense=False,
        data=data,
    )
