"""Full-resolution refinement of a coarse disparity, and the disparity metrics and SGBM baseline it is scored with."""

import cv2
import numpy as np
import pytest

from adu_depth_core.stereo import disparity_metrics, sgbm_disparity
from adu_depth_core.stereo_refine import RefineConfig, refine_disparity

H, W, BACK_PX, FRONT_PX = 96, 192, 8.0, 20.0
BOX = (slice(30, 70), slice(80, 140))  # the foreground rectangle in the left image


def _texture(rng, h, w):
    noise = rng.normal(128, 60, (h, w)).astype(np.float32)
    return np.clip(cv2.GaussianBlur(noise, (0, 0), 1.2), 0, 255)


@pytest.fixture(scope="module")
def scene():
    """A textured fronto-parallel box in front of a textured wall, rendered exactly in both views, with a
    flat grey band at the top; the true left disparity is BACK_PX on the wall, FRONT_PX on the box."""
    rng = np.random.default_rng(0)
    wall, box = _texture(rng, H, W + 64), _texture(rng, H, W + 64)
    wall[:12] = 128.0  # textureless band
    disp = np.full((H, W), BACK_PX, np.float32)
    disp[BOX] = FRONT_PX
    xs = np.arange(W)
    left = wall[:, :W].copy()
    left[BOX] = box[BOX]
    right = np.empty_like(left)
    for y in range(H):
        right[y] = wall[y, xs + int(BACK_PX)]
        if BOX[0].start <= y < BOX[0].stop:
            seen = (xs + FRONT_PX >= BOX[1].start) & (xs + FRONT_PX < BOX[1].stop)
            right[y, seen] = box[y, (xs + int(FRONT_PX))[seen]]
    rgb = [np.repeat(im.astype(np.uint8)[..., None], 3, axis=2) for im in (left, right)]
    return rgb[0], rgb[1], disp


def _coarse(disp: np.ndarray, factor: int, offset: float) -> np.ndarray:
    """What a network at 1/factor of the width gives: a blurred, upsampled disparity, off by ``offset``."""
    small = cv2.resize(disp, (W // factor, H // factor), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR) + offset


def test_refinement_recovers_the_edges_and_offset_that_a_coarse_disparity_loses(scene):
    left, right, gt = scene
    prior = _coarse(gt, 4, 1.5)
    refined = refine_disparity(left, right, prior, scale=4.0)
    matchable = np.ones_like(gt, bool)
    matchable[:12] = False  # the grey band has nothing to match
    matchable[:, : int(BACK_PX)] = False  # the wall's left edge is out of the right view
    matchable[BOX[0], BOX[1].start - int(FRONT_PX - BACK_PX) : BOX[1].start] = False  # hidden by the box
    before, after = disparity_metrics(prior, gt, matchable), disparity_metrics(refined, gt, matchable)
    assert before["bad1"] > 0.9  # the offset puts almost every pixel 1.5 px off
    assert after["bad1"] < 0.1 and after["bad3"] < 0.05
    assert after["epe_px"] < 0.25 * before["epe_px"]
    assert refined.dtype == np.float32 and refined.shape == gt.shape


def test_textureless_patches_keep_the_prior_and_holes_stay_holes(scene):
    left, right, gt = scene
    prior = _coarse(gt, 4, 1.5)
    prior[50, 20] = np.nan
    refined = refine_disparity(left, right, prior, scale=4.0)
    np.testing.assert_allclose(refined[:5, 20:60], prior[:5, 20:60], atol=1e-4)  # grey band, far from edges
    assert np.isnan(refined[50, 20]) and np.isfinite(np.delete(refined.ravel(), 50 * W + 20)).all()


def test_the_foreground_and_background_candidates_fix_blended_edges(scene):
    """With a search of one network pixel, only the edge candidates reach the right side of a blended edge."""
    left, right, gt = scene
    prior = _coarse(gt, 8, 0.0)
    edges = np.zeros_like(gt, bool)
    edges[BOX[0], BOX[1].stop - 6 : BOX[1].stop + 6] = True  # the box's right edge (nothing hidden there)
    bad = {
        on: disparity_metrics(
            refine_disparity(left, right, prior, 8.0, RefineConfig(radius_net_px=1.0, edge_bases=on)),
            gt,
            edges,
        )["bad1"]
        for on in (True, False)
    }
    assert bad[True] < 0.5 * bad[False]


def test_a_coarse_search_then_a_fine_one_finds_what_the_full_search_finds(scene):
    left, right, gt = scene
    prior = _coarse(gt, 4, 2.5)
    matchable = np.zeros_like(gt, bool)
    matchable[12:, 30:] = True  # textured, in view of both cameras but for the strip the box hides
    full = disparity_metrics(refine_disparity(left, right, prior, 4.0), gt, matchable)["bad1"]
    coarse = refine_disparity(left, right, prior, 4.0, RefineConfig(step_net_px=0.5))  # 2-px steps
    assert disparity_metrics(coarse, gt, matchable)["bad1"] < full + 0.01 and full < 0.1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window": 4},
        {"window": 1},
        {"radius_net_px": 0.0},
        {"passes": 0},
        {"median": 4},
        {"step_net_px": -1.0},
    ],
)
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        RefineConfig(**kwargs)


def test_mismatched_shapes_are_refused(scene):
    left, right, gt = scene
    with pytest.raises(ValueError, match="must agree"):
        refine_disparity(left, right[:, :-1], gt, 1.0)


def test_disparity_metrics_count_holes_as_bad_and_leave_them_out_of_the_epe():
    gt = np.array([[10.0, 10.0, 10.0, 0.0]])
    pred = np.array([[10.5, 14.0, np.nan, 3.0]])
    m = disparity_metrics(pred, gt)  # the last pixel has no ground truth
    assert m["density"] == pytest.approx(2 / 3)
    assert m["epe_px"] == pytest.approx((0.5 + 4.0) / 2)
    assert m["bad1"] == pytest.approx(2 / 3) and m["bad3"] == pytest.approx(2 / 3)


def test_sgbm_finds_the_wall_and_box(scene):
    left, right, gt = scene
    d = sgbm_disparity(left, right, 32.0)
    m = disparity_metrics(d, gt, np.pad(np.ones((H - 24, W - 48), bool), ((12, 12), (24, 24))))
    assert m["density"] > 0.8 and m["epe_px"] < 0.5
