"""bags.lidar (point cloud -> sparse depth) and bags.matching (pairs by stamp, unmatched counts)."""

from __future__ import annotations

import numpy as np
import pytest

from adu_depth_core.bags.lidar import ExtrinsicError, load_extrinsic, project_to_depth
from adu_depth_core.bags.matching import StampIndex, match_stamps
from adu_depth_core.bags.messages import make_header

# LiDAR axes (x forward, y left, z up) -> camera optical axes (x right, y down, z forward), lidar 0.3 m above
T_CAM_LIDAR = np.array([[0, -1, 0, 0.05], [0, 0, -1, -0.30], [1, 0, 0, -0.10], [0, 0, 0, 1.0]])
K = np.array([[40.0, 0, 31.5], [0, 40.0, 23.5], [0, 0, 1]])


def _to_lidar(cam_points):
    T_inv = np.linalg.inv(T_CAM_LIDAR)
    return cam_points @ T_inv[:3, :3].T + T_inv[:3, 3]


def test_projection_reproduces_the_depth_of_back_projected_pixels():
    rng = np.random.default_rng(0)
    v, u = rng.integers(0, 48, 200), rng.integers(0, 64, 200)
    keep = np.unique(v * 64 + u, return_index=True)[1]
    v, u = v[keep], u[keep]
    z = rng.uniform(2.0, 30.0, v.size)
    cam = np.stack([(u - K[0, 2]) / K[0, 0] * z, (v - K[1, 2]) / K[1, 1] * z, z], 1)
    depth = project_to_depth(_to_lidar(cam), T_CAM_LIDAR, K, 48, 64)
    assert np.isfinite(depth).sum() == v.size
    np.testing.assert_allclose(depth[v, u], z, rtol=1e-5)


def test_nearest_point_wins_and_points_behind_or_outside_are_dropped():
    ray = np.array([(4 - K[0, 2]) / K[0, 0], (7 - K[1, 2]) / K[1, 1], 1.0])
    cam = np.array([ray * 10.0, ray * 5.0, ray * 12.0, [0.0, 0.0, -3.0], [100.0, 0.0, 1.0]])
    for order in ([0, 1, 2, 3, 4], [4, 3, 2, 1, 0]):
        depth = project_to_depth(_to_lidar(cam[order]), T_CAM_LIDAR, K, 48, 64)
        assert np.isfinite(depth).sum() == 1
        assert depth[7, 4] == pytest.approx(5.0)


def test_extrinsic_from_numbers_yaml_and_kitti_txt(tmp_path):
    flat = " ".join(str(x) for x in T_CAM_LIDAR.ravel())
    np.testing.assert_allclose(load_extrinsic(flat), T_CAM_LIDAR)
    np.testing.assert_allclose(load_extrinsic(",".join(flat.split()[:12])), T_CAM_LIDAR)
    (tmp_path / "ext.yaml").write_text(f"T_cam_lidar: [{', '.join(flat.split())}]\n")
    np.testing.assert_allclose(load_extrinsic(tmp_path / "ext.yaml"), T_CAM_LIDAR)
    R, t = T_CAM_LIDAR[:3, :3].ravel(), T_CAM_LIDAR[:3, 3]
    (tmp_path / "calib_velo_to_cam.txt").write_text(
        "calib_time: 15-Mar-2012\nR: " + " ".join(map(str, R)) + "\nT: " + " ".join(map(str, t)) + "\n"
    )
    np.testing.assert_allclose(load_extrinsic(tmp_path / "calib_velo_to_cam.txt"), T_CAM_LIDAR)


def test_bad_extrinsics_are_refused():
    with pytest.raises(ExtrinsicError, match="not a rigid transform"):
        load_extrinsic(" ".join(["2"] * 16))
    with pytest.raises(ExtrinsicError, match="neither a file nor 16 numbers"):
        load_extrinsic("1 0 0")
    with pytest.raises(ExtrinsicError, match="cannot read"):
        load_extrinsic("a b c")


def test_match_stamps_is_one_to_one_within_tolerance():
    ms = 1_000_000
    a = [0, 100 * ms, 200 * ms, 300 * ms, 400 * ms]
    b = [2 * ms, 101 * ms, 104 * ms, 260 * ms, 399 * ms, 500 * ms]
    res = match_stamps(a, b, tolerance_ns=5 * ms)
    assert res.pairs == [(0, 0), (1, 1), (4, 4)]
    assert res.unmatched_a == [2, 3] and res.unmatched_b == [2, 3, 5]
    # two candidates for one partner: the closer one gets it, the other stays unmatched
    res = match_stamps([10 * ms, 12 * ms], [11.5 * ms], tolerance_ns=5 * ms)
    assert res.pairs == [(1, 0)] and res.unmatched_a == [0]


def test_stamp_index_picks_the_nearest_message():
    msgs = [type("M", (), {"header": make_header(t, "c"), "i": i})() for i, t in enumerate([300, 100, 200])]
    idx = StampIndex(msgs)
    assert [idx.nearest(t).i for t in (0, 140, 160, 260, 1000)] == [1, 1, 2, 0, 0]
