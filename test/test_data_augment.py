"""Stereo-consistent augmentation and the torch dataset (resize/crop keep K right)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from adu_depth_core.data.augment import (
    AugmentConfig,
    Photometric,
    hflip,
    photometric,
    random_crop,
    reproject_to_right,
)
from adu_depth_core.data.sample import StereoSample
from adu_depth_core.data.synthetic import StereoSynthesizer, SynthConfig, kitti_intrinsics
from adu_depth_core.data.torch_dataset import StereoDataset, fit_to_size, resize_sample
from adu_depth_core.runtime.intrinsics import scale_intrinsics


@pytest.fixture(scope="module")
def frame():
    return StereoSynthesizer(SynthConfig(height=64, width=208)).render(4)


def _warp_median(s: StereoSample) -> float:
    """Median |left - right warped by the sample's depth| where the depth is valid."""
    h, w = s.depth_m.shape
    disp = s.K[0, 0] * s.baseline_m / s.depth_m
    u, v = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    ur = (u - disp).astype(np.float32)
    warped = cv2.remap(s.right.astype(np.float32), ur, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    ok = s.valid & (ur >= 0) & (ur < w - 1.01)
    return float(np.median(np.abs(warped - s.left).mean(axis=2)[ok]))


def test_reprojected_depth_matches_rendered_right_depth(frame):
    s = frame.to_sample()
    right = reproject_to_right(s.depth_m, s.valid, s.K, s.baseline_m)
    both = np.isfinite(right) & np.isfinite(frame.depth_right_m)
    assert both.mean() > 0.8
    rel = np.abs(right[both] - frame.depth_right_m[both]) / frame.depth_right_m[both]
    assert np.median(rel) < 0.005


def test_hflip_swaps_views_and_keeps_geometry(frame):
    s = frame.to_sample()
    f = hflip(s)
    np.testing.assert_array_equal(f.left, s.right[:, ::-1])
    np.testing.assert_array_equal(f.right, s.left[:, ::-1])
    assert f.K[0, 2] == pytest.approx(s.width - 1 - s.K[0, 2]) and f.baseline_m == s.baseline_m
    # the flipped pair is again a valid rectified pair with the right camera at +baseline
    assert _warp_median(f) < 3.0
    naive = s.replace(
        left=s.left[:, ::-1].copy(),
        right=s.right[:, ::-1].copy(),
        depth_m=s.depth_m[:, ::-1].copy(),
        valid=s.valid[:, ::-1].copy(),
    )
    assert _warp_median(naive) > 3 * max(_warp_median(f), 1.0)  # mirroring without the swap breaks it
    back = hflip(f)
    np.testing.assert_array_equal(back.left, s.left)
    np.testing.assert_allclose(back.K, s.K)


def test_hflip_mono_sample_only_mirrors():
    s = StereoSample(
        np.arange(24, dtype=np.uint8).reshape(2, 4, 3),
        None,
        np.ones((2, 4), np.float32),
        np.eye(2, 4, dtype=bool),
        kitti_intrinsics(2, 4),
        0.54,
        "m",
    )
    f = hflip(s)
    np.testing.assert_array_equal(f.left, s.left[:, ::-1])
    np.testing.assert_array_equal(f.valid, s.valid[:, ::-1])
    assert f.right is None


def test_random_crop_moves_principal_point(frame):
    s = frame.to_sample()
    c = random_crop(s, (32, 100), np.random.default_rng(3))
    y0, x0 = int(round(s.K[1, 2] - c.K[1, 2])), int(round(s.K[0, 2] - c.K[0, 2]))
    np.testing.assert_array_equal(c.left, s.left[y0 : y0 + 32, x0 : x0 + 100])
    np.testing.assert_array_equal(c.right, s.right[y0 : y0 + 32, x0 : x0 + 100])
    assert _warp_median(c) < 3.0


def test_photometric_is_identical_on_both_views(frame):
    s = frame.to_sample()
    same = s.replace(right=s.left.copy())
    p = Photometric(gamma=1.1, brightness=0.8, contrast=1.2, saturation=0.7, hue_deg=10.0)
    out = photometric(same, p)
    np.testing.assert_array_equal(out.left, out.right)
    assert np.abs(out.left.astype(int) - s.left).mean() > 5
    unchanged = photometric(s, Photometric())
    assert np.abs(unchanged.left.astype(int) - s.left).max() <= 1


def test_resize_scales_k_like_rendering_at_that_size():
    big = StereoSynthesizer(SynthConfig(height=96, width=320)).render(2).to_sample()
    half = resize_sample(big, 48, 160)
    np.testing.assert_allclose(half.K, kitti_intrinsics(48, 160))
    np.testing.assert_allclose(scale_intrinsics(big.K, (96, 320), (48, 160)), kitti_intrinsics(48, 160))
    assert half.depth_m.shape == (48, 160) and half.valid.shape == (48, 160)


def test_sparse_depth_resize_keeps_points():
    depth = np.full((40, 80), np.nan, np.float32)
    depth[10, 20], depth[10, 21], depth[30, 70] = 5.0, 3.0, 9.0
    s = StereoSample(
        np.zeros((40, 80, 3), np.uint8),
        None,
        depth,
        np.isfinite(depth),
        kitti_intrinsics(40, 80),
        0.54,
        "sparse",
    )
    r = resize_sample(s, 20, 40)
    assert np.isfinite(r.depth_m).sum() == 2 and r.depth_m[5, 10] == 3.0 and r.depth_m[15, 35] == 9.0


def test_dataset_batch_contract_and_fit(frame):
    reader = [frame.to_sample()] * 2
    ds = StereoDataset(reader, size=(32, 96), augment=AugmentConfig(flip_prob=1.0, scale_range=(1.0, 1.3)))
    torch.manual_seed(0)
    item = ds[0]
    assert item["left"].shape == item["right"].shape == (3, 32, 96) and item["left"].dtype == torch.float32
    assert float(item["left"].min()) >= 0.0 and float(item["left"].max()) <= 1.0
    assert item["depth"].shape == (1, 32, 96) and item["valid"].dtype == torch.bool
    assert (item["depth"][~item["valid"]] == 0).all() and (item["depth"][item["valid"]] > 0).all()
    assert item["has_depth"] and item["has_right"] and item["K"].dtype == torch.float32
    assert item["baseline_m"] == pytest.approx(0.54)
    centred = fit_to_size(frame.to_sample(), (32, 96), rng=None)
    # 64x208 -> cover 32x96 at scale 0.5 -> 32x104, centred crop of 4 px on each side
    np.testing.assert_allclose(
        centred.K,
        scale_intrinsics(frame.K, (64, 208), (32, 104)) - np.array([[0, 0, 4], [0, 0, 0], [0, 0, 0]]),
    )
    loader = torch.utils.data.DataLoader(ds, batch_size=2)
    batch = next(iter(loader))
    assert batch["left"].shape == (2, 3, 32, 96) and batch["has_depth"].all()


def test_camera_effects_change_pixels_alike_in_both_views_and_leave_geometry():
    from adu_depth_core.data.augment import AugmentConfig, camera_effects

    rng = np.random.default_rng(0)
    img = np.full((40, 60, 3), 128, np.uint8)
    depth = np.full((40, 60), 5.0, np.float32)
    s = StereoSample(img, img.copy(), depth, np.isfinite(depth), np.eye(3), 0.5, "t")
    cfg = AugmentConfig(exposure_ev=0.5, white_balance=0.1, vignette=0.4, noise_std=3.0, jpeg_quality_min=60)
    out = camera_effects(s, cfg, rng)
    assert out.left.dtype == np.uint8 and out.left.shape == img.shape
    assert not np.array_equal(out.left, img)
    # same exposure/white balance/vignetting in both views: their means agree, their noise does not
    assert abs(float(out.left.mean()) - float(out.right.mean())) < 1.0 and not np.array_equal(
        out.left, out.right
    )
    centre, corner = out.left[18:22, 28:32].mean(), out.left[:3, :3].mean()
    assert corner < centre  # vignetting darkens the corners
    assert out.depth_m is s.depth_m and out.K is s.K
    off = camera_effects(s, AugmentConfig(), rng)  # every effect off: the image is unchanged
    np.testing.assert_array_equal(off.left, img)
