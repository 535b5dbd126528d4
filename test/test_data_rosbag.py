"""Stereo rosbag2 reader on real bags written with rosbags (sqlite3 and MCAP, Jazzy types)."""

from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install '.[bags]')")

from rosbags.rosbag2 import StoragePlugin, Writer  # noqa: E402
from rosbags.typesys import Stores, get_typestore  # noqa: E402

from adu_depth_core.data import DataError, build_reader  # noqa: E402
from adu_depth_core.data.rosbag import RosbagStereo, info_topic_for  # noqa: E402

TS = get_typestore(Stores.ROS2_JAZZY)
T = TS.types
H, W, FX, B = 48, 64, 40.0, 0.12
LEFT, RIGHT, DEPTH = "/stereo/left/image_rect", "/stereo/right/image_rect/compressed", "/stereo/depth"


def _header(ns, frame="cam"):
    return T["std_msgs/msg/Header"](
        stamp=T["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9), frame_id=frame
    )


def _info(ns, tx):
    K = np.array([FX, 0, W / 2, 0, FX, H / 2, 0, 0, 1.0])
    P = np.array([FX, 0, W / 2, tx, 0, FX, H / 2, 0, 0, 0, 1, 0.0])
    roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return T["sensor_msgs/msg/CameraInfo"](
        header=_header(ns),
        height=H,
        width=W,
        distortion_model="plumb_bob",
        d=np.zeros(5),
        k=K,
        r=np.eye(3).ravel(),
        p=P,
        binning_x=0,
        binning_y=0,
        roi=roi,
    )


def _bgr_image(ns, rgb):
    data = np.ascontiguousarray(rgb[:, :, ::-1]).reshape(-1)
    return T["sensor_msgs/msg/Image"](
        header=_header(ns), height=H, width=W, encoding="bgr8", is_bigendian=0, step=W * 3, data=data
    )


def _png(ns, rgb):
    ok, buf = cv2.imencode(".png", rgb[:, :, ::-1])
    return T["sensor_msgs/msg/CompressedImage"](
        header=_header(ns), format="rgb8; png compressed bgr8", data=buf.reshape(-1)
    )


def _depth(ns, depth_m):
    data = depth_m.astype("<f4").reshape(-1).view(np.uint8)
    return T["sensor_msgs/msg/Image"](
        header=_header(ns), height=H, width=W, encoding="32FC1", is_bigendian=0, step=W * 4, data=data.copy()
    )


def _write_bag(path, storage, frames):
    """frames: list of (stamp_ns, left rgb, right rgb, depth); right stamps are 1 ms late; one stray right."""
    with Writer(path, version=9, storage_plugin=storage) as w:
        conns = {
            LEFT: w.add_connection(LEFT, "sensor_msgs/msg/Image", typestore=TS),
            RIGHT: w.add_connection(RIGHT, "sensor_msgs/msg/CompressedImage", typestore=TS),
            "/stereo/left/camera_info": w.add_connection(
                "/stereo/left/camera_info", "sensor_msgs/msg/CameraInfo", typestore=TS
            ),
            "/stereo/right/camera_info": w.add_connection(
                "/stereo/right/camera_info", "sensor_msgs/msg/CameraInfo", typestore=TS
            ),
            DEPTH: w.add_connection(DEPTH, "sensor_msgs/msg/Image", typestore=TS),
        }

        def put(topic, msg, ns):
            w.write(conns[topic], ns, TS.serialize_cdr(msg, msg.__msgtype__))

        for k, (ns, left, right, depth) in enumerate(frames):
            put("/stereo/left/camera_info", _info(ns, 0.0), ns)
            put("/stereo/right/camera_info", _info(ns, -FX * B), ns)
            put(LEFT, _bgr_image(ns, left), ns + 5_000_000)  # logged later than stamped, as on a real robot
            put(RIGHT, _png(ns + 1_000_000, right), ns + 6_000_000)
            if k != 1:
                put(DEPTH, _depth(ns, depth), ns + 7_000_000)
        put(RIGHT, _png(frames[-1][0] + 50_000_000, frames[0][2]), frames[-1][0] + 60_000_000)


@pytest.fixture
def frames():
    rng = np.random.default_rng(1)
    out = []
    for k in range(3):
        depth = rng.uniform(1, 10, size=(H, W)).astype(np.float32)
        depth[0] = np.nan
        out.append(
            (
                10**9 * (k + 1),
                rng.integers(0, 256, (H, W, 3), np.uint8),
                rng.integers(0, 256, (H, W, 3), np.uint8),
                depth,
            )
        )
    return out


@pytest.mark.parametrize("storage", [StoragePlugin.SQLITE3, StoragePlugin.MCAP])
def test_stereo_bag_pairs_by_stamp_with_calibration(tmp_path, frames, storage):
    bag = tmp_path / "bag"
    _write_bag(bag, storage, frames)
    r = RosbagStereo(bag, LEFT, RIGHT, depth_topic=DEPTH, max_dt_s=0.002)
    assert len(r) == 3  # the stray right image 50 ms away has no partner
    assert r.baseline_m == pytest.approx(B) and r.K[0, 0] == FX and r.K[0, 2] == W / 2
    for k, (_, left, right, depth) in enumerate(frames):
        s = pickle.loads(pickle.dumps(r))[k] if k == 2 else r[k]
        np.testing.assert_array_equal(s.left, left)
        np.testing.assert_array_equal(s.right, right)
        if k == 1:
            assert s.depth_m is None  # this frame's depth message was dropped
        else:
            np.testing.assert_array_equal(s.depth_m, depth)
            assert not s.valid[0].any() and s.valid[1:].all()


def test_tolerance_and_errors(tmp_path, frames):
    bag = tmp_path / "bag"
    _write_bag(bag, StoragePlugin.SQLITE3, frames)
    with pytest.raises(DataError, match=r"no left/right pairs within 0.5 ms"):
        RosbagStereo(bag, LEFT, RIGHT, max_dt_s=0.0005)
    with pytest.raises(DataError, match=r"left topic '/nope' is not in bag .*topics there: .*/stereo/depth"):
        RosbagStereo(bag, "/nope", RIGHT)
    with pytest.raises(DataError, match=r"no positive baseline .*pass baseline_m"):
        RosbagStereo(bag, LEFT, RIGHT, right_info_topic="/stereo/left/camera_info")
    ok = RosbagStereo(bag, LEFT, RIGHT, right_info_topic="/stereo/left/camera_info", baseline_m=0.3)
    assert ok.baseline_m == 0.3
    assert len(build_reader("rosbag", path=bag, left_topic=LEFT, right_topic=RIGHT)) == 3


def test_info_topic_next_to_image_topic():
    assert info_topic_for("/cam/left/image_rect") == "/cam/left/camera_info"
    assert info_topic_for("/cam/right/image_rect/compressed") == "/cam/right/camera_info"


def _cloud(ns, xyz):
    fields = [
        T["sensor_msgs/msg/PointField"](name=n, offset=4 * k, datatype=7, count=1)
        for k, n in enumerate("xyz")
    ]
    data = np.ascontiguousarray(xyz, dtype="<f4").reshape(-1).view(np.uint8)
    return T["sensor_msgs/msg/PointCloud2"](
        header=_header(ns, "lidar"),
        height=1,
        width=len(xyz),
        fields=fields,
        is_bigendian=False,
        point_step=12,
        row_step=12 * len(xyz),
        data=data.copy(),
        is_dense=True,
    )


def test_lidar_pointcloud_ground_truth(tmp_path, frames):
    bag = tmp_path / "bag"
    _write_bag(bag, StoragePlugin.MCAP, frames[:1])
    ns = frames[0][0]
    # LiDAR frame: x forward, y left, z up (REP 103); camera optical: x right, y down, z forward
    T_cam_lidar = np.array([[0, -1, 0, 0.0], [0, 0, -1, 0.1], [1, 0, 0, -0.2], [0, 0, 0, 1]])
    pts = np.array([[10.0, 0.0, 0.0], [5.0, -1.0, 0.5], [-4.0, 0.0, 0.0]])  # the last one is behind
    with Writer(tmp_path / "cloud", version=9, storage_plugin=StoragePlugin.SQLITE3) as w:
        conns = {}
        for topic, msgtype in (
            (LEFT, "sensor_msgs/msg/Image"),
            (RIGHT, "sensor_msgs/msg/CompressedImage"),
            ("/stereo/left/camera_info", "sensor_msgs/msg/CameraInfo"),
            ("/stereo/right/camera_info", "sensor_msgs/msg/CameraInfo"),
            ("/lidar/points", "sensor_msgs/msg/PointCloud2"),
        ):
            conns[topic] = w.add_connection(topic, msgtype, typestore=TS)
        for topic, msg in (
            (LEFT, _bgr_image(ns, frames[0][1])),
            (RIGHT, _png(ns, frames[0][2])),
            ("/stereo/left/camera_info", _info(ns, 0.0)),
            ("/stereo/right/camera_info", _info(ns, -FX * B)),
            ("/lidar/points", _cloud(ns, pts)),
        ):
            w.write(conns[topic], ns, TS.serialize_cdr(msg, msg.__msgtype__))
    with pytest.raises(DataError, match="pass lidar_extrinsic"):
        RosbagStereo(tmp_path / "cloud", LEFT, RIGHT, depth_topic="/lidar/points")
    spec = " ".join(str(x) for x in T_cam_lidar.ravel())
    s = RosbagStereo(tmp_path / "cloud", LEFT, RIGHT, depth_topic="/lidar/points", lidar_extrinsic=spec)[0]
    cam = pts @ T_cam_lidar[:3, :3].T + T_cam_lidar[:3, 3]
    assert np.isfinite(s.depth_m).sum() == 2
    for x, y, z in cam[:2]:
        u, v = int(round(FX * x / z + W / 2)), int(round(FX * y / z + H / 2))
        assert s.depth_m[v, u] == pytest.approx(z)


def test_rectify_applies_the_camera_info_rotation(tmp_path):
    rng = np.random.default_rng(5)
    raw = cv2.GaussianBlur(rng.integers(0, 256, (H, W, 3), np.uint8), (5, 5), 1.5)
    a = np.deg2rad(3.0)
    R = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    K = np.array([[FX, 0, W / 2], [0, FX, H / 2], [0, 0, 1]])
    with Writer(tmp_path / "raw", version=9, storage_plugin=StoragePlugin.SQLITE3) as w:
        conns = {
            t: w.add_connection(t, m, typestore=TS)
            for t, m in (
                ("/l/image_raw", "sensor_msgs/msg/Image"),
                ("/r/image_raw", "sensor_msgs/msg/Image"),
                ("/l/camera_info", "sensor_msgs/msg/CameraInfo"),
                ("/r/camera_info", "sensor_msgs/msg/CameraInfo"),
            )
        }
        for side, tx in (("l", 0.0), ("r", -FX * B)):
            info = _info(10, tx)
            info.r = R.ravel().copy()
            w.write(conns[f"/{side}/camera_info"], 10, TS.serialize_cdr(info, info.__msgtype__))
            img = _bgr_image(10, raw)
            w.write(conns[f"/{side}/image_raw"], 10, TS.serialize_cdr(img, img.__msgtype__))
    s = RosbagStereo(tmp_path / "raw", "/l/image_raw", "/r/image_raw", rectify=True)[0]
    expected = cv2.warpPerspective(raw, K @ R @ np.linalg.inv(K), (W, H), flags=cv2.INTER_LINEAR)
    inner = (slice(8, H - 8), slice(12, W - 12))
    err = np.abs(s.left[inner].astype(int) - expected[inner]).mean()
    assert err < 2.0 and np.abs(raw[inner].astype(int) - expected[inner]).mean() > 4 * max(err, 0.5)
