"""bag-to-dataset: stereo bag -> folder-stereo (+ teacher pseudo-labels) -> a few distillation steps."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import yaml

from adu_depth_core.cli.main import main
from adu_depth_core.data.folder import FolderStereo

LEFT, RIGHT = "/stereo/left/image_raw", "/stereo/right/image_raw"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def stereo_bag(tmp_path_factory):
    out = tmp_path_factory.mktemp("stereo") / "bag"
    args = [
        "make-sample-bag",
        "--out",
        str(out),
        "--n",
        "3",
        "--size",
        "64x128",
        "--no-middlebury",
        "--no-lidar",
    ]
    assert main([*args, "--storage", "sqlite3", "--quiet"]) == 0
    return out


def test_dataset_matches_the_bag(stereo_bag, tmp_path):
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_typestore

    out = tmp_path / "ds"
    rc = main(
        [
            "bag-to-dataset",
            "--bag",
            str(stereo_bag),
            "--left",
            LEFT,
            "--right",
            RIGHT,
            "--depth",
            "/stereo/left/depth",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert rc == 0
    ts = get_typestore(Stores.ROS2_JAZZY)
    with Reader(stereo_bag) as r:
        msgs = {}
        for c, _, raw in r.messages():
            msgs.setdefault(c.topic, []).append(ts.deserialize_cdr(raw, c.msgtype))
    reader = FolderStereo(out)
    assert len(reader) == 3
    info_l, info_r = msgs["/stereo/left/camera_info"][0], msgs["/stereo/right/camera_info"][0]
    np.testing.assert_allclose(reader.K, info_l.p.reshape(3, 4)[:, :3])
    assert reader.baseline_m == pytest.approx(-info_r.p[3] / info_r.p[0])
    stamps = [row["stamp_ns"] for row in csv.DictReader((out / "frames.csv").open())]
    for i, sample in enumerate(reader):
        img = msgs[LEFT][i]
        assert int(stamps[i]) == img.header.stamp.sec * 10**9 + img.header.stamp.nanosec
        np.testing.assert_array_equal(sample.left, np.asarray(img.data).reshape(64, 128, 3))
        np.testing.assert_array_equal(sample.right, np.asarray(msgs[RIGHT][i].data).reshape(64, 128, 3))
        gt = np.frombuffer(bytes(msgs["/stereo/left/depth"][i].data), "<f4").reshape(64, 128)
        np.testing.assert_array_equal(sample.depth_m, gt)  # NaN sky stays NaN


def _unpaired_bag(path):
    """4 left frames; right: frame 1 missing, frame 3 is 20 ms late, plus one right frame with no left."""
    from adu_depth_core.bags import messages as M
    from adu_depth_core.bags.io import BagWriter
    from adu_depth_core.runtime.intrinsics import make_K

    K = make_K(50, 50, 31.5, 15.5)
    rgb = np.zeros((32, 64, 3), np.uint8)
    with BagWriter(path) as bag:
        for i, (t_left, t_right) in enumerate([(0, 0), (100, None), (200, 201), (300, 320), (None, 400)]):
            if t_left is not None:
                h = M.make_header(t_left * 10**6, "l")
                bag.write("/l/image_rect", M.image_msg(rgb, "rgb8", h), t_left * 10**6)
                bag.write("/l/camera_info", M.camera_info_msg(K, 64, 32, h), t_left * 10**6)
            if t_right is not None:
                h = M.make_header(t_right * 10**6, "r")
                P = np.hstack([K, [[-50 * 0.12], [0], [0]]])
                bag.write("/r/image_rect", M.image_msg(rgb + i, "rgb8", h), t_right * 10**6)
                bag.write("/r/camera_info", M.camera_info_msg(K, 64, 32, h, P=P), t_right * 10**6)


def test_unpaired_frames_are_counted(tmp_path, capsys):
    _unpaired_bag(tmp_path / "bag")
    rc = main(
        [
            "bag-to-dataset",
            "--bag",
            str(tmp_path / "bag"),
            "--left",
            "/l/image_rect",
            "--right",
            "/r/image_rect",
            "--out",
            str(tmp_path / "ds"),
            "--tolerance-ms",
            "5",
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert "2 of 4 left frames matched" in out
    assert "left frames without a right partner: 2; right messages without a left partner: 2" in out
    reader = FolderStereo(tmp_path / "ds")
    assert len(reader) == 2 and reader.baseline_m == pytest.approx(0.12)
    assert reader[1].right[0, 0, 0] == 2  # left frame 2 got right frame 2 (1 ms apart)


def test_bad_requests_are_refused(stereo_bag, tmp_path, capsys):
    rc = main(
        [
            "bag-to-dataset",
            "--bag",
            str(stereo_bag),
            "--left",
            LEFT,
            "--right",
            "/nope",
            "--out",
            str(tmp_path / "b"),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "'/nope' is not in bag" in err and RIGHT in err
    rc = main(
        [
            "bag-to-dataset",
            "--bag",
            str(stereo_bag),
            "--left",
            LEFT,
            "--right",
            RIGHT,
            "--right-info",
            "/stereo/left/camera_info",
            "--out",
            str(tmp_path / "b"),
            "--quiet",
        ]
    )
    assert rc == 2 and "no positive baseline" in capsys.readouterr().err
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x").write_text("old")
    rc = main(
        [
            "bag-to-dataset",
            "--bag",
            str(stereo_bag),
            "--left",
            LEFT,
            "--right",
            RIGHT,
            "--out",
            str(tmp_path / "c"),
            "--quiet",
        ]
    )
    assert rc == 2 and "is not empty" in capsys.readouterr().err


def test_teacher_labels_equal_the_teacher_on_the_written_images(stereo_bag, tmp_path, tiny_teacher_ckpt):
    import torch

    from adu_depth_core.models import load_model

    out = tmp_path / "ds"
    rc = main(
        [
            "bag-to-dataset",
            "--bag",
            str(stereo_bag),
            "--left",
            LEFT,
            "--right",
            RIGHT,
            "--out",
            str(out),
            "--teacher",
            str(tiny_teacher_ckpt),
            "--max-frames",
            "2",
            "--quiet",
        ]
    )
    assert rc == 0
    teacher, _ = load_model(tiny_teacher_ckpt)
    reader = FolderStereo(out, depth_dir="teacher_depth")
    assert len(reader) == 2 and yaml.safe_load((out / "calib.yaml").read_text())["teacher"] is True
    for i, sample in enumerate(reader):
        x = [torch.from_numpy(im).permute(2, 0, 1)[None].float() / 255 for im in (sample.left, sample.right)]
        with torch.no_grad():
            ref = teacher(*x, sample.K[0, 0] * sample.baseline_m)  # written at the network size: same fx
        np.testing.assert_allclose(sample.depth_m, ref["depth"][0, 0].numpy(), rtol=1e-4)
        conf = np.load(out / "confidence" / f"{i:06d}.npy")
        np.testing.assert_allclose(conf, np.exp(-np.exp(ref["log_b"][0, 0].numpy())), rtol=1e-4, atol=1e-6)
        assert (conf > 0).all() and (conf <= 1).all()


@pytest.mark.slow
def test_bag_to_dataset_then_distill_gives_a_student(stereo_bag, tmp_path, tiny_teacher_ckpt):
    from adu_depth_core.checkpoint import load_checkpoint
    from adu_depth_core.models import load_model

    ds = tmp_path / "ds"
    assert (
        main(
            [
                "bag-to-dataset",
                "--bag",
                str(stereo_bag),
                "--left",
                LEFT,
                "--right",
                RIGHT,
                "--out",
                str(ds),
                "--teacher",
                str(tiny_teacher_ckpt),
                "--quiet",
            ]
        )
        == 0
    )
    run_dir = tmp_path / "run"
    config = {  # the robot-domain adaptation recipe at test size: teacher labels as the folder's depth
        "task": "distill",
        "data": {
            "dataset": "folder",
            "kwargs": {"root": str(ds), "depth_dir": "teacher_depth", "min_confidence": 0.0},
            "height": 64,
            "width": 128,
            "batch_size": 2,
            "workers": 0,
        },
        "val": {"every": 0},
        "student": {"arch": "student", "pretrained": False, "min_depth": 0.5, "max_depth": 80.0},
        "optim": {"warmup_steps": 0},
        "train": {
            "steps": 2,
            "device": "cpu",
            "amp": False,
            "log_every": 1,
            "image_every": 0,
            "ckpt_every": 2,
        },
    }
    (tmp_path / "adapt.yaml").write_text(yaml.safe_dump(config))
    args = ["distill", "--config", str(tmp_path / "adapt.yaml"), "--teacher", str(tiny_teacher_ckpt)]
    assert main([*args, "--run-dir", str(run_dir)]) == 0
    student, card = load_model(run_dir / "model.pt")
    assert card.arch == "student" and (card.input_height, card.input_width) == (64, 128)
    saved = load_checkpoint(run_dir / "model.pt")["config"]
    assert saved["data"]["kwargs"]["root"] == str(ds) and saved["teacher_checkpoint"] == str(
        tiny_teacher_ckpt
    )


def test_teacher_labels_at_the_pairs_own_size_not_the_cards(tiny_teacher_ckpt):
    """A pair of another aspect ratio is labelled at its own size (no squash to the card's 64x128)"""
    import torch

    from adu_depth_core.bags.to_dataset import TeacherLabeler
    from adu_depth_core.models import load_model

    rng = np.random.default_rng(3)
    left, right = (rng.integers(0, 256, (96, 96, 3), dtype=np.uint8) for _ in range(2))
    K = np.array([[120.0, 0, 47.5], [0, 120.0, 47.5], [0, 0, 1]])
    depth, conf = TeacherLabeler(tiny_teacher_ckpt)(left, right, K, 0.3)
    teacher, _ = load_model(tiny_teacher_ckpt)
    x = [torch.from_numpy(im).permute(2, 0, 1)[None].float() / 255 for im in (left, right)]
    with torch.no_grad():
        ref = teacher(*x, 120.0 * 0.3)
    assert depth.shape == conf.shape == (96, 96)
    np.testing.assert_allclose(depth, ref["depth"][0, 0].numpy(), rtol=1e-4)
    np.testing.assert_allclose(conf, np.exp(-np.exp(ref["log_b"][0, 0].numpy())), rtol=1e-4, atol=1e-6)


def test_refined_labels_follow_the_refined_disparity(stereo_bag, tmp_path, tiny_teacher_ckpt, capsys):
    """--refine writes fx * B / (the teacher's disparity refined against the written pair), in the
    teacher's depth range; it needs --teacher."""
    from adu_depth_core.models import load_model
    from adu_depth_core.stereo import RefineConfig, teacher_disparity

    args = ["bag-to-dataset", "--bag", str(stereo_bag), "--left", LEFT, "--right", RIGHT, "--quiet"]
    assert main([*args, "--out", str(tmp_path / "none"), "--refine"]) == 2
    assert "give --teacher" in capsys.readouterr().err
    out = tmp_path / "ds"
    rc = main(
        [*args, "--out", str(out), "--teacher", str(tiny_teacher_ckpt), "--max-frames", "1", "--refine"]
    )
    assert rc == 0
    teacher, _ = load_model(tiny_teacher_ckpt)
    sample = FolderStereo(out, depth_dir="teacher_depth")[0]
    fx, b = float(sample.K[0, 0]), sample.baseline_m
    plain = teacher_disparity(teacher, sample.left, sample.right, fx, b, sample.left.shape[:2])
    refined = teacher_disparity(
        teacher, sample.left, sample.right, fx, b, sample.left.shape[:2], refine=RefineConfig()
    )
    np.testing.assert_allclose(sample.depth_m, refined["depth"], rtol=1e-4)
    assert not np.allclose(refined["disparity"], plain["disparity"], atol=0.05)  # the search moved it
    inside = (refined["depth"] > teacher.min_depth) & (refined["depth"] < teacher.max_depth)
    np.testing.assert_allclose((fx * b / refined["disparity"])[inside], refined["depth"][inside], rtol=1e-4)
