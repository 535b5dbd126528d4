"""Depth and uncertainty metrics against independent per-pixel references and hand-made cases."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from adu_depth_core.metrics import METRIC_KEYS, MetricAggregator, NoValidPixels, crop_mask, depth_metrics
from adu_depth_core.uncertainty_metrics import (
    aurg_abs_rel,
    aurg_rmse,
    ause_abs_rel,
    ause_rmse,
    oracle_curve,
    sparsification_curve,
    uncertainty_metrics,
)


def _reference(pred, gt, min_d=1e-3, max_d=80.0):
    """Plain-Python per-pixel loop over valid pixels (independent of the library's vectorised code)."""
    pairs = []
    for p, g in zip(pred.ravel().tolist(), gt.ravel().tolist()):
        if math.isfinite(g) and min_d < g < max_d:
            pairs.append((min(max(p, min_d), max_d), g))
    n = len(pairs)
    le = [math.log(p) - math.log(g) for p, g in pairs]
    thr = [max(p / g, g / p) for p, g in pairs]
    return {
        "abs_rel": sum(abs(p - g) / g for p, g in pairs) / n,
        "sq_rel": sum((p - g) ** 2 / g for p, g in pairs) / n,
        "rmse": math.sqrt(sum((p - g) ** 2 for p, g in pairs) / n),
        "rmse_log": math.sqrt(sum(e * e for e in le) / n),
        "log10": sum(abs(math.log10(p) - math.log10(g)) for p, g in pairs) / n,
        "a1": sum(t < 1.25 for t in thr) / n,
        "a2": sum(t < 1.5625 for t in thr) / n,
        "a3": sum(t < 1.953125 for t in thr) / n,
        "silog": 100 * math.sqrt(sum(e * e for e in le) / n - (sum(le) / n) ** 2),
        "sq_error_rel": 100 * sum(((p - g) / g) ** 2 for p, g in pairs) / n,
        "abs_error_rel": 100 * sum(abs(p - g) / g for p, g in pairs) / n,
        "irmse": math.sqrt(sum((1000 / p - 1000 / g) ** 2 for p, g in pairs) / n),
    }


def _random_pair(rng, h=24, w=40):
    gt = rng.uniform(0.5, 90.0, (h, w))
    gt[rng.random((h, w)) < 0.3] = np.nan  # sparse LiDAR holes
    gt[rng.random((h, w)) < 0.05] = 0.0  # zero-coded invalid
    pred = gt * rng.uniform(0.6, 1.5, (h, w))
    pred = np.where(np.isnan(pred), rng.uniform(1, 100, (h, w)), pred)
    pred[0, :5] = 200.0  # beyond max_depth: clamped
    return pred, gt


def test_metric_keys_are_exactly_the_issue_list():
    assert (
        tuple(
            [
                "abs_rel",
                "sq_rel",
                "rmse",
                "rmse_log",
                "log10",
                "a1",
                "a2",
                "a3",
                "silog",
                "sq_error_rel",
                "abs_error_rel",
                "irmse",
            ]
        )
        == METRIC_KEYS
    )
    rng = np.random.default_rng(0)
    assert set(depth_metrics(*_random_pair(rng))) == set(METRIC_KEYS)


def test_random_with_invalid_pixels_matches_reference():
    rng = np.random.default_rng(1)
    pred, gt = _random_pair(rng)
    got, ref = depth_metrics(pred, gt), _reference(pred, gt)
    for key in METRIC_KEYS:
        assert got[key] == pytest.approx(ref[key], rel=1e-9, abs=1e-12), key


def test_perfect_prediction():
    gt = np.random.default_rng(2).uniform(1, 70, (8, 16))
    m = depth_metrics(gt.copy(), gt)
    for key in ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog", "sq_error_rel", "irmse"):
        assert m[key] == pytest.approx(0.0, abs=1e-9), key
    assert m["a1"] == m["a2"] == m["a3"] == 1.0


@pytest.mark.parametrize("scale", [0.75, 1.1, 1.3])
def test_constant_scale_error(scale):
    gt = np.random.default_rng(3).uniform(2, 50, (8, 16))
    m = depth_metrics(gt * scale, gt)
    assert m["abs_rel"] == pytest.approx(abs(scale - 1))
    assert m["rmse_log"] == pytest.approx(abs(math.log(scale)))
    assert m["log10"] == pytest.approx(abs(math.log10(scale)))
    assert m["silog"] == pytest.approx(0.0, abs=1e-5)  # scale-invariant
    assert m["sq_error_rel"] == pytest.approx(100 * (scale - 1) ** 2)
    assert m["a1"] == float(max(scale, 1 / scale) < 1.25)
    assert m["irmse"] == pytest.approx(abs(1 / scale - 1) * math.sqrt(np.mean((1000 / gt) ** 2)))


def test_predictions_are_clamped_into_range():
    gt = np.full((4, 4), 50.0)
    m = depth_metrics(np.full((4, 4), 1000.0), gt, max_depth=80.0)
    assert m["abs_rel"] == pytest.approx(30.0 / 50.0)


@pytest.mark.parametrize(
    "crop,rows,cols",
    [("garg", (153, 371), (44, 1197)), ("eigen", (124, 342), (44, 1197)), (None, (0, 375), (0, 1242))],
)
def test_crops_on_kitti_size(crop, rows, cols):
    mask = crop_mask(375, 1242, crop)
    ys, xs = np.nonzero(mask)
    assert (ys.min(), ys.max() + 1) == rows and (xs.min(), xs.max() + 1) == cols
    assert mask.sum() == (rows[1] - rows[0]) * (cols[1] - cols[0])


def test_crop_equals_masking_gt_outside():
    rng = np.random.default_rng(4)
    gt = rng.uniform(1, 70, (64, 128))
    pred = gt * rng.uniform(0.7, 1.4, gt.shape)
    outside = gt.copy()
    outside[~crop_mask(64, 128, "garg")] = np.nan
    assert depth_metrics(pred, gt, crop="garg") == pytest.approx(depth_metrics(pred, outside))
    assert depth_metrics(pred, gt, crop="garg") != pytest.approx(depth_metrics(pred, gt))
    with pytest.raises(ValueError, match="unknown crop"):
        depth_metrics(pred, gt, crop="kitti")


def test_errors_are_explained():
    with pytest.raises(NoValidPixels):
        depth_metrics(np.ones((4, 4)), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="same"):
        depth_metrics(np.ones((4, 4)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="NaN"):
        depth_metrics(np.full((4, 4), np.nan), np.ones((4, 4)))


def test_aggregator_averages_per_image_not_per_pixel():
    rng = np.random.default_rng(5)
    agg = MetricAggregator()
    per_image = []
    for n_valid in (10, 300):
        gt = np.full((20, 20), np.nan)
        gt.ravel()[:n_valid] = rng.uniform(1, 50, n_valid)
        pred = gt * (1.5 if n_valid == 10 else 1.1)
        per_image.append(agg.update(np.nan_to_num(pred, nan=1.0), gt))
    assert agg.update(np.ones((20, 20)), np.zeros((20, 20))) is None
    assert agg.count == 2 and agg.skipped == 1
    mean, std = agg.mean(), agg.std()
    assert mean["abs_rel"] == pytest.approx(0.3)  # (0.5 + 0.1) / 2; pixel pooling would give ~0.113
    assert std["abs_rel"] == pytest.approx(0.2)
    assert mean["rmse"] == pytest.approx((per_image[0]["rmse"] + per_image[1]["rmse"]) / 2)


def _brute_curve(pred, gt, score, metric, steps):
    """Sort, drop the top-k, recompute on what is left, for every fraction (independent of the cumsum trick)."""
    order = sorted(range(len(score)), key=lambda i: -score[i])
    out = []
    for i in range(steps):
        keep = order[int(math.floor(i / steps * len(score))) :]
        p, g = pred[keep], gt[keep]
        out.append(np.mean(np.abs(p - g) / g) if metric == "abs_rel" else math.sqrt(np.mean((p - g) ** 2)))
    return np.array(out)


@pytest.mark.parametrize("metric", ["abs_rel", "rmse"])
def test_sparsification_curve_matches_brute_force(metric):
    rng = np.random.default_rng(6)
    gt = rng.uniform(1, 60, 503)
    pred = gt * rng.uniform(0.7, 1.3, gt.shape)
    score = rng.random(503)
    np.testing.assert_allclose(
        sparsification_curve(pred, gt, score, metric, 20),
        _brute_curve(pred, gt, score, metric, 20),
        rtol=1e-10,
    )
    err = np.abs(pred - gt) / gt if metric == "abs_rel" else np.abs(pred - gt)
    np.testing.assert_allclose(
        oracle_curve(pred, gt, metric, 20), _brute_curve(pred, gt, err, metric, 20), rtol=1e-10
    )


def test_oracle_uncertainty_gives_zero_ause_and_positive_aurg():
    rng = np.random.default_rng(7)
    gt = rng.uniform(1, 55, (32, 48))  # x1.4 stays below max_depth: no clamping
    gt[rng.random(gt.shape) < 0.2] = np.nan
    pred = np.nan_to_num(gt, nan=5.0) * rng.uniform(0.6, 1.4, gt.shape)
    abs_err = np.abs(pred - np.nan_to_num(gt, nan=1.0))
    rel_err = abs_err / np.nan_to_num(gt, nan=1.0)
    assert ause_abs_rel(pred, gt, rel_err) == pytest.approx(0.0, abs=1e-12)
    assert ause_rmse(pred, gt, abs_err) == pytest.approx(0.0, abs=1e-12)
    assert aurg_abs_rel(pred, gt, rel_err) > 0.05 and aurg_rmse(pred, gt, abs_err) > 1.0
    # The opposite ranking is worse than chance; a random one is near chance.
    assert ause_rmse(pred, gt, -abs_err) > ause_rmse(pred, gt, rng.random(gt.shape)) > 0
    assert aurg_rmse(pred, gt, -abs_err) < 0
    assert abs(aurg_abs_rel(pred, gt, rng.random(gt.shape))) < 0.2 * aurg_abs_rel(pred, gt, rel_err)


def test_uncertainty_metrics_dict_matches_single_functions():
    rng = np.random.default_rng(8)
    gt = rng.uniform(1, 60, (16, 16))
    pred = gt * rng.uniform(0.8, 1.2, gt.shape)
    sigma = np.abs(pred - gt) + rng.uniform(0, 2, gt.shape)
    out = uncertainty_metrics(pred, gt, sigma, crop="eigen")
    assert out["ause_abs_rel"] == pytest.approx(ause_abs_rel(pred, gt, sigma, crop="eigen"))
    assert out["aurg_rmse"] == pytest.approx(aurg_rmse(pred, gt, sigma, crop="eigen"))
    with pytest.raises(ValueError, match="uncertainty shape"):
        uncertainty_metrics(pred, gt, sigma[:4])


def test_metric_modules_do_not_import_torch():
    code = "import sys, adu_depth_core.metrics, adu_depth_core.uncertainty_metrics; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
