"""The depth node over real rclpy on loopback: encodings, headers, rescaled intrinsics and the point cloud.

Reference values are computed here, independently of the node: the depth from
a bare DepthEstimator on the same frame, intrinsics from the resize formula,
and every cloud point from the *published* depth through the *published*
camera_info.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.ros

H, W = 48, 64  # camera size; the tiny student's network input is 64 x 128
FX, FY, CX, CY = 52.0, 47.0, 31.0, 23.5
FRAME = "cam_optical_frame"
ALL = ("depth", "depth/uncertainty", "depth/camera_info", "depth/color", "points")


@pytest.fixture(scope="module")
def node(ctx, tiny_student_ckpt):
    from adu_depth_ros.testing import running_node

    with running_node(ctx, {"model_path": str(tiny_student_ckpt)}, namespace="cam") as pair:
        yield pair


@pytest.fixture(scope="module")
def estimator(tiny_student_ckpt):
    from adu_depth_core.runtime import DepthEstimator

    return DepthEstimator.from_file(tiny_student_ckpt, backend="torch")


@pytest.fixture(scope="module")
def rgb():
    from adu_depth_ros.testing import gradient_image

    return gradient_image(H, W, seed=3)


def _info(width=W, height=H, tx=0.0):
    from adu_depth_ros.testing import make_camera_info

    info = make_camera_info(width, height, FX, FY, CX, CY, FRAME)
    info.p[3] = tx
    return info


def _expected_depth(estimator, rgb, output="input", lo=0.1, hi=80.0):
    res = estimator.infer(rgb, output=output)
    bad = ~((res.depth_m >= lo) & (res.depth_m <= hi))
    return np.where(bad, np.nan, res.depth_m), np.where(bad, np.nan, res.sigma_m)


def test_encodings_headers_sizes_and_values(node, estimator, rgb):
    from adu_depth_core.runtime.colormap import colorize_depth
    from adu_depth_ros.conversions import image_to_numpy

    _, probe = node
    got = probe.request(rgb, _info(), ALL)
    stamp = got["depth"].header.stamp
    for name, msg in got.items():
        assert msg.header.frame_id == FRAME, name
        assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (stamp.sec, stamp.nanosec), name
    depth, sigma, color = got["depth"], got["depth/uncertainty"], got["depth/color"]
    assert (depth.encoding, depth.height, depth.width, depth.step) == ("32FC1", H, W, 4 * W)
    assert (sigma.encoding, sigma.height, sigma.width) == ("32FC1", H, W)
    assert (color.encoding, color.height, color.width, color.step) == ("rgb8", H, W, 3 * W)
    assert (got["points"].height, got["points"].width) == (H, W)

    exp_depth, exp_sigma = _expected_depth(estimator, rgb)
    np.testing.assert_allclose(image_to_numpy(depth), exp_depth, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(image_to_numpy(sigma), exp_sigma, rtol=1e-5, atol=1e-6)
    assert np.all(image_to_numpy(sigma)[np.isfinite(exp_sigma)] > 0)
    np.testing.assert_array_equal(image_to_numpy(color), colorize_depth(image_to_numpy(depth)))


@pytest.mark.parametrize("encoding", ["bgr8", "rgba8", "bgra8", "mono8"])
def test_every_colour_encoding_reaches_the_network_as_rgb(node, estimator, rgb, encoding):
    from adu_depth_ros.conversions import image_to_numpy, numpy_to_image

    _, probe = node
    codes = {
        "bgr8": cv2.COLOR_RGB2BGR,
        "rgba8": cv2.COLOR_RGB2RGBA,
        "bgra8": cv2.COLOR_RGB2BGRA,
        "mono8": cv2.COLOR_RGB2GRAY,
    }
    sent = cv2.cvtColor(rgb, codes[encoding])
    seen_by_net = cv2.cvtColor(sent, cv2.COLOR_GRAY2RGB) if encoding == "mono8" else rgb
    got = probe.request(numpy_to_image(sent, encoding), _info(), ["depth"])
    np.testing.assert_allclose(
        image_to_numpy(got["depth"]), _expected_depth(estimator, seen_by_net)[0], rtol=1e-5
    )


def test_camera_resolution_republishes_the_input_intrinsics(node, rgb):
    _, probe = node
    info = probe.request(rgb, _info(tx=-3.5), ["depth/camera_info"])["depth/camera_info"]
    assert (info.width, info.height, info.distortion_model) == (W, H, "plumb_bob")
    np.testing.assert_allclose(info.k, _info().k)
    np.testing.assert_allclose(info.p, _info(tx=-3.5).p)


def _backproject_reference(depth, sigma, K, stride, max_rel, max_abs):
    """Independent depth_image_proc-style back-projection with the uncertainty filter."""
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    v, u = np.mgrid[0 : depth.shape[0] : stride, 0 : depth.shape[1] : stride].astype(np.float64)
    z = depth[::stride, ::stride].astype(np.float64)
    s = sigma[::stride, ::stride].astype(np.float64)
    with np.errstate(invalid="ignore"):
        keep = np.isfinite(z) & (z > 0)
        if max_rel > 0:
            keep &= s <= max_rel * z
        if max_abs > 0:
            keep &= s <= max_abs
    xyz = np.stack([(u - cx) / fx * z, (v - cy) / fy * z, z], axis=-1)
    xyz[~keep] = np.nan
    return xyz


def test_points_are_the_backprojection_of_the_published_depth(node, rgb):
    from adu_depth_ros.conversions import image_to_numpy, point_cloud_to_numpy

    dnode, probe = node
    first = probe.request(rgb, _info(), ["depth", "depth/uncertainty"])
    ratio = image_to_numpy(first["depth/uncertainty"]) / image_to_numpy(first["depth"])
    max_rel = float(np.nanmedian(ratio))  # about half the points fail the filter
    res = probe.set_params("/cam/depth_node", {"points_stride": 3, "max_relative_sigma": max_rel})
    assert all(r.successful for r in res)
    try:
        got = probe.request(rgb, _info(), ["depth", "depth/uncertainty", "depth/camera_info", "points"])
    finally:
        probe.set_params("/cam/depth_node", {"points_stride": 1, "max_relative_sigma": 0.25})
    depth, sigma = image_to_numpy(got["depth"]), image_to_numpy(got["depth/uncertainty"])
    K = np.asarray(got["depth/camera_info"].k).reshape(3, 3)
    cloud = point_cloud_to_numpy(got["points"])
    assert got["points"].is_dense is False and cloud["x"].shape == (16, 22)  # ceil(48/3) x ceil(64/3)
    xyz = np.stack([cloud["x"], cloud["y"], cloud["z"]], axis=-1)
    ref = _backproject_reference(depth, sigma, K, 3, max_rel, 0.0)
    np.testing.assert_array_equal(np.isnan(xyz), np.isnan(ref))
    assert 0.2 < np.isnan(ref[..., 2]).mean() < 0.8  # the filter really removed some, not all
    np.testing.assert_allclose(xyz[~np.isnan(ref)], ref[~np.isnan(ref)], rtol=1e-5, atol=1e-5)
    bits = cloud["rgb"].view(np.uint32)
    sampled = rgb[::3, ::3].astype(np.uint32)
    np.testing.assert_array_equal(bits, (sampled[..., 0] << 16) | (sampled[..., 1] << 8) | sampled[..., 2])


def test_diagnostics_summarise_the_published_uncertainty(node, rgb):
    """relative_sigma_median and relative_sigma_kept in /diagnostics are those of the published depth and
    sigma (every 4th row and column), against the node's max_relative_sigma (0.25)."""
    from adu_depth_core.recipe.kernels import uncertainty_summary
    from adu_depth_ros.conversions import image_to_numpy
    from adu_depth_ros.testing import status_value

    _, probe = node
    got = probe.request(rgb, _info(), ["depth", "depth/uncertainty"])
    since = len(probe.statuses("/cam/depth_node"))  # reports made after this frame
    want = uncertainty_summary(image_to_numpy(got["depth"]), image_to_numpy(got["depth/uncertainty"]), 0.25)
    st = probe.wait_status(
        "/cam/depth_node", lambda s: status_value(s, "relative_sigma_kept") is not None, since
    )
    assert {k: status_value(st, k) for k in want} == want
    assert float(want["relative_sigma_median"]) > 0.0 and 0.0 <= float(want["relative_sigma_kept"]) <= 1.0


@pytest.fixture(scope="module")
def net_node(ctx, tiny_student_ckpt):
    from adu_depth_ros.testing import running_node

    params = {
        "model_path": str(tiny_student_ckpt),
        "output_resolution": "network",
        "points_stride": 2,
        "points_color": False,
        "max_relative_sigma": 0.0,
        "max_sigma_m": 3.0,
    }
    with running_node(ctx, params, namespace="net") as pair:
        yield pair


def test_network_resolution_rescales_intrinsics_and_cloud(net_node, estimator):
    from adu_depth_ros.conversions import image_to_numpy, point_cloud_to_numpy
    from adu_depth_ros.testing import gradient_image

    _, probe = net_node
    h, w = 120, 160  # camera; the network runs at 64 x 128
    big = gradient_image(h, w, seed=5)
    got = probe.request(
        big, _info(w, h, tx=-8.0), ["depth", "depth/uncertainty", "depth/camera_info", "points"]
    )
    info = got["depth/camera_info"]
    assert (info.width, info.height) == (128, 64) and (got["depth"].width, got["depth"].height) == (128, 64)
    sx, sy = 128 / w, 64 / h  # a resize maps pixel edges: c' = (c + 0.5) s - 0.5
    K = np.array([[FX * sx, 0, (CX + 0.5) * sx - 0.5], [0, FY * sy, (CY + 0.5) * sy - 0.5], [0, 0, 1]])
    np.testing.assert_allclose(np.reshape(info.k, (3, 3)), K, rtol=1e-12)
    P = np.hstack([K, [[-8.0 * sx], [0], [0]]])
    np.testing.assert_allclose(np.reshape(info.p, (3, 4)), P, rtol=1e-12)

    depth = image_to_numpy(got["depth"])
    np.testing.assert_allclose(depth, _expected_depth(estimator, big, output="network")[0], rtol=1e-5)
    cloud = point_cloud_to_numpy(got["points"])
    assert [f.name for f in got["points"].fields] == ["x", "y", "z"] and cloud["x"].shape == (32, 64)
    xyz = np.stack([cloud["x"], cloud["y"], cloud["z"]], axis=-1)
    ref = _backproject_reference(depth, image_to_numpy(got["depth/uncertainty"]), K, 2, 0.0, 3.0)
    np.testing.assert_array_equal(np.isnan(xyz), np.isnan(ref))
    np.testing.assert_allclose(xyz[~np.isnan(ref)], ref[~np.isnan(ref)], rtol=1e-5, atol=1e-5)


def test_16uc1_frame_id_override_and_colour_range(ctx, tiny_student_ckpt, estimator, rgb):
    from adu_depth_core.runtime.colormap import colorize_depth
    from adu_depth_ros.conversions import image_to_numpy
    from adu_depth_ros.testing import running_node

    params = {
        "model_path": str(tiny_student_ckpt),
        "depth_encoding": "16UC1",
        "frame_id": "other_optical_frame",
        "color_min_depth_m": 1.0,
        "color_max_depth_m": 30.0,
    }
    with running_node(ctx, params, namespace="mm") as (_, probe):
        got = probe.request(rgb, _info(), ALL)
    assert {m.header.frame_id for m in got.values()} == {"other_optical_frame"}
    depth_mm = image_to_numpy(got["depth"])
    assert got["depth"].encoding == "16UC1" and depth_mm.dtype == np.uint16
    exp = _expected_depth(estimator, rgb)[0]
    expected_mm = np.where(np.isfinite(exp), np.rint(np.nan_to_num(exp) * 1000), 0)
    assert np.abs(depth_mm.astype(np.int64) - expected_mm).max() <= 1  # rounding at the .5 mm boundary
    same = image_to_numpy(got["depth/color"]) == colorize_depth(exp, 1.0, 30.0)  # fixed colour range
    assert same.all(axis=-1).mean() > 0.99  # (a pixel on a palette-bin edge may round the other way)


def test_compressed_input(ctx, tiny_student_ckpt, estimator, rgb):
    from sensor_msgs.msg import CompressedImage

    from adu_depth_ros.conversions import image_to_numpy
    from adu_depth_ros.testing import running_node

    ok, png = cv2.imencode(".png", rgb[:, :, ::-1])
    assert ok
    params = {"model_path": str(tiny_student_ckpt), "use_compressed": True}
    with running_node(ctx, params, namespace="cmp") as (node, probe):
        assert (
            probe.count_subscribers("/cmp/image/compressed") >= 1
            and probe.count_subscribers("/cmp/image") == 0
        )
        got = probe.request(CompressedImage(format="png", data=png.tobytes()), _info(), ["depth"])
    np.testing.assert_allclose(image_to_numpy(got["depth"]), _expected_depth(estimator, rgb)[0], rtol=1e-5)


def test_work_only_for_outputs_someone_subscribes_to(ctx, tiny_student_ckpt, rgb):
    from adu_depth_ros.testing import running_node, status_value

    params = {"model_path": str(tiny_student_ckpt)}
    with running_node(ctx, params, namespace="lazy", outputs=["depth"]) as (node, probe):
        probe.request(rgb, _info(), ["depth"])
        st = probe.wait_status("/lazy/depth_node", lambda s: status_value(s, "published_outputs") is not None)
        assert status_value(st, "published_outputs") == "depth"
        assert status_value(st, "points_ms_mean") is None  # no cloud was ever built
        for sub in list(probe.subscriptions):
            if sub.topic_name == "/lazy/depth":
                probe.destroy_subscription(sub)
        assert probe.wait_until(lambda: node.count_subscribers("/lazy/depth") == 0)
        before = node.health.counts()
        probe.wait_until(
            lambda: probe.send(rgb, _info()) and node.health.counts()["skipped_no_subscriber"] > 2
        )
        after = node.health.counts()
    assert after["skipped_no_subscriber"] > before["skipped_no_subscriber"]
    assert after["processed"] == before["processed"]
