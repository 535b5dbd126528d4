"""Intrinsics between image sizes, checked against where a resize really moves image content."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from adu_depth_core.runtime.intrinsics import (
    IntrinsicsError,
    check_K,
    make_K,
    scale_camera_info,
    scale_intrinsics,
    scale_projection,
)


def _blob_image(h: int, w: int, u: float, v: float, sigma: float = 6.0) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    return np.exp(-((xx - u) ** 2 + (yy - v) ** 2) / (2 * sigma**2)).astype(np.float32)


def _centroid(img: np.ndarray) -> tuple[float, float]:
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    return float((img * xx).sum() / img.sum()), float((img * yy).sum() / img.sum())


@pytest.mark.parametrize(
    ("dst_hw", "interp"), [((192, 256), cv2.INTER_AREA), ((720, 1280), cv2.INTER_LINEAR)]
)
def test_scaled_K_projects_where_the_resized_image_shows_the_point(dst_hw, interp):
    K = make_K(520.0, 515.0, 318.3, 241.7)
    point = np.array([0.4, -0.25, 3.0])
    src_hw = (480, 640)
    u, v = (K @ point)[:2] / point[2]
    img = cv2.resize(_blob_image(*src_hw, u, v), dst_hw[::-1], interpolation=interp)
    cu, cv_ = _centroid(img)
    K2 = scale_intrinsics(K, src_hw, dst_hw)
    pu, pv = (K2 @ point)[:2] / point[2]
    assert abs(pu - cu) < 0.05 and abs(pv - cv_) < 0.05
    naive = K.copy()
    naive[0] *= dst_hw[1] / src_hw[1]
    naive[1] *= dst_hw[0] / src_hw[0]
    nu = (naive @ point)[0] / point[2]
    assert abs(nu - cu) > 0.2  # the plain-multiply convention is measurably off; ours is not


def test_scaling_round_trips_and_keeps_focal_ratios():
    K = make_K(700.0, 690.0, 600.5, 180.2)
    K2 = scale_intrinsics(K, (375, 1242), (192, 640))
    np.testing.assert_allclose(K2[0, 0], 700.0 * 640 / 1242)
    np.testing.assert_allclose(K2[1, 1], 690.0 * 192 / 375)
    np.testing.assert_allclose(scale_intrinsics(K2, (192, 640), (375, 1242)), K, atol=1e-9)


def test_projection_matrix_keeps_the_stereo_baseline():
    fx, baseline = 721.5, 0.54
    P = np.array([[fx, 0, 609.6, -fx * baseline], [0, fx, 172.9, 0], [0, 0, 1, 0]])
    P2 = scale_projection(P, (375, 1242), (192, 640))
    np.testing.assert_allclose(-P2[0, 3] / P2[0, 0], baseline)
    np.testing.assert_allclose(P2[:, :3], scale_intrinsics(P[:, :3], (375, 1242), (192, 640)))
    np.testing.assert_allclose(P2[2], [0, 0, 1, 0])


def test_camera_info_lists():
    k = [500.0, 0, 320, 0, 500, 240, 0, 0, 1]
    p = [500.0, 0, 320, -25, 0, 500, 240, 0, 0, 0, 1, 0]
    k2, p2 = scale_camera_info(k, p, (480, 640), (240, 320))
    assert len(k2) == 9 and len(p2) == 12
    assert k2[0] == 250.0 and k2[2] == pytest.approx((320 + 0.5) / 2 - 0.5)
    assert p2[3] == pytest.approx(-12.5)
    k3, p3 = scale_camera_info(k, [0.0] * 12, (480, 640), (240, 320))
    assert p3 == [0.0] * 12 and k3 == k2


@pytest.mark.parametrize(
    ("K", "message"),
    [
        (np.zeros((3, 3)), "non-positive focal"),
        (make_K(np.nan, 1, 1, 1), "NaN"),
        (np.eye(2), "9 values"),
    ],
)
def test_unusable_K_is_refused(K, message):
    with pytest.raises(IntrinsicsError, match=message):
        check_K(K)


def test_bad_sizes_are_refused():
    with pytest.raises(IntrinsicsError, match="positive"):
        scale_intrinsics(make_K(1, 1, 1, 1), (0, 10), (5, 5))
