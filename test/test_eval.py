"""Evaluation: metrics through the runtime's pre/post-processing against independent numpy references,
crops, median scaling, skipped images, report files (CSV, markdown, figures) and the eval CLI."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from adu_depth_core.checkpoint import ModelCard
from adu_depth_core.data.sample import StereoSample
from adu_depth_core.train.evaluate import EvalOptions, evaluate_model, predict, write_report

H, W = 64, 96  # samples at the card size: no resizing, so the prediction is known exactly


class ImageDrivenModel(nn.Module):
    """depth = 2 + 30 * red, log_b = 2 * green - 3: outputs a test can recompute from the image."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, image):
        return {"depth": 2.0 + 30.0 * image[:, :1] + 0 * self.dummy, "log_b": 2.0 * image[:, 1:2] - 3.0}


def _sample(i: int, rng: np.random.Generator, empty: bool = False) -> StereoSample:
    left = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    depth = rng.uniform(1.0, 60.0, (H, W)).astype(np.float32)
    depth[rng.random((H, W)) < 0.3] = np.nan
    if empty:
        depth[:] = np.nan
    return StereoSample(left, None, depth, np.isfinite(depth), np.eye(3), 0.5, f"s{i}")


def _reference(sample: StereoSample, crop: bool, scale: bool) -> dict[str, float]:
    """Independent per-image metrics: Garg crop from docs/method.md's fractions, range (0.5, 80) m."""
    pred = 2.0 + 30.0 * (sample.left[..., 0].astype(np.float64) / 255.0)
    gt = sample.depth_m.astype(np.float64)
    keep = np.isfinite(gt) & (gt > 0.5) & (gt < 80.0)
    if crop:
        box = np.zeros_like(keep)
        box[int(0.40810811 * H) : int(0.99189189 * H), int(0.03594771 * W) : int(0.96405229 * W)] = True
        keep &= box
    p, g = pred[keep], gt[keep]
    if scale:
        p = p * np.median(g) / np.median(p)
    p = np.clip(p, 0.5, 80.0)
    ratio = np.maximum(p / g, g / p)
    return {
        "abs_rel": np.mean(np.abs(p - g) / g),
        "rmse": math.sqrt(np.mean((p - g) ** 2)),
        "a1": np.mean(ratio < 1.25),
        "silog": 100 * math.sqrt(np.var(np.log(p) - np.log(g))),
    }


@pytest.fixture
def setup():
    rng = np.random.default_rng(0)
    samples = [_sample(i, rng) for i in range(3)] + [_sample(3, rng, empty=True)]
    card = ModelCard(input_height=H, input_width=W, min_depth_m=0.5, max_depth_m=80.0)
    return ImageDrivenModel(), card, samples


@pytest.mark.parametrize("crop,scale", [(None, False), ("garg", False), ("garg", True)])
def test_metrics_match_an_independent_reference(setup, crop, scale):
    model, card, samples = setup
    opts = EvalOptions(crop=crop, min_depth_m=0.5, max_depth_m=80.0, median_scaling=scale, figures=0)
    res = evaluate_model(model, card, samples, opts, progress=False)
    assert res.skipped == 1 and len(res.per_image) == 3  # the image without valid GT is counted, not scored
    refs = [_reference(s, crop == "garg", scale) for s in samples[:3]]
    for key in ("abs_rel", "rmse", "a1", "silog"):
        assert res.mean[key] == pytest.approx(np.mean([r[key] for r in refs]), rel=1e-5), key
        assert [row[key] for row in res.per_image] == pytest.approx([r[key] for r in refs], rel=1e-5)
    assert res.std["abs_rel"] == pytest.approx(np.std([r["abs_rel"] for r in refs], ddof=1), rel=1e-5)


def test_sigma_follows_the_uncertainty_semantics(setup):
    model, card, samples = setup
    depth, sigma = predict(model, card, samples[0].left, None, (H, W))
    red, green = (samples[0].left[..., c].astype(np.float64) / 255.0 for c in (0, 1))
    expected_depth = 2.0 + 30.0 * red
    np.testing.assert_allclose(depth, expected_depth, rtol=1e-5)
    np.testing.assert_allclose(sigma, math.sqrt(2.0) * np.exp(2.0 * green - 3.0) * expected_depth, rtol=1e-5)


def test_the_oracle_uncertainty_has_ause_near_zero_and_a_constant_one_does_not():
    rng = np.random.default_rng(1)
    gt = rng.uniform(2.0, 50.0, (H, W)).astype(np.float32)
    left = np.zeros((H, W, 3), np.uint8)  # red = 0: the model predicts 2 m everywhere
    # green (-> log_b, hence sigma) ranks the pixels by their true AbsRel error, in 256 levels
    err_rank = np.argsort(np.argsort(np.abs(2.0 - gt).ravel() / gt.ravel(), kind="stable")).reshape(H, W)
    left[..., 1] = np.floor(err_rank * 256 / (H * W)).astype(np.uint8)
    sample = StereoSample(left, None, gt, np.isfinite(gt), np.eye(3), 0.5, "oracle")
    card = ModelCard(input_height=H, input_width=W, min_depth_m=0.5, max_depth_m=80.0)
    opts = EvalOptions(min_depth_m=0.5, max_depth_m=80.0, figures=0)
    oracle = evaluate_model(ImageDrivenModel(), card, [sample], opts, progress=False).mean
    sample.left[..., 1] = 128  # constant uncertainty: no ranking information
    flat = evaluate_model(ImageDrivenModel(), card, [sample], opts, progress=False).mean
    assert oracle["abs_rel"] == pytest.approx(flat["abs_rel"])
    assert oracle["ause_abs_rel"] < 0.05 * flat["ause_abs_rel"]
    assert oracle["aurg_abs_rel"] > 0 and abs(flat["aurg_abs_rel"]) < 0.1 * oracle["aurg_abs_rel"]


def test_report_files(setup, tmp_path):
    model, card, samples = setup
    res = evaluate_model(model, card, samples, EvalOptions(min_depth_m=0.5, figures=2), progress=False)
    summary = write_report(res, tmp_path, "test report", {"model": "image-driven"})
    text = summary.read_text()
    assert f"{res.mean['abs_rel']:.3f} ± {res.std['abs_rel']:.3f}" in text and "AUSE(AbsRel)" in text
    with open(tmp_path / "per_image.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["source_id"] for r in rows] == ["s0", "s1", "s2"]
    assert float(rows[1]["abs_rel"]) == pytest.approx(res.per_image[1]["abs_rel"], rel=1e-5)
    meta = json.loads((tmp_path / "metrics.json").read_text())
    assert meta["images"] == 3 and meta["skipped"] == 1 and meta["model"] == "image-driven"
    figures = sorted((tmp_path / "figures").glob("*.png"))
    assert len(figures) == 2
    for png in [*figures, tmp_path / "sparsification.png"]:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_teacher_needs_right_images(setup):
    _, _, samples = setup
    with pytest.raises(ValueError, match="stereo pairs"):
        predict(ImageDrivenModel(), ModelCard(arch="teacher"), samples[0].left, None, (H, W))


def test_eval_cli_on_synthetic_scenes(tiny_student_ckpt, tmp_path, capsys):
    from adu_depth_core.cli.main import main

    out = tmp_path / "report"
    rc = main(
        [
            "eval",
            "--model",
            str(tiny_student_ckpt),
            "--dataset",
            "synthetic",
            "--data",
            "n=2",
            "--data",
            "size=[64, 192]",
            "--crop",
            "garg",
            "--figures",
            "1",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    meta = json.loads((out / "metrics.json").read_text())
    assert meta["images"] == 2 and meta["crop"] == "garg" and meta["dataset"] == "synthetic"
    assert 0 < meta["mean"]["abs_rel"] < 10 and 0 <= meta["mean"]["a1"] <= 1
    assert (out / "summary.md").is_file() and len(list((out / "figures").glob("*.png"))) == 1
    capsys.readouterr()
    rc = main(
        [
            "eval",
            "--model",
            str(tiny_student_ckpt),
            "--dataset",
            "synthetic",
            "--data",
            "n=1",
            "--input-size",
            "64by128",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "HxW" in err and "Traceback" not in err  # one line; --debug shows the traceback
