"""bag-run: the node's outputs over a bag; round trip make-sample-bag -> bag-run -> bag-eval."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from adu_depth_core.bags import messages as M
from adu_depth_core.bags.io import list_topics
from adu_depth_core.bags.run import BagRunConfig, FrameOutputs, RunStats, run_bag
from adu_depth_core.cli.main import main
from adu_depth_core.metrics import depth_metrics
from adu_depth_core.recipe import RecipeConfig

TS = get_typestore(Stores.ROS2_JAZZY)


def _read(path, topic):
    """(log time, decoded message) of a topic, read with plain rosbags."""
    with Reader(path) as r:
        conns = [c for c in r.connections if c.topic == topic]
        return [(t, TS.deserialize_cdr(raw, c.msgtype)) for c, t, raw in r.messages(connections=conns)]


def _array(msg, dtype, channels=1):
    arr = np.frombuffer(bytes(msg.data), dtype).reshape(msg.height, msg.width, channels)
    return arr[..., 0] if channels == 1 else arr


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def estimator(tiny_student_ckpt):
    from adu_depth_core.runtime import DepthEstimator

    return DepthEstimator.from_file(tiny_student_ckpt, backend="torch")


@pytest.fixture(scope="module")
def sample_bag(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample") / "bag"
    assert main(["make-sample-bag", "--out", str(out), "--n", "2", "--size", "64x128", "--quiet"]) == 0
    return out


def test_sample_bag_topics(sample_bag):
    topics = list_topics(sample_bag)
    for name in ("/stereo/left/image_raw", "/stereo/right/image_raw", "/stereo/left/depth", "/lidar/points"):
        assert topics[name].count == 2
    (info,) = [m for _, m in _read(sample_bag, "/stereo/right/camera_info")][:1]
    assert -info.p[3] / info.p[0] == pytest.approx(0.54)  # Tx = -fx * baseline
    assert (sample_bag / "T_cam_lidar.yaml").is_file()
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    (mcap_file,) = sample_bag.glob("*.mcap")
    with mcap_file.open("rb") as f:
        decoded = [
            (c.topic, m)
            for _, c, _, m in make_reader(f, decoder_factories=[DecoderFactory()]).iter_decoded_messages()
        ]
    assert sum(t == "/lidar/points" for t, _ in decoded) == 2
    assert {m.header.frame_id for t, m in decoded if t == "/lidar/points"} == {"lidar"}
    ((_, mid),) = _read(sample_bag, "/middlebury/left/depth")
    depth = _array(mid, "<f4")
    assert (
        depth.shape == (500, 741) and 2.0 < np.nanmin(depth) < np.nanmax(depth) < 5.1
    )  # Middlebury calibration: 2.1-5.0 m


def test_sample_bag_lidar_agrees_with_its_dense_ground_truth(sample_bag, tmp_path):
    """The LiDAR cloud, projected with the bag's T_cam_lidar.yaml, lands on the dense depth (axes/extrinsic right)."""
    summary = tmp_path / "s.json"
    rc = main(
        [
            "bag-eval",
            "--bag",
            str(sample_bag),
            "--depth-topic",
            "/stereo/left/depth",
            "--gt-topic",
            "/lidar/points",
            "--camera-info-topic",
            "/stereo/left/camera_info",
            "--extrinsic",
            str(sample_bag / "T_cam_lidar.yaml"),
            "--max-depth",
            "250",
            "--json",
            str(summary),
            "--out",
            str(tmp_path / "e"),
            "--no-plots",
            "--quiet",
        ]
    )
    assert rc == 0
    result = json.loads(summary.read_text())
    assert (
        result["frames_evaluated"] == 2 and result["unmatched"]["depth_without_gt"] == 0
    )  # 3 ms apart, matched
    assert result["mean"]["a1"] > 0.95 and result["mean"]["abs_rel"] < 0.05


def test_round_trip_sample_bag_run_eval(sample_bag, tmp_path, tiny_student_ckpt, estimator):
    run_bag_path, summary = tmp_path / "run", tmp_path / "summary.json"
    rc = main(
        [
            "bag-run",
            "--bag",
            str(sample_bag),
            "--model",
            str(tiny_student_ckpt),
            "--image-topic",
            "/stereo/left/image_raw",
            "--out",
            str(run_bag_path),
            "--points",
            "--quiet",
        ]
    )
    assert rc == 0
    rc = main(
        [
            "bag-eval",
            "--bag",
            str(run_bag_path),
            "--depth-topic",
            "/depth",
            "--gt-topic",
            "/stereo/left/depth",
            "--uncertainty-topic",
            "/depth/uncertainty",
            "--json",
            str(summary),
            "--out",
            str(tmp_path / "eval"),
            "--no-plots",
            "--quiet",
        ]
    )
    assert rc == 0
    # reference: the same images through the estimator, the node's valid range, depth_metrics per frame
    est = estimator
    images, gts = _read(sample_bag, "/stereo/left/image_raw"), _read(sample_bag, "/stereo/left/depth")
    per_frame, preds = [], []
    for (_, img), (_, gt) in zip(images, gts):
        pred = est.infer(_array(img, np.uint8, 3)).depth_m
        pred = np.where((pred >= 0.1) & (pred <= 80.0), pred, np.nan)
        preds.append(pred)
        per_frame.append(depth_metrics(pred, _array(gt, "<f4")))
    result = json.loads(summary.read_text())
    assert result["frames_evaluated"] == 2
    for key in per_frame[0]:
        assert result["mean"][key] == pytest.approx(np.mean([m[key] for m in per_frame]), rel=1e-5), key
    # the outputs carry the input's header and recording time
    depth_out = _read(run_bag_path, "/depth")
    for (t_in, img), (t_out, d), pred in zip(images, depth_out, preds):
        assert t_out == t_in and M.stamp_ns(d.header) == M.stamp_ns(img.header)
        assert d.header.frame_id == img.header.frame_id == "stereo_left_optical_frame"
        np.testing.assert_allclose(_array(d, "<f4"), pred, rtol=1e-5, equal_nan=True)


def test_run_bag_opens_with_the_mcap_reader(sample_bag, tmp_path, tiny_student_ckpt):
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    rc = main(
        [
            "bag-run",
            "--bag",
            str(sample_bag),
            "--model",
            str(tiny_student_ckpt),
            "--image-topic",
            "/stereo/left/image_raw",
            "--out",
            str(tmp_path / "run"),
            "--points",
            "--color",
            "--no-copy",
            "--quiet",
        ]
    )
    assert rc == 0
    (mcap_file,) = (tmp_path / "run").glob("*.mcap")
    seen = {}
    with mcap_file.open("rb") as f:
        for _, channel, _, msg in make_reader(
            f, decoder_factories=[DecoderFactory()]
        ).iter_decoded_messages():
            seen.setdefault(channel.topic, []).append(msg)
    assert sorted(seen) == ["/depth", "/depth/camera_info", "/depth/color", "/depth/uncertainty", "/points"]
    cloud = seen["/points"][0]
    assert [(f.name, f.offset) for f in cloud.fields] == [("x", 0), ("y", 4), ("z", 8), ("rgb", 12)]
    assert (cloud.height, cloud.width, cloud.point_step, cloud.is_dense) == (64, 128, 16, False)
    assert seen["/depth"][1].encoding == "32FC1" and seen["/depth/color"][0].encoding == "rgb8"
    assert seen["/depth/camera_info"][0].width == 128


def test_cli_honours_colour_range_and_encoding(sample_bag, tmp_path, tiny_student_ckpt):
    """Output settings reach the outputs: the fixed colour range and 16UC1 (resolution: test_recipe.py)."""
    from adu_depth_core.runtime.colormap import colorize_depth

    flags = ["--color-min-depth", "2", "--color-max-depth", "30"]
    flags += ["--depth-encoding", "16UC1", "--color", "--no-copy", "--quiet"]
    out = tmp_path / "run"
    args = ["bag-run", "--bag", str(sample_bag), "--model", str(tiny_student_ckpt)]
    assert main([*args, "--image-topic", "/stereo/left/image_raw", "--out", str(out), *flags]) == 0
    (_, depth), (_, color) = _read(out, "/depth")[0], _read(out, "/depth/color")[0]
    assert (depth.encoding, depth.height, depth.width) == ("16UC1", 64, 128)
    depth_m = _array(depth, "<u2").astype(np.float32) / 1000.0
    depth_m[depth_m == 0] = np.nan
    want = colorize_depth(depth_m, 2.0, 30.0)
    got = _array(color, np.uint8, 3)
    assert got.shape == want.shape
    assert np.mean(np.abs(got.astype(int) - want.astype(int)) <= 8) > 0.99  # mm rounding moves a few levels
    assert not np.array_equal(got, colorize_depth(depth_m))  # not the automatic range


def _compressed_bag(path, n=3, bad=1):
    """CompressedImage frames (frame ``bad`` truncated) + camera_info, written with plain rosbags."""
    from adu_depth_core.runtime.intrinsics import make_K

    rng = np.random.default_rng(0)
    with Writer(path, version=9, storage_plugin=StoragePlugin.SQLITE3) as w:
        ci = w.add_connection("/cam/image/compressed", "sensor_msgs/msg/CompressedImage", typestore=TS)
        cc = w.add_connection("/cam/camera_info", "sensor_msgs/msg/CameraInfo", typestore=TS)
        for i in range(n):
            t = 5 * 10**9 + i * 10**8
            header = M.make_header(t, "cam_optical")
            msg = M.compressed_image_msg(rng.integers(0, 255, (48, 96, 3), dtype=np.uint8), header, "jpeg")
            if i == bad:
                msg.data = msg.data[: len(msg.data) // 4]
            w.write(ci, t, TS.serialize_cdr(msg, msg.__msgtype__))
            info = M.camera_info_msg(make_K(80, 80, 47.5, 23.5), 96, 48, header)
            w.write(cc, t, TS.serialize_cdr(info, info.__msgtype__))


def test_compressed_input_bad_frame_skipped_sqlite_output(tmp_path, tiny_student_ckpt, capsys):
    _compressed_bag(tmp_path / "in")
    rc = main(
        [
            "bag-run",
            "--bag",
            str(tmp_path / "in"),
            "--model",
            str(tiny_student_ckpt),
            "--image-topic",
            "/cam/image/compressed",
            "--out",
            str(tmp_path / "out"),
            "--storage",
            "sqlite3",
            "--namespace",
            "front",
            "--output-resolution",
            "network",
            "--quiet",
        ]
    )
    assert rc == 0
    assert "skipped 1 frame(s): could not decode compressed image" in capsys.readouterr().err
    topics = list_topics(tmp_path / "out")
    assert topics["/front/depth"].count == 2 and topics["/front/depth/camera_info"].count == 2
    assert topics["/cam/image/compressed"].count == 3  # inputs copied, the bad frame too
    (_, info), _ = _read(tmp_path / "out", "/front/depth/camera_info")
    (_, depth), _ = _read(tmp_path / "out", "/front/depth")
    assert (depth.height, depth.width) == (info.height, info.width) == (64, 128)  # the network's size
    from adu_depth_core.runtime.intrinsics import make_K, scale_intrinsics

    np.testing.assert_allclose(
        info.k.reshape(3, 3), scale_intrinsics(make_K(80, 80, 47.5, 23.5), (48, 96), (64, 128))
    )


class _InterruptAt:
    """A real estimator that raises KeyboardInterrupt on its n-th frame (a user's Ctrl-C mid-run)."""

    def __init__(self, est, n):
        self.est, self.n, self.calls = est, n, 0

    def infer(self, rgb, output="input", **camera):
        self.calls += 1
        if self.calls == self.n:
            raise KeyboardInterrupt
        return self.est.infer(rgb, output=output, **camera)


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_interrupted_run_keeps_the_frames_done(sample_bag, tmp_path, estimator, storage):
    est = _InterruptAt(estimator, n=2)
    stats = RunStats()
    cfg = BagRunConfig(image_topic="/stereo/left/image_raw", storage=storage)
    with pytest.raises(KeyboardInterrupt):
        run_bag(sample_bag, est, tmp_path / "out", cfg, progress=False, stats=stats)
    assert stats.processed == 1
    topics = list_topics(tmp_path / "out")
    assert topics["/depth"].count == 1 and topics["/depth/uncertainty"].count == 1
    assert len(_read(tmp_path / "out", "/depth")) == 1


def test_missing_image_topic_is_a_clear_cli_error(sample_bag, tmp_path, tiny_student_ckpt, capsys):
    rc = main(
        [
            "bag-run",
            "--bag",
            str(sample_bag),
            "--model",
            str(tiny_student_ckpt),
            "--image-topic",
            "/cam/nope",
            "--out",
            str(tmp_path / "out"),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "'/cam/nope' is not in bag" in err and "/stereo/left/image_raw" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.ros
def test_outputs_equal_the_depth_node_pipeline(estimator):
    """FrameOutputs (rosbags) and the node's FrameProcessor (rclpy) give the same messages for one frame."""
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import CameraInfo
    from std_msgs.msg import Header

    from adu_depth_core.runtime.intrinsics import make_K
    from adu_depth_ros import conversions as C
    from adu_depth_ros.params import DepthNodeConfig
    from adu_depth_ros.pipeline import CameraInfoCache, FrameProcessor

    est = estimator
    rgb = np.random.default_rng(2).integers(0, 255, (48, 96, 3), dtype=np.uint8)
    K = make_K(80, 82, 47.5, 23.5)
    t_ns = 7 * 10**9 + 123
    header = Header(frame_id="cam_optical")
    header.stamp.sec, header.stamp.nanosec = divmod(t_ns, 10**9)
    info = CameraInfo(header=header, width=96, height=48, distortion_model="plumb_bob", d=[0.0] * 5)
    info.k, info.r, info.p = K.ravel(), np.eye(3).ravel(), np.hstack([K, np.zeros((3, 1))]).ravel()
    infos = CameraInfoCache()
    infos.add(info)
    params = {
        "max_relative_sigma": 0.5,
        "points_stride": 2,
        "min_depth_m": 0.5,
        "color_min_depth_m": 1.0,
        "color_max_depth_m": 30.0,
        "depth_encoding": "16UC1",
    }
    node_out = (
        FrameProcessor(est, infos)
        .run(
            C.numpy_to_image(rgb, "rgb8", header),
            DepthNodeConfig.from_values(params),
            frozenset({"depth", "uncertainty", "camera_info", "color", "points"}),
        )
        .messages
    )
    cfg = BagRunConfig(image_topic="/x", points=True, color=True, outputs=RecipeConfig(**params))
    rb_header = M.make_header(t_ns, "cam_optical")
    ours = FrameOutputs(est, cfg)(
        M.image_msg(rgb, "rgb8", rb_header), M.camera_info_msg(K, 96, 48, rb_header), RunStats()
    )
    assert sorted(ours) == sorted(node_out)
    for name, rb_msg in ours.items():
        t = rb_msg.__msgtype__
        from_node = TS.serialize_cdr(TS.deserialize_cdr(bytes(serialize_message(node_out[name])), t), t)
        assert bytes(from_node) == bytes(TS.serialize_cdr(rb_msg, t)), name
