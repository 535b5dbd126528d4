"""bags.messages: rosbags sensor_msgs <-> numpy, and byte-identical layout with the ROS node's messages."""

from __future__ import annotations

import numpy as np
import pytest

from adu_depth_core.bags import messages as M
from adu_depth_core.bags.io import jazzy_typestore
from adu_depth_core.runtime.geometry import backproject, to_point_array

STAMP_NS = 1_700_000_000_123_456_789


def _roundtrip(msg):
    ts = jazzy_typestore()
    return ts.deserialize_cdr(ts.serialize_cdr(msg, msg.__msgtype__), msg.__msgtype__)


def _K(fx=50.0, fy=52.0, cx=31.5, cy=23.5):
    return np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]])


def test_header_stamp_survives_serialization_and_is_read_from_raw_cdr():
    h = M.make_header(STAMP_NS, "cam_optical_frame")
    msg = M.depth_msg(np.ones((3, 4), np.float32), h)
    raw = jazzy_typestore().serialize_cdr(msg, msg.__msgtype__)
    assert M.cdr_stamp_ns(bytes(raw)) == STAMP_NS
    back = _roundtrip(msg)
    assert M.stamp_ns(back.header) == STAMP_NS and back.header.frame_id == "cam_optical_frame"


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8", "mono8"])
def test_colour_encodings_give_rgb(encoding):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    arr = {
        "rgb8": rgb,
        "bgr8": rgb[:, :, ::-1],
        "rgba8": np.dstack([rgb, np.full((5, 7), 9, np.uint8)]),
        "bgra8": np.dstack([rgb[:, :, ::-1], np.full((5, 7), 9, np.uint8)]),
        "mono8": rgb[:, :, 0],
    }[encoding]
    msg = _roundtrip(M.image_msg(np.ascontiguousarray(arr), encoding, M.make_header(0, "c")))
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    assert msg.step == 7 * channels and msg.is_bigendian == 0
    out = M.image_to_rgb(msg)
    expected = np.repeat(rgb[:, :, :1], 3, axis=2) if encoding == "mono8" else rgb
    np.testing.assert_array_equal(out, expected)


def test_depth_32fc1_and_16uc1_follow_rep118():
    depth = np.array([[1.0, np.nan, 2.5], [0.0, 70.0, 0.0015]], np.float32)
    m32 = _roundtrip(M.depth_msg(depth, M.make_header(1, "c")))
    assert m32.encoding == "32FC1" and m32.step == 12
    back = M.depth_to_metres(m32)
    assert np.isnan(back[0, 1]) and np.isnan(back[1, 0])  # NaN and 0 are invalid
    np.testing.assert_array_equal(back[0, [0, 2]], [1.0, 2.5])
    m16 = _roundtrip(M.depth_msg(depth, M.make_header(1, "c"), "16UC1"))
    raw_mm = M.image_to_array(m16)
    # 70 m is beyond uint16 millimetres: 0 (invalid, REP 118), not a saturated 65.535 m; 1.5 mm rounds to 2
    np.testing.assert_array_equal(raw_mm, [[1000, 0, 2500], [0, 0, 2]])
    back16 = M.depth_to_metres(m16)
    assert np.isnan(back16[0, 1]) and back16[0, 2] == pytest.approx(2.5)


def test_padded_step_and_big_endian_images_parse():
    ts = jazzy_typestore()
    depth = np.arange(6, dtype=np.float32).reshape(2, 3) + 1
    rows = np.zeros((2, 16), np.uint8)  # 12 bytes of pixels + 4 padding per row
    rows[:, :12] = depth.astype(">f4").view(np.uint8).reshape(2, 12)
    msg = ts.types["sensor_msgs/msg/Image"](
        header=M.make_header(0, "c"),
        height=2,
        width=3,
        encoding="32FC1",
        is_bigendian=1,
        step=16,
        data=rows.ravel(),
    )
    np.testing.assert_array_equal(M.depth_to_metres(msg), depth)


def test_truncated_and_unsupported_images_are_refused():
    msg = M.image_msg(np.zeros((4, 5, 3), np.uint8), "rgb8", M.make_header(0, "c"))
    msg.data = msg.data[:-7]
    with pytest.raises(M.MessageError, match="truncated"):
        M.image_to_rgb(msg)
    msg = M.image_msg(np.zeros((4, 5), np.uint16), "16UC1", M.make_header(0, "c"))
    with pytest.raises(M.MessageError, match="unsupported encoding .16UC1. for the depth network"):
        M.image_to_rgb(msg)
    msg.encoding = "yuv422"
    with pytest.raises(M.MessageError, match="unsupported encoding 'yuv422'"):
        M.image_to_array(msg)


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_compressed_image_decodes_to_rgb(fmt):
    rgb = np.zeros((16, 24, 3), np.uint8)
    rgb[:, :12] = (200, 30, 10)  # red left half, blue right half
    rgb[:, 12:] = (10, 30, 200)
    msg = _roundtrip(M.compressed_image_msg(rgb, M.make_header(5, "c"), fmt))
    out = M.image_to_rgb(msg)
    if fmt == "png":  # lossless
        np.testing.assert_array_equal(out, rgb)
    else:  # lossy: colours right away from the edge (chroma is subsampled there)
        cols = list(range(6)) + list(range(18, 24))
        assert np.abs(out[:, cols].astype(int) - rgb[:, cols]).max() <= 12
    msg.data = msg.data[: len(msg.data) // 3]
    if fmt == "png":
        with pytest.raises(M.MessageError, match="could not decode"):
            M.image_to_rgb(msg)


def test_camera_info_rescale_matches_runtime_intrinsics():
    from adu_depth_core.runtime.intrinsics import scale_intrinsics

    K = _K()
    P = np.hstack([K, [[-K[0, 0] * 0.54], [0], [0]]])
    ci = _roundtrip(M.camera_info_msg(K, 64, 48, M.make_header(3, "c"), P=P))
    intr = M.camera_info_to_intrinsics(ci)
    assert intr.baseline_m == pytest.approx(0.54)
    out = M.rescaled_camera_info(ci, 96, 128, M.make_header(3, "c"))
    assert (out.width, out.height) == (128, 96)
    np.testing.assert_allclose(out.k.reshape(3, 3), scale_intrinsics(K, (48, 64), (96, 128)))
    assert M.camera_info_to_intrinsics(out).baseline_m == pytest.approx(0.54)  # Tx scales with fx
    ci.k = np.zeros(9)
    with pytest.raises(M.MessageError, match="K is unusable"):
        M.camera_info_to_intrinsics(ci)


@pytest.mark.parametrize("with_rgb", [False, True])
def test_pointcloud_layout_and_roundtrip(with_rgb):
    depth = np.full((4, 6), 2.0, np.float32)
    depth[1, 2] = np.nan
    xyz = backproject(depth, _K(cx=2.5, cy=1.5))
    rgb = np.full((4, 6, 3), 7, np.uint8) if with_rgb else None
    msg = _roundtrip(M.pointcloud_msg(to_point_array(xyz, rgb), M.make_header(9, "c")))
    assert [(f.name, f.offset, f.datatype) for f in msg.fields][:3] == [("x", 0, 7), ("y", 4, 7), ("z", 8, 7)]
    assert msg.point_step == (16 if with_rgb else 12) and msg.row_step == 6 * msg.point_step
    assert (msg.height, msg.width, msg.is_dense) == (4, 6, False)
    pts = M.pointcloud_xyz(msg)
    assert pts.shape == (23, 3)
    np.testing.assert_allclose(pts, xyz.reshape(-1, 3)[np.isfinite(xyz.reshape(-1, 3)).all(1)], rtol=1e-6)


def test_pointcloud_with_lidar_fields_and_padding_parses():
    ts = jazzy_typestore()
    PF = ts.types["sensor_msgs/msg/PointField"]
    dt = np.dtype(
        {
            "names": ["x", "y", "z", "intensity", "ring"],
            "formats": ["<f4"] * 4 + ["<u2"],
            "offsets": [0, 4, 8, 16, 20],
            "itemsize": 32,
        }
    )
    pts = np.zeros(5, dt)
    pts["x"], pts["y"], pts["z"] = np.arange(5), -np.arange(5), 3.0
    fields = [PF(name=n, offset=dt.fields[n][1], datatype=7 if n != "ring" else 4, count=1) for n in dt.names]
    msg = ts.types["sensor_msgs/msg/PointCloud2"](
        header=M.make_header(0, "velodyne"),
        height=1,
        width=5,
        fields=fields,
        is_bigendian=False,
        point_step=32,
        row_step=160,
        data=np.frombuffer(pts.tobytes(), np.uint8).copy(),
        is_dense=True,
    )
    xyz = M.pointcloud_xyz(_roundtrip(msg))
    np.testing.assert_array_equal(xyz, np.stack([np.arange(5), -np.arange(5), np.full(5, 3.0)], 1))
    msg.data = msg.data[:100]
    with pytest.raises(M.MessageError, match="truncated"):
        M.pointcloud_xyz(msg)


@pytest.mark.ros
def test_layout_is_byte_identical_to_the_ros_node_messages():
    """The same arrays through adu_depth_ros.conversions (rclpy) and bags.messages serialize to the same CDR.

    rclpy leaves CDR alignment padding uninitialised, so its bytes are normalised by a
    rosbags decode + encode before comparing; every field byte still has to match.
    """
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import CameraInfo
    from std_msgs.msg import Header

    from adu_depth_core.runtime.intrinsics import scale_intrinsics, scale_projection
    from adu_depth_ros import conversions as C

    ts = jazzy_typestore()
    header = Header(frame_id="cam_optical_frame")
    header.stamp.sec, header.stamp.nanosec = divmod(STAMP_NS, 1_000_000_000)
    rb_header = M.make_header(STAMP_NS, "cam_optical_frame")
    depth = np.random.default_rng(1).uniform(1, 20, (6, 8)).astype(np.float32)
    depth[2, 3] = np.nan
    pairs = [
        (C.depth_image(depth, header), M.depth_msg(depth, rb_header)),
        (C.depth_image(depth, header, "16UC1"), M.depth_msg(depth, rb_header, "16UC1")),
    ]
    pts = to_point_array(backproject(depth, _K(cx=3.5, cy=2.5)), np.full((6, 8, 3), 99, np.uint8))
    pairs.append((C.point_cloud(pts, header), M.pointcloud_msg(pts, rb_header)))
    K, P = _K(), np.hstack([_K(), [[-27.0], [0.0], [0.0]]])
    template = CameraInfo(
        header=header, width=64, height=48, distortion_model="plumb_bob", d=[0.1, 0, 0, 0, 0]
    )
    template.k, template.p, template.r = K.ravel(), P.ravel(), np.eye(3).ravel()
    intr = C.Intrinsics(
        128, 96, scale_intrinsics(K, (48, 64), (96, 128)), scale_projection(P, (48, 64), (96, 128))
    )
    rb_template = M.camera_info_msg(K, 64, 48, rb_header, P=P, D=np.array([0.1, 0, 0, 0, 0]))
    pairs.append(
        (
            C.intrinsics_to_camera_info(template, intr, header),
            M.rescaled_camera_info(rb_template, 96, 128, rb_header),
        )
    )
    for ros_msg, rb_msg in pairs:
        t = rb_msg.__msgtype__
        from_ros = ts.serialize_cdr(ts.deserialize_cdr(bytes(serialize_message(ros_msg)), t), t)
        assert bytes(from_ros) == bytes(ts.serialize_cdr(rb_msg, t)), t
