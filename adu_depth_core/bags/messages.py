"""sensor_msgs as ``rosbags`` message objects <-> numpy, laid out exactly as the ROS node publishes them.

The layout and the strictness are ``adu_depth_core.msg_codec``'s, shared with
``adu_depth_ros.conversions`` (which builds rclpy messages): images are
little-endian with packed rows (``step = width * channels * bytes``); depth is
REP 118 (32FC1 metres with NaN invalid, or 16UC1 millimetres with 0 invalid);
CameraInfo carries K (3x3) and P (3x4); PointCloud2 is organised, float32
``x, y, z`` (+ packed ``rgb``) at offsets 0, 4, 8 (12), ``point_step`` 12 (16),
``is_dense = False`` (``runtime.geometry.to_point_array``). Parsing accepts
padded ``step``, big-endian data and any PointCloud2 field layout, and refuses
truncated or too-long buffers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from adu_depth_core import msg_codec as codec
from adu_depth_core.bags.io import jazzy_typestore
from adu_depth_core.image_encodings import COLOR_ENCODINGS, DEPTH_ENCODINGS, depth_to_mm
from adu_depth_core.msg_codec import MessageError
from adu_depth_core.runtime.intrinsics import (
    Intrinsics,
    IntrinsicsError,
    check_K,
    intrinsics_from_camera_info,
)

_POINT_FIELD_DTYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 8: "f8"}


def _types() -> Any:
    return jazzy_typestore().types


# -- headers and stamps --------------------------------------------------------------------------


def make_header(stamp_ns: int, frame_id: str) -> Any:
    """std_msgs/Header for a stamp in integer nanoseconds."""
    t = _types()
    sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return t["std_msgs/msg/Header"](
        stamp=t["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec), frame_id=frame_id
    )


def stamp_ns(header: Any) -> int:
    """Integer nanoseconds of a Header's stamp."""
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def cdr_stamp_ns(data: bytes) -> int:
    """Header stamp (ns) of a serialized message whose first field is a std_msgs/Header, without decoding it.

    CDR: 4 bytes encapsulation (byte 1 = 1 for little endian), then int32 sec, uint32 nanosec.
    """
    if len(data) < 12:
        raise MessageError(f"serialized message is {len(data)} bytes, too short to hold a header")
    order = "<" if data[1] == 1 else ">"
    sec = int(np.frombuffer(data, dtype=f"{order}i4", count=1, offset=4)[0])
    nanosec = int(np.frombuffer(data, dtype=f"{order}u4", count=1, offset=8)[0])
    return sec * 1_000_000_000 + nanosec


# -- images ----------------------------------------------------------------------------------------


def image_msg(array: np.ndarray, encoding: str, header: Any) -> Any:
    """Array -> sensor_msgs/Image (little endian, packed rows); dtype and channels must fit ``encoding``."""
    fields = codec.image_fields(array, encoding)
    fields["data"] = fields["data"].copy()  # the array may be a buffer the next frame reuses
    return _types()["sensor_msgs/msg/Image"](header=header, **fields)


def image_to_array(msg: Any) -> np.ndarray:
    """sensor_msgs/Image -> array in its own encoding (HxW for one channel, HxWxC otherwise), native order."""
    return codec.image_to_array(msg)


def compressed_image_msg(rgb: np.ndarray, header: Any, fmt: str = "png") -> Any:
    """HxWx3 uint8 RGB -> sensor_msgs/CompressedImage (format 'png' or 'jpeg', as image_transport writes)."""
    import cv2

    if fmt not in ("png", "jpeg"):
        raise MessageError(f"compressed format must be 'png' or 'jpeg', got '{fmt}'")
    ok, buf = cv2.imencode(f".{'jpg' if fmt == 'jpeg' else 'png'}", np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:
        raise MessageError(f"could not encode a {rgb.shape} image as {fmt}")
    return _types()["sensor_msgs/msg/CompressedImage"](
        header=header, format=f"rgb8; {fmt} compressed bgr8", data=buf.reshape(-1).astype(np.uint8)
    )


def image_to_rgb(msg: Any, max_pixels: int = 0) -> np.ndarray:
    """A colour/mono Image or a jpeg/png CompressedImage -> HxWx3 uint8 RGB; above ``max_pixels`` (> 0) refused."""
    return codec.image_to_rgb(msg, COLOR_ENCODINGS, max_pixels)


def depth_msg(depth_m: np.ndarray, header: Any, encoding: str = "32FC1") -> Any:
    """REP 118 depth Image: 32FC1 metres (NaN invalid) or 16UC1 millimetres (0 invalid)."""
    if encoding == "32FC1":
        return image_msg(np.asarray(depth_m, dtype=np.float32), "32FC1", header)
    if encoding == "16UC1":
        return image_msg(depth_to_mm(depth_m), "16UC1", header)
    raise MessageError(f"depth encoding must be 32FC1 or 16UC1, got '{encoding}'")


def depth_to_metres(msg: Any) -> np.ndarray:
    """A depth Image (32FC1 m or 16UC1 mm) -> HxW float32 metres, NaN where invalid (non-finite, <= 0)."""
    if msg.encoding not in DEPTH_ENCODINGS:
        raise MessageError(f"depth image encoding must be 32FC1 (m) or 16UC1 (mm), got '{msg.encoding}'")
    arr = image_to_array(msg)
    depth = (arr / 1000.0).astype(np.float32) if msg.encoding == "16UC1" else arr.astype(np.float32)
    with np.errstate(invalid="ignore"):
        depth[~(depth > 0) | ~np.isfinite(depth)] = np.nan
    return depth


# -- camera_info -----------------------------------------------------------------------------------


def camera_info_msg(
    K: np.ndarray,
    width: int,
    height: int,
    header: Any,
    P: np.ndarray | None = None,
    D: np.ndarray | None = None,
    distortion_model: str = "plumb_bob",
) -> Any:
    """sensor_msgs/CameraInfo for a rectified pinhole camera (R = I; P = [K | 0] unless given)."""
    t = _types()
    K = check_K(K)
    P = np.hstack([K, np.zeros((3, 1))]) if P is None else np.asarray(P, dtype=np.float64).reshape(3, 4)
    D = np.zeros(5) if D is None else np.asarray(D, dtype=np.float64).reshape(-1)
    return t["sensor_msgs/msg/CameraInfo"](
        header=header,
        height=int(height),
        width=int(width),
        distortion_model=distortion_model,
        d=D.astype(np.float64),
        k=K.reshape(-1).copy(),
        r=np.eye(3).reshape(-1),
        p=P.reshape(-1).copy(),
        binning_x=0,
        binning_y=0,
        roi=t["sensor_msgs/msg/RegionOfInterest"](
            x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
        ),
    )


def camera_info_to_intrinsics(msg: Any) -> Intrinsics:
    """Validate a CameraInfo (size, finite positive focal lengths, P) and return K and P."""
    try:
        return intrinsics_from_camera_info(msg.width, msg.height, msg.k, msg.p)
    except IntrinsicsError as exc:
        raise MessageError(str(exc)) from None


def rescaled_camera_info(msg: Any, height: int, width: int, header: Any) -> Any:
    """The CameraInfo of ``msg``'s camera for an image resized to ``height`` x ``width`` (the node's
    ``depth/camera_info``): K and P rescaled, D, R and the distortion model kept, no binning/ROI."""
    from adu_depth_core.runtime.intrinsics import scale_intrinsics, scale_projection

    intr = camera_info_to_intrinsics(msg)
    src, dst = (intr.height, intr.width), (int(height), int(width))
    out = camera_info_msg(
        scale_intrinsics(intr.K, src, dst),
        width,
        height,
        header,
        P=scale_projection(intr.P, src, dst),
        D=np.asarray(msg.d, dtype=np.float64),
        distortion_model=msg.distortion_model,
    )
    out.r = np.asarray(msg.r, dtype=np.float64).copy()
    return out


# -- PointCloud2 -----------------------------------------------------------------------------------


def pointcloud_msg(points: np.ndarray, header: Any) -> Any:
    """Organised PointCloud2 from an (h, w) structured float32 array (``runtime.geometry.to_point_array``)."""
    t = _types()
    fields = codec.cloud_fields(points)
    field_cls = t["sensor_msgs/msg/PointField"]
    fields["fields"] = [field_cls(name=n, offset=o, datatype=d, count=1) for n, o, d in fields["fields"]]
    fields["data"] = fields["data"].copy()  # the array may be a buffer the next frame reuses
    return t["sensor_msgs/msg/PointCloud2"](header=header, **fields)


def pointcloud_to_array(msg: Any) -> np.ndarray:
    """PointCloud2 (any field layout, e.g. a LiDAR's x, y, z, intensity, ring) -> (h, w) structured array."""
    names, formats, offsets = [], [], []
    order = ">" if msg.is_bigendian else "<"
    for f in msg.fields:
        code = _POINT_FIELD_DTYPES.get(int(f.datatype))
        if code is None:
            raise MessageError(f"point field '{f.name}' has unknown datatype {f.datatype}")
        names.append(f.name)
        formats.append((order + code, (int(f.count),)) if f.count > 1 else order + code)
        offsets.append(int(f.offset))
    h, w, step, row = int(msg.height), int(msg.width), int(msg.point_step), int(msg.row_step)
    if step <= 0 or row < step * w:
        raise MessageError(f"point cloud has point_step {step} and row_step {row} for width {w}")
    if len(msg.data) < row * h:
        raise MessageError(f"point cloud data truncated: {len(msg.data)} bytes, expected {row} x {h}")
    dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": step})
    rows = np.asarray(msg.data, dtype=np.uint8)[: row * h].reshape(h, row)[:, : step * w]
    return np.ascontiguousarray(rows).view(dtype).reshape(h, w)


def pointcloud_xyz(msg: Any) -> np.ndarray:
    """(N, 3) float64 x, y, z of the finite points of a PointCloud2 (metres, in its header's frame)."""
    arr = pointcloud_to_array(msg)
    missing = [n for n in ("x", "y", "z") if n not in (arr.dtype.names or ())]
    if missing:
        raise MessageError(f"point cloud has no field(s) {missing}; fields: {list(arr.dtype.names or ())}")
    xyz = np.stack([arr[n].reshape(-1).astype(np.float64) for n in ("x", "y", "z")], axis=1)
    return xyz[np.isfinite(xyz).all(axis=1)]
