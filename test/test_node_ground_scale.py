"""The depth node's ground-plane scale over real rclpy: scaled depth and sigma, held scale facing a wall, TF."""

from __future__ import annotations

import re

import numpy as np
import pytest

pytestmark = pytest.mark.ros


@pytest.fixture(scope="module")
def views():
    from adu_depth_core.data import sequence
    from adu_depth_core.data.synthetic import StereoSynthesizer, SynthConfig

    synth = StereoSynthesizer(SynthConfig(height=96, width=320))
    return sequence.view_at_height(synth, 5, 1.0), sequence.wall_view(synth, 1.5, 1.0)


def _mounting(up) -> dict:
    """Parameters for the rendered rig: pitch/roll from the ground's up vector (see scale.up_normal)."""
    return {
        "camera_pitch_deg": float(np.degrees(np.arcsin(-up[2]))),
        "camera_roll_deg": float(np.degrees(np.arctan2(-up[0], -up[1]))),
    }


def _info(view):
    from adu_depth_ros.testing import make_camera_info

    K = view.K
    return make_camera_info(view.rgb.shape[1], view.rgb.shape[0], K[0, 0], K[1, 1], K[0, 2], K[1, 2])


def _ratio(msg, reference: np.ndarray) -> np.ndarray:
    from adu_depth_ros.conversions import image_to_numpy

    got = image_to_numpy(msg)
    ok = np.isfinite(got) & np.isfinite(reference)
    return got[ok] / reference[ok]


def test_scale_applies_to_depth_and_sigma_and_is_held_facing_a_wall(ctx, views):
    from adu_depth_core.runtime import DepthEstimator
    from adu_depth_core.scale import up_normal
    from adu_depth_ros.testing import running_node, status_value

    street, wall = views
    up = np.asarray(street.up_normal)
    mount = _mounting(up)
    assert np.allclose(up_normal(mount["camera_pitch_deg"], mount["camera_roll_deg"]), up, atol=1e-9)
    params = {
        "model_path": "default",
        "backend": "torch",
        "device": "cpu",
        "scale_mode": "ground_plane",
        "camera_height_m": street.camera_height_m,
        "max_depth_m": 1000.0,
        "min_depth_m": 0.01,
        "diagnostics_period_s": 0.2,
        **mount,
    }
    est = DepthEstimator.from_file("default", "torch", "cpu")
    names = ("depth", "depth/uncertainty")
    with running_node(ctx, params) as (_, probe):
        raw = est.infer(street.rgb, K=street.K)
        got = probe.request(street.rgb, _info(street), names)
        depth_ratio, sigma_ratio = (
            _ratio(got["depth"], raw.depth_m),
            _ratio(got["depth/uncertainty"], raw.sigma_m),
        )
        scale = float(np.median(depth_ratio))
        np.testing.assert_allclose(depth_ratio, scale, rtol=1e-4)
        np.testing.assert_allclose(sigma_ratio, scale, rtol=1e-4)  # sigma follows depth
        assert abs(np.log(scale)) > 0.01  # a real correction, not the identity
        st = probe.wait_status("/depth_node", lambda s: status_value(s, "scale_used") == "true")
        assert float(status_value(st, "scale_applied")) == pytest.approx(scale, rel=1e-3)
        assert status_value(st, "scale_reason") == "ok"

        n = len(probe.statuses())
        got = probe.request(wall.rgb, _info(wall), names)
        held = _ratio(got["depth"], est.infer(wall.rgb, K=wall.K).depth_m)
        np.testing.assert_allclose(held, scale, rtol=1e-4)  # the previous scale, kept
        st = probe.wait_status("/depth_node", lambda s: status_value(s, "scale_used") == "false", since=n)
        # the student's depth of a wall has no ground, or only a sliver of invented, tilted "ground"
        reason = status_value(st, "scale_reason")
        assert re.match(r"kept the previous scale: (ground not visible|low confidence)", reason), reason
        assert float(status_value(st, "scale_applied")) == pytest.approx(scale, rel=1e-3)

        # run-time changes: a camera twice as high doubles the scale (a fresh filter); 'none' turns it off
        results = probe.set_params("/depth_node", {"camera_height_m": 2 * street.camera_height_m})
        assert all(r.successful for r in results)
        got = probe.request(street.rgb, _info(street), ("depth",))
        np.testing.assert_allclose(_ratio(got["depth"], raw.depth_m), 2 * scale, rtol=1e-4)
        assert all(r.successful for r in probe.set_params("/depth_node", {"scale_mode": "none"}))
        got = probe.request(street.rgb, _info(street), ("depth",))
        np.testing.assert_allclose(_ratio(got["depth"], raw.depth_m), 1.0, rtol=1e-5)

        # a model reload starts the scale afresh: facing the wall right after it there is no scale yet
        assert all(r.successful for r in probe.set_params("/depth_node", {"scale_mode": "ground_plane"}))
        got = probe.request(street.rgb, _info(street), ("depth",))
        np.testing.assert_allclose(_ratio(got["depth"], raw.depth_m), 2 * scale, rtol=1e-4)
        assert all(r.successful for r in probe.set_params("/depth_node", {"cpu_threads": 1}))  # reloads
        n = len(probe.statuses())
        got = probe.request(wall.rgb, _info(wall), ("depth",))
        np.testing.assert_allclose(
            _ratio(got["depth"], est.infer(wall.rgb, K=wall.K).depth_m), 1.0, rtol=1e-5
        )
        st = probe.wait_status("/depth_node", lambda s: status_value(s, "scale_used") == "false", since=n)
        assert status_value(st, "scale_reason").startswith("no ground seen yet")


def test_invalid_scale_parameters_are_refused():
    from adu_depth_ros.params import DepthNodeConfig, ParameterError

    with pytest.raises(ParameterError, match="scale_mode"):
        DepthNodeConfig.from_values({"scale_mode": "median"})
    with pytest.raises(ParameterError, match="camera_height_m"):
        DepthNodeConfig.from_values({"camera_height_m": 0.0})
    cfg = DepthNodeConfig.from_values({"scale_mode": "ground_plane", "camera_pitch_deg": 10.0})
    assert cfg.scale_config().prior().normal[2] < 0  # looking down: up points back towards the camera


@pytest.mark.skipif(
    __import__("adu_depth_ros.ground_tf", fromlist=["tf_available"]).tf_available(),
    reason="tf2_ros is installed here: the node reads ground_frame from TF (see the next test)",
)
def test_ground_frame_without_tf2_falls_back_to_the_parameters(ctx, tiny_student_ckpt):
    from adu_depth_ros.testing import running_node

    params = {
        "model_path": str(tiny_student_ckpt),
        "scale_mode": "ground_plane",
        "ground_frame": "base_footprint",
    }
    with running_node(ctx, params) as (node, probe):
        assert node._ground_prior is None
        assert probe.wait_until(lambda: probe.log_lines("tf2_ros is not installed"), timeout_s=10.0)


@pytest.mark.skipif(
    not __import__("adu_depth_ros.ground_tf", fromlist=["tf_available"]).tf_available(),
    reason="tf2_ros is not installable from PyPI; the TF mounting path needs a ROS 2 install",
)
def test_ground_frame_from_tf_sets_the_height(ctx, views):  # pragma: no cover - runs under ROS only
    from geometry_msgs.msg import TransformStamped
    from tf2_ros import StaticTransformBroadcaster

    from adu_depth_ros.testing import running_node, status_value

    street, _ = views
    params = {"model_path": "default", "backend": "torch", "device": "cpu", "scale_mode": "ground_plane",
              "camera_height_m": 9.0, "ground_frame": "base_footprint", "diagnostics_period_s": 0.2}  # fmt: skip
    with running_node(ctx, params) as (node, probe):
        tf = TransformStamped()
        tf.header.frame_id, tf.child_frame_id = "base_footprint", "cam_optical_frame"
        tf.transform.translation.z = street.camera_height_m
        q = tf.transform.rotation
        q.x, q.y, q.z, q.w = -0.5, 0.5, -0.5, 0.5  # optical frame: z forward, y down
        broadcaster = StaticTransformBroadcaster(probe)
        broadcaster.sendTransform(tf)
        probe.request(street.rgb, _info(street), ("depth",))
        st = probe.wait_status("/depth_node", lambda s: status_value(s, "scale_used") == "true")
        frame = float(status_value(st, "scale_frame"))
        # with camera_height_m = 9 m the scale would be ~9x larger: the TF height was used
        assert 0.3 < frame < 3.0
