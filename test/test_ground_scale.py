"""Ground-plane metric scale: exact plane geometry, outliers, walls, rendered streets, the temporal filter."""

from __future__ import annotations

import numpy as np
import pytest

from adu_depth_core.runtime.intrinsics import make_K
from adu_depth_core.scale import (
    FitOptions,
    GroundPrior,
    GroundScaler,
    ScaleConfig,
    ScaleFilter,
    apply_scale,
    fit_ground_plane,
    frame_scale,
    up_normal,
)
from adu_depth_core.scale.ground_plane import quaternion_matrix

K = make_K(180.0, 180.0, 159.5, 47.5)  # 96 x 320, ~83 deg horizontal field of view


def plane_depth(normal, height_m: float, hw=(96, 320), K=K, far_m: float = 40.0) -> np.ndarray:
    """Exact z-depth of a ground plane n.p = -h seen through K; rays that miss it hit a wall at far_m."""
    v, u = np.mgrid[0 : hw[0], 0 : hw[1]].astype(np.float64)
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones(hw)], -1)
    down = rays @ np.asarray(normal)  # < 0 below the horizon
    with np.errstate(divide="ignore"):
        z = np.where(down < 0, -height_m / down, np.inf)
    return np.minimum(z, far_m).astype(np.float32)


def test_up_normal_signs_follow_rep103():
    assert np.allclose(up_normal(0, 0), (0, -1, 0))
    assert np.allclose(up_normal(90, 0), (0, 0, -1))  # looking straight down: up is behind the image
    assert np.allclose(up_normal(0, 90), (-1, 0, 0))  # right side down: image x points down
    n = up_normal(12.0, -7.0)
    assert np.isclose(np.linalg.norm(n), 1.0)


def test_prior_from_a_transform_gives_height_and_normal():
    # ground frame (z up) seen from a level optical frame 1.3 m above it: R maps ground z to camera -y
    R = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])  # base_link -> optical
    prior = GroundPrior.from_transform(R, (0.0, 1.3, 0.0))
    assert np.isclose(prior.camera_height_m, 1.3) and np.allclose(prior.normal, (0, -1, 0))
    # the classic base_link -> optical static transform, quaternion (x, y, z, w) = (-0.5, 0.5, -0.5, 0.5),
    # is the optical frame's orientation in base_link: R's transpose (optical z = base x, forward)
    assert np.allclose(quaternion_matrix(-0.5, 0.5, -0.5, 0.5), R.T)
    assert np.allclose(quaternion_matrix(0.0, 0.0, 0.0, 2.0), np.eye(3))  # normalised


def test_ransac_recovers_a_tilted_plane_among_outliers():
    rng = np.random.default_rng(3)
    n_true, h_true = up_normal(8.0, -3.0), 1.3
    # points on the plane: random spots ahead of the camera
    a = np.cross(n_true, (1.0, 0, 0))
    a /= np.linalg.norm(a)
    b = np.cross(n_true, a)
    spots = (
        -h_true * n_true
        + rng.uniform(-6, 6, (1000, 1)) * b
        + rng.uniform(2, 20, (1000, 1)) * a * np.sign(a[2])
    )
    above = np.where(np.arange(1000)[:, None] < 700, 0.0, rng.uniform(0.2, 3.0, (1000, 1)))
    points = spots + above * n_true  # 70 % on the ground, 30 % clutter 0.2-3 m above it
    fit = fit_ground_plane(points, up_normal(5.0, 0.0))
    assert fit is not None
    assert np.degrees(np.arccos(fit.normal @ n_true)) < 0.05
    assert fit.plane_height_m == pytest.approx(h_true, rel=1e-4)
    assert fit_ground_plane(points, n_true).height_m == pytest.approx(h_true, rel=1e-4)
    assert fit.inlier_share == pytest.approx(0.7, abs=0.02)
    # a prior 30 deg off the truth finds no admissible plane
    assert fit_ground_plane(points, up_normal(38.0, 0.0)) is None


def test_frame_scale_undoes_a_global_misscale_exactly():
    n = up_normal(4.0, 2.0)
    depth = plane_depth(n, 1.2)
    prior = GroundPrior(1.2, tuple(n))
    for k in (0.6, 1.0, 1.5):
        est = frame_scale(depth * k, K, prior)
        assert est.used and est.reason == "ok"
        assert est.scale == pytest.approx(1.0 / k, rel=1e-3)
        assert est.confidence > 0.9


def test_frame_scale_is_deterministic_and_fast_path_sized():
    depth = plane_depth(up_normal(), 1.5, hw=(192, 640), K=make_K(360, 360, 319.5, 95.5))
    K2 = make_K(360, 360, 319.5, 95.5)
    a, b = frame_scale(depth, K2, GroundPrior(1.5)), frame_scale(depth, K2, GroundPrior(1.5))
    assert a.scale == b.scale and a.fit.points == b.fit.points <= FitOptions().max_points


def test_a_wall_is_not_ground():
    wall = np.full((96, 320), 3.0, np.float32)
    est = frame_scale(wall, K, GroundPrior(1.5))
    assert not est.used and "ground not visible" in est.reason
    est = frame_scale(np.full((96, 320), np.nan, np.float32), K, GroundPrior(1.5))
    assert not est.used and "0 valid points" in est.reason


def test_scale_and_sigma_move_together():
    d, s = np.full((2, 2), 4.0, np.float32), np.full((2, 2), 0.5, np.float32)
    d2, s2 = apply_scale(d, s, 1.5)
    assert d2.dtype == s2.dtype == np.float32
    assert np.allclose(d2, 6.0) and np.allclose(s2 / d2, s / d)


@pytest.fixture(scope="module")
def synth():
    from adu_depth_core.data.synthetic import StereoSynthesizer, SynthConfig

    return StereoSynthesizer(SynthConfig(height=96, width=320))


def test_rendered_street_misscale_is_corrected(synth):
    """Exact rendered depth scaled by 0.7 -> scale 1/0.7; the bundled student's error shrinks when mis-scaled."""
    from adu_depth_core.data import sequence
    from adu_depth_core.metrics import depth_metrics
    from adu_depth_core.runtime import DepthEstimator

    view = sequence.view_at_height(synth, 11, 1.4)
    prior = GroundPrior(view.camera_height_m, view.up_normal)  # the mounting, as a robot knows it
    est = frame_scale(view.depth_m * 0.7, view.K, prior)
    assert est.used and est.scale == pytest.approx(1 / 0.7, rel=0.01)

    pred = DepthEstimator.from_file("default", "torch", "cpu").infer(view.rgb, K=view.K).depth_m
    for k in (0.6, 1.5):
        fs = frame_scale(pred * k, view.K, prior)
        assert fs.used
        before = depth_metrics(pred * k, view.depth_m, max_depth=80.0)["abs_rel"]
        after = depth_metrics(pred * k * fs.scale, view.depth_m, max_depth=80.0)["abs_rel"]
        assert after < 0.6 * before


def test_rendered_wall_keeps_the_previous_scale(synth):
    from adu_depth_core.data import sequence

    scaler = GroundScaler(ScaleConfig("ground_plane", 1.6, window=3))
    street = sequence.view_at_height(synth, 5, 1.6)
    first = scaler.update(street.depth_m * 2.0, street.K, prior=GroundPrior(1.6, street.up_normal))
    assert first.used and first.scale == pytest.approx(0.5, rel=0.01)
    wall = sequence.wall_view(synth, 1.5, 1.6)
    held = scaler.update(wall.depth_m, wall.K)
    assert not held.used and held.scale == first.scale
    assert held.reason.startswith("kept the previous scale: ground not visible")
    assert held.as_notes()["scale_used"] == "false"


def test_the_student_facing_rendered_walls_gives_no_usable_ground(synth):
    """The bundled student hallucinates some road on a close wall; confidence keeps it out."""
    from adu_depth_core.data import sequence
    from adu_depth_core.runtime import DepthEstimator

    est = DepthEstimator.from_file("default", "torch", "cpu")
    for distance_m in (0.8, 1.0, 1.5, 2.0, 3.0):
        wall = sequence.wall_view(synth, distance_m, 1.0)
        verdict = frame_scale(est.infer(wall.rgb).depth_m, wall.K, GroundPrior(1.0))
        assert not verdict.used, (distance_m, verdict.reason)
        assert verdict.reason.startswith(("ground not visible", "low confidence"))


def test_scaler_before_ground_camera_change_and_hold():
    n = up_normal()
    scaler = GroundScaler(ScaleConfig("ground_plane", 1.5, window=5))
    first = scaler.update(np.full((96, 320), 3.0, np.float32), K)
    assert first.scale == 1.0 and first.reason.startswith("no ground seen yet")
    for _ in range(3):
        state = scaler.update(plane_depth(n, 3.0), K, "cam")
    assert state.used and state.scale == pytest.approx(0.5, rel=1e-3) and len(scaler.filter) == 3
    K_other = make_K(250.0, 250.0, 159.5, 47.5)
    state = scaler.update(plane_depth(n, 1.0, K=K_other), K_other, "cam")
    assert state.reason.startswith("camera changed") and len(scaler.filter) == 1
    assert state.scale == pytest.approx(1.5, rel=1e-3)
    held = scaler.hold("no camera_info")
    assert held.scale == state.scale and not held.used and held.reason == "no camera_info"


def test_filter_reduces_flicker_rejects_outliers_and_follows_a_real_change():
    rng = np.random.default_rng(0)
    raw = np.exp(np.log(2.0) + rng.normal(0, 0.05, 200))
    raw[rng.choice(200, 12, replace=False)] *= 2.5  # outliers
    f, out, rejected = ScaleFilter(window=9), [], 0
    for s in raw:
        rejected += not f.update(float(s))
        out.append(np.log(f.value))
    assert rejected >= 10
    assert np.std(np.diff(out)) < 0.35 * np.std(np.diff(np.log(raw)))
    assert abs(np.median(out) - np.log(2.0)) < 0.02
    for _ in range(5):  # the scale really changes (e.g. another lens): adopted after window // 2 + 1
        f.update(3.0)
    assert f.value == pytest.approx(3.0)
    f.reset()
    assert f.value is None and len(f) == 0


def test_window_one_follows_each_frame_but_still_gates_outliers():
    f = ScaleFilter(window=1)
    accepted = [f.update(s) for s in (2.0, 2.04, 1.97, 5.0, 2.02)]
    assert accepted == [True, True, True, False, True]
    assert f.value == pytest.approx(2.02)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="scale mode"):
        ScaleConfig("median")
    with pytest.raises(ValueError, match="camera_height_m"):
        ScaleConfig("ground_plane", camera_height_m=0.0)
    with pytest.raises(ValueError, match="window"):
        ScaleFilter(window=0)
    with pytest.raises(ValueError, match="camera_height_m"):
        frame_scale(np.ones((4, 4), np.float32), K, GroundPrior(-1.0))
