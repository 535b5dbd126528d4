"""Synthetic stereo generator: exact geometry (warp test), determinism, culling, LiDAR, reader."""

from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest
import torch

from adu_depth_core.data import raycast
from adu_depth_core.data.synthetic import (
    KITTI_BASELINE_M,
    StereoSynthesizer,
    SynthConfig,
    SyntheticStereo,
)


@pytest.fixture(scope="module")
def street():
    return StereoSynthesizer(SynthConfig(height=96, width=320, lidar=True))


def _warp(frame, baseline_m: float):
    """The right image and right-view depth sampled at the left pixels' GT correspondences."""
    h, w = frame.depth_m.shape
    disp = frame.K[0, 0] * baseline_m / frame.depth_m
    u, v = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    ur = (u - disp).astype(np.float32)
    warped = cv2.remap(
        frame.right.astype(np.float32), ur, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    depth_seen_right = cv2.remap(
        frame.depth_right_m, ur, v, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE
    )
    inside = np.isfinite(frame.depth_m) & (ur >= 0) & (ur < w - 1.01)
    return warped, depth_seen_right, inside


def _warp_error(frame):
    """Median |left - right warped by the GT disparity| over pixels visible in both views, and the
    same with a 30% wrong baseline on the same pixels (a negative control)."""
    warped, depth_seen_right, ok = _warp(frame, frame.baseline_m)
    ok &= np.abs(depth_seen_right - frame.depth_m) < 0.01 * frame.depth_m  # not occluded in the right view
    err = np.abs(warped - frame.left.astype(np.float32)).mean(axis=2)
    wrong_warped, _, _ = _warp(frame, frame.baseline_m * 1.3)
    wrong = np.abs(wrong_warped - frame.left.astype(np.float32)).mean(axis=2)
    return float(np.median(err[ok])), float(np.median(wrong[ok])), float(ok.mean())


@pytest.mark.parametrize("layout,seeds", [("street", (0, 1, 2)), ("room", (3,))])
def test_right_image_warped_by_gt_disparity_reproduces_left(layout, seeds):
    synth = StereoSynthesizer(SynthConfig(height=96, width=320, layout=layout))
    for seed in seeds:
        frame = synth.render(seed)
        median, wrong, visible = _warp_error(frame)
        assert visible > 0.5, f"seed {seed}: only {visible:.0%} of pixels usable"
        assert median < 3.0, f"seed {seed}: median warp error {median:.2f} grey levels"
        assert wrong > max(4 * median, 2.0), "a wrong baseline must be detected, or the check proves nothing"


def test_same_seed_same_arrays_different_seed_differs():
    synth = StereoSynthesizer(SynthConfig(height=48, width=160, lidar=True))
    a, b = synth.render(11), synth.render(11)
    fresh = StereoSynthesizer(SynthConfig(height=48, width=160, lidar=True)).render(11)
    for f in (b, fresh):
        np.testing.assert_array_equal(a.left, f.left)
        np.testing.assert_array_equal(a.right, f.right)
        np.testing.assert_array_equal(a.depth_m, f.depth_m)
        np.testing.assert_array_equal(a.lidar_m, f.lidar_m)
    assert not np.array_equal(a.left, synth.render(12).left)


def test_street_frame_has_kitti_like_camera_and_plausible_depth(street):
    f = street.render(5)
    K = f.K
    assert K[0, 0] == pytest.approx(721.5377 * 320 / 1242) and K[1, 1] == pytest.approx(721.5377 * 96 / 375)
    assert f.baseline_m == KITTI_BASELINE_M == 0.54
    assert f.left.dtype == np.uint8 and f.left.shape == (96, 320, 3) and f.depth_m.dtype == np.float32
    d = f.depth_m
    sky = np.isnan(d)
    assert not sky[-1].any(), "the bottom row sees the road"
    # the road below the horizon: the centre bottom pixel's ray, turned by the rig, meets y = camera height
    s = street.scene(5)
    cam_h, R = -float(s.plane_d[0]), s.rig_R.double().numpy()
    assert 1.0 <= cam_h <= 2.2
    v = 95
    ray = R @ np.linalg.solve(K, [160.0, v, 1.0])
    assert d[v, 160] == pytest.approx(cam_h / ray[1], rel=1e-4)
    assert np.nanmin(d) > 0.5 and np.nanmax(d) < 250


def test_culled_ray_casting_equals_brute_force(street):
    scene = street.scene(3)
    d = street._pixel_dirs(street.camera(3)) @ scene.rig_R.T
    o = torch.zeros(1, 3)
    culled = raycast.intersect(scene, o, d, raycast.tile_bundles(96, 320, 16, "cpu"))
    brute = raycast.intersect(scene, o, d, torch.arange(len(d))[None])  # one bundle: nothing culled
    hit = torch.isfinite(brute.t)
    assert torch.equal(torch.isfinite(culled.t), hit)
    assert torch.equal(culled.t[hit], brute.t[hit])
    assert torch.equal(culled.kind, brute.kind) and torch.equal(culled.index[hit], brute.index[hit])
    assert len(set(brute.kind[hit].tolist())) >= 3  # planes, boxes and more were hit


def test_lidar_is_sparse_beam_pattern_matching_dense_depth(street):
    f = street.render(8)
    lid = f.lidar_m
    has = np.isfinite(lid)
    rows = np.flatnonzero(has.any(axis=1))
    assert 0.05 < has.mean() < 0.6 and len(rows) <= 64
    assert (~has).all(axis=1).sum() > 0, "some image rows fall between beams"
    both = has & np.isfinite(f.depth_m)
    rel = np.abs(lid[both] - f.depth_m[both]) / f.depth_m[both]
    assert np.median(rel) < 0.01  # same surfaces, sampled off pixel centres


def test_room_layout_has_no_sky():
    f = StereoSynthesizer(SynthConfig(height=48, width=96, layout="room")).render(0)
    assert np.isfinite(f.depth_m).all() and np.nanmax(f.depth_m) < 30


def test_reader_sample_i_is_seed_plus_i_and_pickles():
    reader = SyntheticStereo(n=3, size=(48, 96), seed=100)
    clone = pickle.loads(pickle.dumps(reader))
    s = clone[2]
    ref = StereoSynthesizer(SynthConfig(height=48, width=96)).render(102)
    np.testing.assert_array_equal(s.left, ref.left)
    assert s.source_id == "synthetic:102" and len(reader) == 3
    assert s.validate() is s and (s.valid == np.isfinite(s.depth_m)).all()
    with pytest.raises(IndexError):
        reader[3]
    lidar = SyntheticStereo(n=1, size=(48, 96), depth="lidar", seed=100)[0]
    dense = reader[0]
    assert 0 < lidar.valid.sum() < dense.valid.sum()


@pytest.mark.gpu
def test_gpu_render_matches_cpu():
    cfg = SynthConfig(height=96, width=320, lidar=True)
    cpu, gpu = StereoSynthesizer(cfg, "cpu").render(9), StereoSynthesizer(cfg, "cuda").render(9)
    same_valid = np.isfinite(cpu.depth_m) == np.isfinite(gpu.depth_m)
    assert same_valid.mean() > 0.999
    both = np.isfinite(cpu.depth_m) & np.isfinite(gpu.depth_m)
    assert np.median(np.abs(cpu.depth_m[both] - gpu.depth_m[both]) / cpu.depth_m[both]) < 1e-5
    assert np.median(np.abs(cpu.left.astype(int) - gpu.left)) <= 1


def test_random_cameras_differ_per_seed_keep_the_scene_and_stay_exact():
    from adu_depth_core.data.synthetic import StereoSynthesizer, SynthConfig

    synth = StereoSynthesizer(SynthConfig(height=48, width=160, hfov_deg=(40.0, 100.0)))
    kitti = StereoSynthesizer(SynthConfig(height=48, width=160))
    fxs = [synth.camera(s)[0, 0] for s in range(20)]
    lo, hi = (80 / np.tan(np.deg2rad(a) / 2) for a in (100.0, 40.0))
    assert lo <= min(fxs) < max(fxs) <= hi and max(fxs) / min(fxs) > 1.5
    assert np.array_equal(synth.camera(7), synth.camera(7))  # deterministic by seed
    a, b = synth.render(7), kitti.render(7)
    assert np.array_equal(a.K, synth.camera(7)) and not np.allclose(a.K, b.K)
    assert synth.scene(7).counts == kitti.scene(7).counts  # the camera draw leaves the scene alone
    # exact geometry under the random camera: warping the right view by fx*B/z reproduces the left
    disp = a.K[0, 0] * a.baseline_m / a.depth_m
    v, u = np.nonzero(np.isfinite(disp) & (disp < 60))
    ur = np.round(u - disp[v, u]).astype(int)
    ok = (ur >= 0) & np.isfinite(a.depth_right_m[v, np.clip(ur, 0, 159)])
    z_right = a.depth_right_m[v[ok], ur[ok]]
    assert np.median(np.abs(z_right - a.depth_m[v[ok], u[ok]]) / a.depth_m[v[ok], u[ok]]) < 0.02
    with pytest.raises(ValueError, match="hfov_deg"):
        SynthConfig(hfov_deg=(120.0, 60.0))


def test_camera_height_override_moves_the_road():
    """A camera mounted lower sees the road nearer: the bottom rows' depth scales with the height."""
    low = StereoSynthesizer(SynthConfig(height=64, width=192, camera_height_m=(0.4, 0.4))).render(3)
    high = StereoSynthesizer(SynthConfig(height=64, width=192, camera_height_m=(1.6, 1.6))).render(3)
    ratio = np.nanmedian(low.depth_m[-3:]) / np.nanmedian(high.depth_m[-3:])
    assert 0.24 < ratio < 0.26  # 0.4 m vs 1.6 m, same seed, same rig: the road depth scales with the height


def test_camera_height_range_is_checked():
    with pytest.raises(ValueError, match="camera_height_m"):
        SynthConfig(camera_height_m=(1.0, 0.5))
