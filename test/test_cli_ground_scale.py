"""The ground-plane scale options, shared by ``infer``, ``bag-run``, ``bag-eval`` and ``eval``."""

from __future__ import annotations

import csv

import numpy as np
import pytest

SCALE_FLAGS = ["--scale-mode", "ground_plane", "--camera-height-m", "1.2", "--camera-pitch-deg", "3",
               "--camera-roll-deg", "-1", "--scale-window", "4", "--scale-min-confidence", "0.4"]  # fmt: skip
REQUIRED = {
    "infer": ["--input", "x.png", "--out", "o"],
    "bag-run": ["--bag", "b", "--image-topic", "/i", "--out", "o"],
    "bag-eval": ["--bag", "b", "--depth-topic", "/d", "--gt-topic", "/g"],
    "eval": ["--model", "m.pt", "--dataset", "synthetic"],
}


@pytest.mark.parametrize("command", sorted(REQUIRED))
def test_every_tool_takes_the_same_scale_options(command):
    from adu_depth_core.cli.main import build_parser
    from adu_depth_core.runtime.cli_args import scale_config_from_args
    from adu_depth_core.scale import ScaleConfig

    args = build_parser().parse_args([command, *REQUIRED[command], *SCALE_FLAGS])
    assert scale_config_from_args(args) == ScaleConfig(
        "ground_plane", 1.2, 3.0, -1.0, window=4, min_confidence=0.4
    )
    default = scale_config_from_args(build_parser().parse_args([command, *REQUIRED[command]]))
    assert not default.enabled


@pytest.fixture(scope="module")
def street_png(tmp_path_factory):
    import cv2

    from adu_depth_core.data import sequence
    from adu_depth_core.data.synthetic import StereoSynthesizer, SynthConfig

    view = sequence.view_at_height(StereoSynthesizer(SynthConfig(height=96, width=320)), 5, 1.0)
    folder = tmp_path_factory.mktemp("street")
    cv2.imwrite(str(folder / "street.png"), cv2.cvtColor(view.rgb, cv2.COLOR_RGB2BGR))
    return folder / "street.png", view


def _infer(main, png, out, *extra):
    return main(["infer", "--input", str(png), "--out", str(out), "--backend", "torch", *extra])


def test_infer_applies_the_ground_plane_scale_to_depth_and_sigma(street_png, tmp_path):
    from adu_depth_core.cli.main import main
    from adu_depth_core.scale import up_normal

    png, view = street_png
    K = view.K
    cam = ["--fx", str(K[0, 0]), "--fy", str(K[1, 1]), "--cx", str(K[0, 2]), "--cy", str(K[1, 2])]
    up = np.asarray(view.up_normal)
    pitch, roll = np.degrees(np.arcsin(-up[2])), np.degrees(np.arctan2(-up[0], -up[1]))
    assert np.allclose(up_normal(pitch, roll), up)
    mount = ["--camera-pitch-deg", str(pitch), "--camera-roll-deg", str(roll)]
    assert _infer(main, png, tmp_path / "plain", *cam) == 0
    scale = ["--scale-mode", "ground_plane", "--camera-height-m", "1.0", *mount]
    assert _infer(main, png, tmp_path / "scaled", *cam, *scale) == 0
    with open(tmp_path / "scaled" / "scales.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and rows[0]["scale_used"] == "true" and rows[0]["scale_reason"] == "ok"
    s = float(rows[0]["scale_applied"])
    assert abs(np.log(s)) > 0.05
    for kind in ("depth", "sigma"):
        plain = np.load(tmp_path / "plain" / f"street_{kind}.npy")
        scaled = np.load(tmp_path / "scaled" / f"street_{kind}.npy")
        np.testing.assert_allclose(scaled, plain * s, rtol=1e-3)


def test_infer_refuses_ground_plane_scale_without_intrinsics(street_png, tmp_path, capsys):
    from adu_depth_core.cli.main import main

    assert _infer(main, street_png[0], tmp_path / "o", "--scale-mode", "ground_plane") == 2
    assert "needs intrinsics" in capsys.readouterr().err


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A sample bag run through bag-run twice: without and with the ground-plane scale."""
    from adu_depth_core.cli.main import main

    root = tmp_path_factory.mktemp("bags")
    bag = root / "sample"
    assert main(["make-sample-bag", "--out", str(bag), "--n", "3", "--size", "96x320", "--no-middlebury",
                 "--quiet"]) == 0  # fmt: skip
    base = [
        "bag-run",
        "--bag",
        str(bag),
        "--image-topic",
        "/stereo/left/image_raw",
        "--backend",
        "torch",
        "--quiet",
    ]
    # the plain run keeps depth beyond 80 m: bag-eval's rescale can only act on depth the recording has
    assert main([*base, "--out", str(root / "plain"), "--max-depth", "1000"]) == 0
    assert main([*base, "--out", str(root / "scaled"), "--scale-mode", "ground_plane"]) == 0
    return root


def _abs_rel(main, bag, out, *extra) -> float:
    import json

    args = ["bag-eval", "--bag", str(bag), "--depth-topic", "/depth", "--gt-topic", "/stereo/left/depth"]
    assert main([*args, "--out", str(out), "--no-plots", "--quiet", *extra]) == 0
    return json.loads((out / "summary.json").read_text())["mean"]["abs_rel"]


def test_bag_run_and_bag_eval_apply_the_same_scale(runs, capsys):
    """bag-run with the scale, or bag-eval rescaling the plain run's depth: the same metrics."""
    from adu_depth_core.cli.main import main

    plain = _abs_rel(main, runs / "plain", runs / "e_plain")
    scaled = _abs_rel(main, runs / "scaled", runs / "e_scaled")
    rescaled = _abs_rel(main, runs / "plain", runs / "e_rescaled", "--scale-mode", "ground_plane",
                        "--camera-info-topic", "/depth/camera_info")  # fmt: skip
    assert abs(scaled - plain) > 1e-3  # the scale changed the depth
    assert rescaled == pytest.approx(scaled, rel=2e-3)  # and both tools agree on how


def test_bag_eval_scale_needs_camera_info(runs, capsys):
    from adu_depth_core.cli.main import main

    args = [
        "bag-eval",
        "--bag",
        str(runs / "plain"),
        "--depth-topic",
        "/depth",
        "--gt-topic",
        "/stereo/left/depth",
    ]
    assert main([*args, "--out", str(runs / "e_bad"), "--quiet", "--scale-mode", "ground_plane"]) == 2
    assert "needs --camera-info-topic" in capsys.readouterr().err


def test_eval_rescales_each_image_and_reports_it(tmp_path):
    from adu_depth_core.cli.main import main
    from adu_depth_core.runtime.estimator import DEFAULT_CHECKPOINT

    base = ["eval", "--model", str(DEFAULT_CHECKPOINT), "--dataset", "synthetic", "--data", "n=3",
            "--data", "size=[96, 320]", "--figures", "0", "--device", "cpu"]  # fmt: skip
    assert main([*base, "--out", str(tmp_path / "plain")]) == 0
    assert main([*base, "--out", str(tmp_path / "scaled"), "--scale-mode", "ground_plane"]) == 0
    rows = {}
    for name in ("plain", "scaled"):
        with open(tmp_path / name / "per_image.csv") as f:
            rows[name] = list(csv.DictReader(f))
    assert "ground_scale" not in rows["plain"][0]
    for plain, scaled in zip(rows["plain"], rows["scaled"]):
        s = float(scaled["ground_scale"])
        if scaled["ground_used"] == "True":
            assert s != 1.0  # its own ground-plane scale; an unused image keeps the previous one (1 at first)
        changed = abs(float(scaled["abs_rel"]) - float(plain["abs_rel"])) > 1e-6
        assert changed == (s != 1.0)
    assert any(r["ground_used"] == "True" for r in rows["scaled"])
