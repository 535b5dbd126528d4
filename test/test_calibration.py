"""Reliability bins and coverage of predicted sigma (adu_depth_core/calibration.py) on numbers with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from adu_depth_core.calibration import (
    IDEAL_SHARE_WITHIN_SIGMA,
    depth_errors,
    quantile_bins,
    reliability,
)


def laplace_pixels(n: int = 240_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel scales b spread over two decades and errors drawn from Laplace(0, b); sigma = sqrt(2) b."""
    rng = np.random.default_rng(seed)
    b = np.exp(rng.uniform(np.log(0.005), np.log(0.5), n))
    return rng.laplace(0.0, b), math.sqrt(2.0) * b


def test_calibrated_errors_give_ratio_one_and_the_ideal_coverage():
    err, sigma = laplace_pixels()
    r = reliability(err, sigma, bins=12)
    assert r.calibration_error < 0.03
    assert np.all(np.abs(r.err_rms / r.sigma_rms - 1.0) < 0.05)
    assert np.all(np.abs(r.err_mean_abs / (r.sigma_mean / math.sqrt(2.0)) - 1.0) < 0.05)
    assert r.rms_ratio == pytest.approx(1.0, abs=0.03)
    assert r.share_within_sigma == pytest.approx(IDEAL_SHARE_WITHIN_SIGMA, abs=0.01)
    assert r.share_within_95 == pytest.approx(0.95, abs=0.01)


def test_errors_twice_as_large_give_ratio_two_in_every_bin():
    err, sigma = laplace_pixels(seed=1)
    r = reliability(2.0 * err, sigma, bins=12)
    assert np.all(np.abs(r.err_rms / r.sigma_rms - 2.0) < 0.1)
    assert r.calibration_error == pytest.approx(math.log(2.0), abs=0.05)
    assert r.rms_ratio == pytest.approx(2.0, abs=0.06)
    assert r.share_within_sigma < IDEAL_SHARE_WITHIN_SIGMA - 0.2  # over-confident: too few inside


def test_quantile_bins_cover_every_pixel_in_equal_shares():
    _, sigma = laplace_pixels(n=12_000)
    idx = quantile_bins(sigma, 12)
    assert idx.min() == 0 and idx.max() == 11
    assert np.all(np.abs(np.bincount(idx) - 1000) <= 1)
    r = reliability(np.zeros_like(sigma) + 0.01, sigma, bins=12)
    assert r.count.sum() == sigma.size and len(r.count) == 12
    assert np.all(np.diff(r.sigma_mean) > 0)


def test_tied_sigma_leaves_empty_bins_out():
    sigma = np.repeat([0.1, 0.2], [900, 100])
    r = reliability(np.full(sigma.size, 0.1), sigma, bins=10)
    assert r.count.tolist() == [900, 100]
    assert r.sigma_mean.tolist() == pytest.approx([0.1, 0.2])


def test_invalid_pixels_are_ignored():
    err, sigma = laplace_pixels(n=5000, seed=2)
    bad_err, bad_sigma = err.copy(), sigma.copy()
    bad_err[:100] = np.nan
    bad_sigma[100:200] = np.inf
    bad_sigma[200:300] = 0.0
    bad_sigma[300:400] = -1.0
    got = reliability(bad_err, bad_sigma, bins=8)
    want = reliability(err[400:], sigma[400:], bins=8)
    assert got.count.sum() == 4600
    assert got.calibration_error == pytest.approx(want.calibration_error)
    assert got.err_rms == pytest.approx(want.err_rms)


def test_no_valid_pixel_is_a_clear_error():
    with pytest.raises(ValueError, match="no pixel with a finite error"):
        reliability(np.full(4, np.nan), np.ones(4))


def test_depth_errors_in_log_and_metric_space():
    gt = np.array([[10.0, 20.0], [np.nan, 5.0]])
    pred = np.array([[11.0, 20.0], [3.0, 4.0]])
    sigma = np.array([[1.1, 2.0], [0.3, 0.8]])
    e_log, s_log = depth_errors(pred, gt, sigma, "log")
    assert e_log == pytest.approx(np.log([1.1, 1.0, 0.8]))
    assert s_log == pytest.approx([0.1, 0.1, 0.2])  # sigma / pred = sqrt(2) b
    e_m, s_m = depth_errors(pred, gt, sigma, "metric")
    assert e_m == pytest.approx([1.0, 0.0, -1.0])
    assert s_m == pytest.approx([1.1, 2.0, 0.8])
    with pytest.raises(ValueError, match="unknown calibration space"):
        depth_errors(pred, gt, sigma, "disparity")
