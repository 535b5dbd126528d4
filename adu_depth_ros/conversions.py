"""sensor_msgs <-> numpy, with strict checks (no cv_bridge, no sensor_msgs_py).

Images: rgb8, bgr8, rgba8, bgra8, mono8, 32FC1, 16UC1 (``step`` may pad rows;
``data`` must be exactly ``step * height`` bytes). CameraInfo: K (3x3) and P
(3x4) float64. PointCloud2: float32 ``x, y, z`` (+ packed ``rgb``) the way
depth_image_proc writes them, NaN for invalid points, ``is_dense = False``.
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2, PointField
from std_msgs.msg import Header

from adu_depth_core.image_encodings import ENCODINGS, Encoding, decode_compressed_rgb, depth_to_mm, to_rgb
from adu_depth_core.image_size import check_pixels
from adu_depth_core.runtime.intrinsics import Intrinsics, IntrinsicsError, intrinsics_from_camera_info


class ConversionError(ValueError):
    """A message cannot be converted; the text says what is wrong and what to do."""


# What the node accepts as camera input (mono16 / 8UC* are not camera colour formats it converts).
INPUT_ENCODINGS = {k: ENCODINGS[k] for k in ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", "32FC1", "16UC1")}
CAMERA_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8")


def _check_layout(msg: Image, enc: Encoding) -> None:
    """Refuse zero-sized, truncated or inconsistent image buffers."""
    h, w, step, size = int(msg.height), int(msg.width), int(msg.step), len(msg.data)
    if h == 0 or w == 0:
        raise ConversionError(f"image is zero-sized ({h}x{w} HxW); the camera driver sent an empty frame")
    row_bytes = w * enc.channels * enc.dtype.itemsize
    if step < row_bytes:
        raise ConversionError(
            f"step mismatch: step={step} bytes but width {w} x {enc.channels} channel(s) x "
            f"{enc.dtype.itemsize} byte(s) needs at least {row_bytes}; fix the publisher's step"
        )
    if size != step * h:
        kind = "truncated" if size < step * h else "too long"
        raise ConversionError(
            f"image data {kind}: {size} bytes but step {step} x height {h} = {step * h}; "
            "the message is corrupt or its step/height are wrong"
        )


def image_to_numpy(msg: Image) -> np.ndarray:
    """Image -> array (HxW for one channel, HxWxC otherwise) in the message's own encoding; a view."""
    enc = INPUT_ENCODINGS.get(msg.encoding)
    if enc is None:
        raise ConversionError(
            f"unsupported encoding '{msg.encoding}'; supported: {', '.join(INPUT_ENCODINGS)} "
            "(convert on the camera side or with an image_proc node)"
        )
    _check_layout(msg, enc)
    h, w, c = int(msg.height), int(msg.width), enc.channels
    dtype = enc.dtype.newbyteorder(">" if msg.is_bigendian else "<")
    rows = np.frombuffer(msg.data, dtype=np.uint8).reshape(h, int(msg.step))
    pixels = rows[:, : w * c * enc.dtype.itemsize].view(dtype)
    arr = pixels.reshape(h, w, c) if c > 1 else pixels.reshape(h, w)
    return arr if dtype.isnative else arr.astype(enc.dtype)


def image_to_rgb(msg: Image, max_pixels: int = 0) -> np.ndarray:
    """A colour or mono Image -> HxWx3 uint8 RGB (contiguous); larger than ``max_pixels`` (> 0) is refused."""
    check_pixels(int(msg.height), int(msg.width), max_pixels, "image", ConversionError)
    if msg.encoding not in CAMERA_ENCODINGS:
        raise ConversionError(
            f"unsupported encoding '{msg.encoding}' for the depth network; "
            f"supported: {', '.join(CAMERA_ENCODINGS)}"
        )
    return to_rgb(image_to_numpy(msg), msg.encoding)


def compressed_to_rgb(msg: CompressedImage, max_pixels: int = 0) -> np.ndarray:
    """A jpeg/png CompressedImage -> HxWx3 uint8 RGB; larger than ``max_pixels`` (> 0, from the header) is refused."""
    return decode_compressed_rgb(msg.data, msg.format, ConversionError, max_pixels)


def numpy_to_image(arr: np.ndarray, encoding: str, header: Header | None = None) -> Image:
    """Array -> Image (little-endian, packed rows); dtype and channels must match the encoding."""
    enc = ENCODINGS.get(encoding)
    if enc is None:
        raise ConversionError(f"unsupported encoding '{encoding}'; supported: {', '.join(ENCODINGS)}")
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    if arr.ndim not in (2, 3) or channels != enc.channels or arr.dtype != enc.dtype:
        raise ConversionError(
            f"array {arr.dtype} {arr.shape} does not fit '{encoding}' "
            f"({enc.channels} channel(s) of {enc.dtype})"
        )
    arr = np.ascontiguousarray(arr, dtype=enc.dtype.newbyteorder("<"))
    msg = Image(header=header if header is not None else Header(), encoding=encoding)
    msg.height, msg.width = int(arr.shape[0]), int(arr.shape[1])
    msg.is_bigendian = 0
    msg.step = msg.width * enc.channels * enc.dtype.itemsize
    msg.data = arr.tobytes()
    return msg


def depth_image(depth_m: np.ndarray, header: Header, encoding: str = "32FC1") -> Image:
    """REP 118 depth image: 32FC1 metres (NaN invalid) or 16UC1 millimetres (0 invalid)."""
    if encoding == "32FC1":
        return numpy_to_image(depth_m.astype(np.float32, copy=False), "32FC1", header)
    if encoding == "16UC1":
        return numpy_to_image(depth_to_mm(depth_m), "16UC1", header)
    raise ConversionError(f"depth encoding must be 32FC1 or 16UC1, got '{encoding}'")


# -- CameraInfo -------------------------------------------------------------------------------------


def camera_info_to_intrinsics(msg: CameraInfo) -> Intrinsics:
    """Validate a CameraInfo (size, finite non-zero focal lengths, P) and return K, P."""
    try:
        return intrinsics_from_camera_info(msg.width, msg.height, msg.k, msg.p)
    except IntrinsicsError as exc:
        raise ConversionError(str(exc)) from None


def intrinsics_to_camera_info(template: CameraInfo, intr: Intrinsics, header: Header) -> CameraInfo:
    """A CameraInfo for ``intr`` (rescaled K/P, full frame, no binning) keeping D, R and the model."""
    msg = CameraInfo(header=header, width=intr.width, height=intr.height)
    msg.distortion_model = template.distortion_model
    msg.d = list(template.d)
    msg.r = template.r
    msg.k = intr.K.reshape(-1).astype(np.float64)
    msg.p = intr.P.reshape(-1).astype(np.float64)
    return msg


# -- PointCloud2 ------------------------------------------------------------------------------------


_POINT_FIELD_TYPES = {
    np.dtype("<f4"): PointField.FLOAT32,
    np.dtype("<f8"): PointField.FLOAT64,
    np.dtype("u1"): PointField.UINT8,
}


def point_cloud(points: np.ndarray, header: Header) -> PointCloud2:
    """Organised PointCloud2 from an (h, w) structured array (e.g. geometry.to_point_array): one field per name.

    NaN marks invalid points, so ``is_dense`` is False; ``data`` is the array's bytes.
    """
    if points.dtype.names is None or points.ndim != 2:
        raise ConversionError(f"points must be an (h, w) structured array, got {points.dtype} {points.shape}")
    fields = []
    for name in points.dtype.names:
        dt, offset = points.dtype.fields[name][:2]
        if dt not in _POINT_FIELD_TYPES:
            raise ConversionError(f"point field '{name}' has unsupported type {dt}")
        fields.append(PointField(name=name, offset=offset, datatype=_POINT_FIELD_TYPES[dt], count=1))
    msg = PointCloud2(header=header, height=points.shape[0], width=points.shape[1], fields=fields)
    msg.is_bigendian = False
    msg.point_step = points.dtype.itemsize
    msg.row_step = msg.point_step * msg.width
    msg.is_dense = False
    msg.data = np.ascontiguousarray(points).tobytes()
    return msg


def point_cloud_to_numpy(msg: PointCloud2) -> dict[str, np.ndarray]:
    """PointCloud2 of float32 fields -> {name: HxW float32} (for tests and tools)."""
    if msg.is_bigendian:
        raise ConversionError("big-endian point clouds are not supported")
    for f in msg.fields:
        if f.datatype != PointField.FLOAT32 or f.count != 1:
            raise ConversionError(f"field '{f.name}' is not a single float32")
    if len(msg.data) != msg.row_step * msg.height or msg.row_step < msg.point_step * msg.width:
        raise ConversionError(
            f"cloud data is {len(msg.data)} bytes, expected row_step {msg.row_step} x height {msg.height}"
        )
    rows = np.frombuffer(msg.data, dtype=np.uint8).reshape(msg.height, msg.row_step)
    points = rows[:, : msg.point_step * msg.width].reshape(msg.height, msg.width, msg.point_step)
    return {f.name: points[:, :, f.offset : f.offset + 4].copy().view("<f4")[:, :, 0] for f in msg.fields}
