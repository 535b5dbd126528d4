"""The two shipped models: small fp16 files whose cards and notes say how they were made and how they
score, and which still do their job on a held-out synthetic frame."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from adu_depth_core.bundled import DEFAULT_STUDENT, DEFAULT_TEACHER
from adu_depth_core.checkpoint import load_checkpoint
from adu_depth_core.data.synthetic import SyntheticStereo
from adu_depth_core.metrics import depth_metrics
from adu_depth_core.models import load_model
from adu_depth_core.train.evaluate import predict

SHIPPED = {"student": DEFAULT_STUDENT, "teacher": DEFAULT_TEACHER}


@pytest.mark.parametrize("arch", SHIPPED)
def test_shipped_model_is_small_fp16_with_a_complete_card_and_note(arch):
    path = SHIPPED[arch]
    assert path.stat().st_size < 12 * 2**20
    ckpt = load_checkpoint(path)
    floats = [t for t in ckpt["model"].values() if torch.is_floating_point(t)]
    assert floats and all(t.dtype == torch.float16 for t in floats)
    card = ckpt["card"]
    assert card["arch"] == arch and card["train_config"]["train"]["steps"] > 0
    assert 0 < card["metrics"]["abs_rel"] < 0.5, "held-out synthetic AbsRel is recorded"
    note = path.with_suffix(".md").read_text()
    assert path.with_suffix(".md").name in card["notes"]
    for needed in ("hardware", "steps of batch", "min wall", "selection", "packaging", "Held-out"):
        assert needed in note, f"{path.with_suffix('.md').name} lacks {needed!r}"
    assert "Real frames are evaluation only" in note


def test_shipped_student_is_camera_aware_and_the_teacher_was_scored_against_sgbm_with_and_without_refinement():
    student = load_checkpoint(DEFAULT_STUDENT)["card"]
    assert student["canonical_focal_px"] and student["input_height"] % 32 == 0
    teacher = load_checkpoint(DEFAULT_TEACHER)["card"]["metrics"]
    assert {"cones.bad3", "motorcycle.bad3", "cones.refine.bad3", "motorcycle.refine.bad3"} <= set(teacher)
    note = DEFAULT_TEACHER.with_suffix(".md").read_text()
    assert "SGBM" in note and "teacher + refine" in note


@pytest.fixture(scope="module")
def frame():
    return SyntheticStereo(1, (192, 640), seed=31_000_000, hfov_deg=(60.0, 60.0))[0]


@pytest.mark.parametrize("arch, worst", [("teacher", 0.2), ("student", 0.5)])
def test_shipped_model_measures_a_held_out_synthetic_street(arch, worst, frame):
    model, card = load_model(SHIPPED[arch])
    right = frame.right if arch == "teacher" else None
    depth, sigma = predict(
        model, card, frame.left, right, (card.input_height, card.input_width), frame.K, frame.baseline_m
    )
    m = depth_metrics(depth, frame.depth_m, min_depth=card.min_depth_m, max_depth=card.max_depth_m)
    assert m["abs_rel"] < worst, f"{arch} AbsRel {m['abs_rel']:.3f} on a held-out synthetic street"
    assert np.all(sigma[np.isfinite(frame.depth_m)] > 0)
