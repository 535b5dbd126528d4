"""rclpy sensor_msgs <-> numpy over the shared codec (``adu_depth_core.msg_codec``; no cv_bridge).

Images: rgb8, bgr8, rgba8, bgra8, mono8, 32FC1, 16UC1 (``step`` may pad rows;
``data`` must be exactly ``step * height`` bytes). CameraInfo: K (3x3) and P
(3x4) float64. PointCloud2: float32 ``x, y, z`` (+ packed ``rgb``) the way
depth_image_proc writes them, NaN for invalid points, ``is_dense = False``.
"""

from __future__ import annotations

import array

import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2, PointField
from std_msgs.msg import Header

from adu_depth_core import msg_codec as codec
from adu_depth_core.image_encodings import ENCODINGS, decode_compressed_rgb, depth_to_mm
from adu_depth_core.msg_codec import MessageError
from adu_depth_core.runtime.intrinsics import Intrinsics, IntrinsicsError, intrinsics_from_camera_info

ConversionError = MessageError  # one error for both codecs: the node catches it as a bad message

# What the node accepts as camera input (mono16 / 8UC* are not camera colour formats it converts).
INPUT_ENCODINGS = {k: ENCODINGS[k] for k in ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", "32FC1", "16UC1")}
CAMERA_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8")


def _data(values: np.ndarray) -> array.array:
    """uint8 bytes -> the array.array rclpy stores (one copy; a bytes object would be checked byte by byte)."""
    out = array.array("B")
    out.frombytes(values)
    return out


def image_to_numpy(msg: Image) -> np.ndarray:
    """Image -> array (HxW for one channel, HxWxC otherwise) in the message's own encoding."""
    return codec.image_to_array(msg, INPUT_ENCODINGS)


def image_to_rgb(msg: Image, max_pixels: int = 0) -> np.ndarray:
    """A colour or mono Image -> HxWx3 uint8 RGB (contiguous); larger than ``max_pixels`` (> 0) is refused."""
    return codec.image_to_rgb(msg, CAMERA_ENCODINGS, max_pixels)


def compressed_to_rgb(msg: CompressedImage, max_pixels: int = 0) -> np.ndarray:
    """A jpeg/png CompressedImage -> HxWx3 uint8 RGB; larger than ``max_pixels`` (> 0, from the header) is refused."""
    return decode_compressed_rgb(msg.data, msg.format, ConversionError, max_pixels)


def numpy_to_image(arr: np.ndarray, encoding: str, header: Header | None = None) -> Image:
    """Array -> Image (little-endian, packed rows); dtype and channels must match the encoding."""
    fields = codec.image_fields(arr, encoding)
    data = fields.pop("data")
    msg = Image(header=header if header is not None else Header(), **fields)
    msg.data = _data(data)
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


def point_cloud(points: np.ndarray, header: Header) -> PointCloud2:
    """Organised PointCloud2 from an (h, w) structured array (e.g. geometry.to_point_array): one field per name.

    NaN marks invalid points, so ``is_dense`` is False; ``data`` is the array's bytes.
    """
    fields = codec.cloud_fields(points)
    data = fields.pop("data")
    fields["fields"] = [PointField(name=n, offset=o, datatype=t, count=1) for n, o, t in fields["fields"]]
    msg = PointCloud2(header=header, **fields)
    msg.data = _data(data)
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
