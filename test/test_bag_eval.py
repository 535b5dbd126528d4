"""bag-eval on bags written by the test itself with plain `rosbags` (not by the project)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from adu_depth_core.bags.evaluate import EvalConfig, evaluate_bag
from adu_depth_core.cli.main import main
from adu_depth_core.metrics import depth_metrics
from adu_depth_core.uncertainty_metrics import uncertainty_metrics

TS = get_typestore(Stores.ROS2_JAZZY)
Header, Time = TS.types["std_msgs/msg/Header"], TS.types["builtin_interfaces/msg/Time"]
Image, CameraInfo = TS.types["sensor_msgs/msg/Image"], TS.types["sensor_msgs/msg/CameraInfo"]
PointCloud2, PointField = TS.types["sensor_msgs/msg/PointCloud2"], TS.types["sensor_msgs/msg/PointField"]
RegionOfInterest = TS.types["sensor_msgs/msg/RegionOfInterest"]
H, W = 48, 96
K = np.array([[60.0, 0, 47.5], [0, 60.0, 23.5], [0, 0, 1]])
T0 = 1_650_000_000 * 10**9


def _header(t_ns, frame="cam"):
    return Header(stamp=Time(sec=t_ns // 10**9, nanosec=t_ns % 10**9), frame_id=frame)


def _image(t_ns, arr, encoding, frame="cam"):
    itemsize = arr.dtype.itemsize
    return Image(
        header=_header(t_ns, frame),
        height=H,
        width=W,
        encoding=encoding,
        is_bigendian=0,
        step=W * itemsize,
        data=np.frombuffer(arr.astype(arr.dtype.newbyteorder("<")).tobytes(), np.uint8),
    )


def _write(path, topics_msgs, storage=StoragePlugin.MCAP):
    """topics_msgs: list of (topic, t_ns, msg) in recording order."""
    with Writer(path, version=9, storage_plugin=storage) as w:
        conns = {}
        for topic, t_ns, msg in topics_msgs:
            if topic not in conns:
                conns[topic] = w.add_connection(topic, msg.__msgtype__, typestore=TS)
            w.write(conns[topic], t_ns, TS.serialize_cdr(msg, msg.__msgtype__))


def _scene(rng, i):
    """Ground truth (mm, 0 invalid), prediction and sigma (m) of frame i."""
    gt_m = rng.uniform(2.0, 60.0, (H, W))
    gt_mm = np.rint(gt_m * 1000).astype(np.uint16)
    gt_mm[:5] = 0  # sky
    gt_mm[10, 10:20] = 65000  # 65 m: valid in the bag, outside --max-depth 60 below
    pred = (gt_mm / 1000.0 * rng.uniform(0.8, 1.25, (H, W))).astype(np.float32)
    pred[:5] = rng.uniform(1, 80, (5, W))
    sigma = (np.abs(pred - gt_mm / 1000.0) * rng.uniform(0.5, 1.5, (H, W)) + 0.01).astype(np.float32)
    return gt_mm, pred, sigma


@pytest.fixture
def depth_bag(tmp_path):
    """3 matched frames (GT 2 ms after the depth), 1 depth frame without GT, 1 GT frame without depth."""
    rng = np.random.default_rng(3)
    msgs, frames = [], []
    for i in range(4):
        t = T0 + i * 100_000_000
        gt_mm, pred, sigma = _scene(rng, i)
        msgs += [("/est/depth", t, _image(t, pred, "32FC1")), ("/est/sigma", t, _image(t, sigma, "32FC1"))]
        if i != 2:  # frame 2 has no ground truth
            msgs.append(("/gt/depth_mm", t + 2_000_000, _image(t + 2_000_000, gt_mm, "16UC1")))
            frames.append((gt_mm, pred, sigma))
    t_extra = T0 + 10 * 100_000_000
    msgs.append(("/gt/depth_mm", t_extra, _image(t_extra, _scene(rng, 9)[0], "16UC1")))
    _write(tmp_path / "bag", msgs)
    return tmp_path / "bag", frames


def _reference(frames, max_depth=60.0):
    """Per-frame depth_metrics / uncertainty_metrics on the same arrays, averaged over frames."""
    per_frame = []
    for gt_mm, pred, sigma in frames:
        gt = np.where(gt_mm > 0, gt_mm / 1000.0, np.nan)
        m = depth_metrics(pred, gt, min_depth=1e-3, max_depth=max_depth)
        m.update(uncertainty_metrics(pred, gt, sigma, min_depth=1e-3, max_depth=max_depth))
        per_frame.append(m)
    return {k: float(np.mean([m[k] for m in per_frame])) for k in per_frame[0]}


def test_eval_matches_depth_metrics_on_a_bag_written_with_rosbags(depth_bag, tmp_path):
    bag, frames = depth_bag
    cfg = EvalConfig("/est/depth", "/gt/depth_mm", "/est/sigma", tolerance_ms=5.0, max_depth_m=60.0)
    res = evaluate_bag(bag, cfg, tmp_path / "eval", tmp_path / "summary.json", progress=False)
    ref = _reference(frames)
    assert res.frames_evaluated == 3 and not res.error
    for key, value in ref.items():  # the tool holds depth as float32 metres (REP 118), the reference float64
        assert res.mean[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
    assert res.unmatched == {
        "depth_without_gt": 1,
        "gt_without_depth": 1,
        "depth_without_sigma": 0,
        "sigma_without_depth": 0,
    }
    rows = list(csv.DictReader((tmp_path / "eval" / "frames.csv").open()))
    assert [int(r["stamp_ns"]) for r in rows] == [T0, T0 + 100_000_000, T0 + 300_000_000]
    assert all(float(r["dt_ms"]) == pytest.approx(2.0) for r in rows)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["mean"]["abs_rel"] == pytest.approx(ref["abs_rel"])
    for name in ("error_vs_distance.png", "sparsification.png", "worst_frames.png", "summary.json"):
        assert (tmp_path / "eval" / name).stat().st_size > 1000


def test_tolerance_below_the_offset_matches_nothing(depth_bag, tmp_path):
    bag, _ = depth_bag
    res = evaluate_bag(bag, EvalConfig("/est/depth", "/gt/depth_mm", tolerance_ms=1.0), None, progress=False)
    assert res.frames_evaluated == 0 and res.unmatched["depth_without_gt"] == 4


def test_eval_cli_missing_topic_lists_topics(depth_bag, tmp_path, capsys):
    bag, _ = depth_bag
    rc = main(
        [
            "bag-eval",
            "--bag",
            str(bag),
            "--depth-topic",
            "/est/depth",
            "--gt-topic",
            "/gt/nope",
            "--out",
            str(tmp_path / "e"),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2
    assert "'/gt/nope' is not in bag" in err and "/gt/depth_mm" in err and "/est/sigma" in err
    assert not (tmp_path / "e").exists()  # nothing written for a bad request


def _lidar_bag(path, rng):
    """Depth frames + a LiDAR cloud (lidar frame, 4 ms late) + camera_info; returns (pred, sparse GT) per frame."""
    T = np.array([[0, -1, 0, 0.1], [0, 0, -1, -0.2], [1, 0, 0, 0.3], [0, 0, 0, 1.0]])
    T_inv = np.linalg.inv(T)
    fields = [PointField(name=n, offset=4 * i, datatype=7, count=1) for i, n in enumerate("xyz")]
    fields.append(PointField(name="intensity", offset=12, datatype=7, count=1))
    msgs, frames = [], []
    for i in range(2):
        t = T0 + i * 100_000_000
        v, u = rng.integers(0, H, 300), rng.integers(0, W, 300)
        z = rng.uniform(3, 50, 300)
        sparse = np.full((H, W), np.nan)
        order = np.argsort(-z)  # the nearest point per pixel is written last and wins
        sparse[v[order], u[order]] = z[order]
        cam = np.stack([(u - K[0, 2]) / K[0, 0] * z, (v - K[1, 2]) / K[1, 1] * z, z], 1)
        lidar = cam @ T_inv[:3, :3].T + T_inv[:3, 3]
        pts = np.concatenate([lidar, rng.uniform(0, 1, (300, 1))], 1).astype("<f4")
        cloud = PointCloud2(
            header=_header(t + 4_000_000, "lidar"),
            height=1,
            width=300,
            fields=fields,
            is_bigendian=False,
            point_step=16,
            row_step=16 * 300,
            data=np.frombuffer(pts.tobytes(), np.uint8),
            is_dense=True,
        )
        pred = rng.uniform(3, 50, (H, W)).astype(np.float32)
        info = CameraInfo(
            header=_header(t),
            height=H,
            width=W,
            distortion_model="plumb_bob",
            d=np.zeros(5),
            k=K.ravel(),
            r=np.eye(3).ravel(),
            p=np.hstack([K, np.zeros((3, 1))]).ravel(),
            binning_x=0,
            binning_y=0,
            roi=RegionOfInterest(0, 0, 0, 0, False),
        )
        msgs += [
            ("/cam/camera_info", t, info),
            ("/depth", t, _image(t, pred, "32FC1")),
            ("/velodyne_points", t + 4_000_000, cloud),
        ]
        frames.append((pred, sparse))
    _write(path, msgs, StoragePlugin.SQLITE3)
    return T, frames


def test_lidar_ground_truth_through_the_cli(tmp_path, capsys):
    T, frames = _lidar_bag(tmp_path / "bag", np.random.default_rng(5))
    rc = main(
        [
            "bag-eval",
            "--bag",
            str(tmp_path / "bag"),
            "--depth-topic",
            "/depth",
            "--gt-topic",
            "/velodyne_points",
            "--gt-lidar",
            "--camera-info-topic",
            "/cam/camera_info",
            "--extrinsic",
            " ".join(map(str, T.ravel())),
            "--out",
            str(tmp_path / "e"),
            "--json",
            str(tmp_path / "s.json"),
            "--quiet",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "s.json").read_text())
    per_frame = [depth_metrics(pred, sparse) for pred, sparse in frames]
    for key in ("abs_rel", "rmse", "a1", "silog"):
        assert summary["mean"][key] == pytest.approx(np.mean([m[key] for m in per_frame]), rel=1e-6), key
    assert summary["frames_evaluated"] == 2
    assert "Eigen" in capsys.readouterr().out


def test_lidar_ground_truth_without_extrinsic_is_refused(tmp_path, capsys):
    _lidar_bag(tmp_path / "bag", np.random.default_rng(5))
    rc = main(
        [
            "bag-eval",
            "--bag",
            str(tmp_path / "bag"),
            "--depth-topic",
            "/depth",
            "--gt-topic",
            "/velodyne_points",
            "--out",
            str(tmp_path / "e"),
            "--quiet",
        ]
    )
    assert rc == 2 and "needs --camera-info-topic" in capsys.readouterr().err


def test_undecodable_message_skips_only_its_frame(tmp_path):
    rng = np.random.default_rng(0)
    gt_mm, pred, _ = _scene(rng, 0)
    with Writer(tmp_path / "bag", version=9) as w:
        d = w.add_connection("/depth", "sensor_msgs/msg/Image", typestore=TS)
        g = w.add_connection("/gt", "sensor_msgs/msg/Image", typestore=TS)
        for i in range(3):
            t = T0 + i * 10**8
            good = TS.serialize_cdr(_image(t, pred, "32FC1"), "sensor_msgs/msg/Image")
            w.write(d, t, good[:60] if i == 1 else good)  # frame 1: header intact, body cut off
            w.write(g, t, TS.serialize_cdr(_image(t, gt_mm, "16UC1"), "sensor_msgs/msg/Image"))
    res = evaluate_bag(
        tmp_path / "bag", EvalConfig("/depth", "/gt", plots=False), tmp_path / "e", progress=False
    )
    assert res.frames_evaluated == 2 and sum(res.frames_skipped.values()) == 1
    assert any("does not decode" in reason for reason in res.frames_skipped)


def _big_depth_bag(path, n=4, hw=(384, 512)):
    """n frames of 384x512 depth + GT (1.5 MB per frame, so rosbags' MCAP writer closes a chunk per frame)."""
    rng = np.random.default_rng(1)
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        d = w.add_connection("/depth", "sensor_msgs/msg/Image", typestore=TS)
        g = w.add_connection("/gt", "sensor_msgs/msg/Image", typestore=TS)
        for i in range(n):
            t = T0 + i * 10**8
            gt = rng.uniform(1, 50, hw).astype(np.float32)
            for conn, arr in ((d, gt * rng.uniform(0.9, 1.1, hw).astype(np.float32)), (g, gt)):
                msg = Image(
                    header=_header(t),
                    height=hw[0],
                    width=hw[1],
                    encoding="32FC1",
                    is_bigendian=0,
                    step=hw[1] * 4,
                    data=np.frombuffer(arr.tobytes(), np.uint8),
                )
                w.write(conn, t, TS.serialize_cdr(msg, "sensor_msgs/msg/Image"))


def test_truncated_bag_is_refused_with_a_hint_and_salvaged_on_request(tmp_path, capsys):
    _big_depth_bag(tmp_path / "bag")
    (data,) = (tmp_path / "bag").glob("*.mcap")
    data.write_bytes(data.read_bytes()[: data.stat().st_size * 3 // 5])
    args = [
        "bag-eval",
        "--bag",
        str(tmp_path / "bag"),
        "--depth-topic",
        "/depth",
        "--gt-topic",
        "/gt",
        "--no-plots",
        "--quiet",
        "--out",
        str(tmp_path / "e"),
        "--json",
        str(tmp_path / "s.json"),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "corrupt or truncated" in err and "--salvage" in err
    assert main([*args, "--salvage"]) == 0
    summary = json.loads((tmp_path / "s.json").read_text())
    assert 1 <= summary["frames_evaluated"] < 4


def test_interrupted_eval_keeps_rows_and_summary(depth_bag, tmp_path, monkeypatch):
    import adu_depth_core.bags.evaluate as evaluate

    calls = []

    def interrupt_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return depth_metrics(*args, **kwargs)

    monkeypatch.setattr(evaluate, "depth_metrics", interrupt_on_second)
    bag, _ = depth_bag
    cfg = EvalConfig("/est/depth", "/gt/depth_mm", tolerance_ms=5.0, plots=False)
    with pytest.raises(KeyboardInterrupt):
        evaluate_bag(bag, cfg, tmp_path / "e", progress=False)
    assert len(list(csv.DictReader((tmp_path / "e" / "frames.csv").open()))) == 1
    summary = json.loads((tmp_path / "e" / "summary.json").read_text())
    assert summary["frames_evaluated"] == 1 and summary["error"] == "interrupted"
