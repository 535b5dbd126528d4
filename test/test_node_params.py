"""Parameters: declarations as data, config/depth.yaml in sync, validation, and run-time changes on a real node."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.ros

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "depth.yaml"


def _flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        out.update(_flatten(value, name + ".") if isinstance(value, dict) else {name: value})
    return out


def test_config_fields_match_param_specs():
    from adu_depth_ros.params import PARAMS, DepthNodeConfig

    assert [f.name for f in dataclasses.fields(DepthNodeConfig)] == [p.field for p in PARAMS]
    assert len({p.name for p in PARAMS}) == len(PARAMS)
    assert all(p.description.strip() for p in PARAMS)


def test_yaml_lists_every_parameter_with_its_default():
    from adu_depth_ros.params import PARAMS

    doc = yaml.safe_load(CONFIG.read_text())
    assert list(doc) == ["/**"], "config must use the '/**' wildcard so it applies under any namespace"
    values = _flatten(doc["/**"]["ros__parameters"])
    assert set(values) == {p.name for p in PARAMS}
    for p in PARAMS:
        assert type(values[p.name]) is type(p.default), p.name
        assert values[p.name] == p.default, p.name


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"backend": "cuda"}, "backend: 'cuda' is not one of auto, tensorrt, onnxruntime, torch"),
        ({"output_resolution": "half"}, "not one of camera, network"),
        ({"points_stride": 0}, "points_stride: 0 is below the minimum 1"),
        ({"max_relative_sigma": -0.1}, "below the minimum"),
        ({"min_depth_m": "1"}, "min_depth_m: expected float"),
        ({"publish_points": 1}, "publish_points: expected bool"),
        ({"points_stride": 2.0}, "points_stride: expected int"),
        ({"min_depth_m": 5.0, "max_depth_m": 5.0}, r"min_depth_m \(5.0\) must be below max_depth_m \(5.0\)"),
        ({"color_min_depth_m": 9.0, "color_max_depth_m": 3.0}, "color_min_depth_m"),
        ({"device": "gpu0"}, "device: 'gpu0'"),
        ({"model_path": " "}, "model_path is empty"),
        ({"no_such_param": 1}, "unknown parameter"),
        ({"network_size": "300x400"}, "network_size: network input size must be positive multiples of 32"),
        ({"network_size": "big"}, "network_size: size must look like HxW"),
    ],
)
def test_validation_refuses_with_clear_message(changes, match):
    from adu_depth_ros.params import DepthNodeConfig, ParameterError

    with pytest.raises(ParameterError, match=match):
        DepthNodeConfig.from_values(changes)


def test_valid_changes_and_int_accepted_for_float():
    from adu_depth_ros.params import DepthNodeConfig

    cfg = DepthNodeConfig.from_values({})
    new = cfg.updated({"max_depth_m": 20, "device": "cuda:1"})
    assert new.max_depth_m == 20.0 and isinstance(new.max_depth_m, float) and new.device == "cuda:1"
    assert new.model_changes(cfg) and not cfg.updated({"points_stride": 4}).model_changes(cfg)


def test_descriptors_carry_ranges_and_read_only():
    from adu_depth_ros.params import SPECS

    d = SPECS["max_depth_m"].descriptor()
    assert d.floating_point_range[0].from_value == 0.01 and d.floating_point_range[0].to_value == 1000.0
    s = SPECS["points_stride"].descriptor()
    assert (s.integer_range[0].from_value, s.integer_range[0].to_value) == (1, 64)
    assert SPECS["publish_points"].descriptor().read_only and not SPECS["min_depth_m"].descriptor().read_only
    assert "onnxruntime" in SPECS["backend"].descriptor().additional_constraints


# -- on a real node -------------------------------------------------------------------------------


def test_node_reads_params_file_under_a_namespace(ctx, tiny_student_ckpt):
    from adu_depth_ros.depth_node import DepthNode
    from adu_depth_ros.params import DepthNodeConfig

    args = [
        "--ros-args",
        "--params-file",
        str(CONFIG),
        "-p",
        f"model_path:={tiny_student_ckpt}",
        "-p",
        "points_stride:=3",
    ]
    node = DepthNode(context=ctx, namespace="cam_a", cli_args=args)
    try:
        expected = DepthNodeConfig.from_values({"model_path": str(tiny_student_ckpt), "points_stride": 3})
        assert node.cfg == expected
        assert node.get_parameter("input_qos.reliability").value == "best_effort"
        assert node.get_parameter("points_stride").value == 3
    finally:
        node.destroy_node()


def test_bad_startup_parameter_is_refused(ctx):
    from adu_depth_ros.depth_node import DepthNode
    from adu_depth_ros.params import ParameterError

    with pytest.raises(ParameterError, match="must be below max_depth_m"):
        DepthNode(context=ctx, cli_args=["--ros-args", "-p", "min_depth_m:=9.0", "-p", "max_depth_m:=3.0"])


@pytest.mark.parametrize(
    "arg,match",
    [
        ("points_stride:=0", "points_stride"),
        ("min_depth_m:=abc", "min_depth_m"),
        ("backend:=gpu", "backend: 'gpu'"),
    ],
)
def test_console_script_exits_with_message_on_bad_parameter(arg, match):
    code = "import sys; from adu_depth_ros.depth_node import main; sys.exit(main(sys.argv))"
    proc = subprocess.run(
        [sys.executable, "-c", code, "--ros-args", "-p", arg],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 2, proc.stderr
    assert "invalid parameter" in proc.stderr and match in proc.stderr


def test_thresholds_change_at_run_time(ctx, tiny_student_ckpt):
    from adu_depth_ros.conversions import image_to_numpy, point_cloud_to_numpy
    from adu_depth_ros.testing import gradient_image, make_camera_info, running_node

    params = {"model_path": str(tiny_student_ckpt), "max_relative_sigma": 0.0}
    with running_node(ctx, params, namespace="rt") as (node, probe):
        info = make_camera_info(64, 48, 40.0, 40.0, 32.0, 24.0)
        rgb = gradient_image(48, 64)
        first = image_to_numpy(probe.request(rgb, info, ["depth"])["depth"])
        assert np.isfinite(first).all()
        cut = float(np.median(first))

        res = probe.set_params("/rt/depth_node", {"min_depth_m": 100.0})
        assert not res[0].successful and "must be below max_depth_m" in res[0].reason
        res = probe.set_params("/rt/depth_node", {"publish_points": False})
        assert not res[0].successful  # read-only: fixed at start-up
        res = probe.set_params("/rt/depth_node", {"max_depth_m": cut, "points_stride": 4})
        assert all(r.successful for r in res), [r.reason for r in res]
        assert node.cfg.max_depth_m == pytest.approx(cut) and node.get_parameter("points_stride").value == 4

        got = probe.request(rgb, info, ["depth", "points"])
        depth = image_to_numpy(got["depth"])
        np.testing.assert_array_equal(np.isnan(depth), first > cut)  # same frame, new threshold
        np.testing.assert_allclose(depth[first <= cut], first[first <= cut], rtol=1e-5)
        cloud = point_cloud_to_numpy(got["points"])
        assert cloud["z"].shape == (12, 16)


def test_network_size_runs_a_checkpoint_at_that_input(tiny_canonical_ckpt):
    """A 4:3 camera keeps its aspect ratio: the estimator runs at network_size, and fx still sets the scale."""
    from adu_depth_ros.model_loading import load_estimator
    from adu_depth_ros.params import DepthNodeConfig

    cfg = DepthNodeConfig.from_values(
        {"model_path": str(tiny_canonical_ckpt), "backend": "torch", "network_size": "96x128"}
    )
    est = load_estimator(cfg)
    rgb = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    res = est.infer(rgb, fx=300.0)
    assert est.network_hw == (96, 128) and res.depth_m.shape == (240, 320)
    np.testing.assert_allclose(est.infer(rgb, fx=600.0).depth_m, 2 * res.depth_m, rtol=1e-6)
    assert load_estimator(cfg.updated({"network_size": ""})).network_hw == (64, 128)  # the card's
