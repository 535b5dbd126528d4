"""Fine-tuning: ``init_checkpoint`` / ``--init`` starts the trained network from a checkpoint's weights."""

from __future__ import annotations

import pytest
import torch

from adu_depth_core.checkpoint import CheckpointError, load_checkpoint, read_card
from adu_depth_core.config import ModelConfig
from adu_depth_core.models.loading import DEFAULT_STUDENT, DEFAULT_TEACHER
from adu_depth_core.train.config import TrainConfig
from adu_depth_core.train.runner import build_task


def _bundled_student_config() -> dict:
    card = read_card(load_checkpoint(DEFAULT_STUDENT))
    kw = card.model_kwargs
    return {
        "arch": card.arch,
        "encoder": card.encoder,
        "pretrained": False,
        "min_depth": card.min_depth_m,
        "max_depth": card.max_depth_m,
        "canonical_focal_px": card.canonical_focal_px,
        "head_depth_range": [kw["min_depth"], kw["max_depth"]] if "min_depth" in kw else None,
    }


def _distill_cfg(**student) -> TrainConfig:
    return TrainConfig.from_dict(
        {"task": "distill", "teacher_checkpoint": "default", "init_checkpoint": "default", "student": student}
    )


def test_init_default_loads_the_bundled_student_weights():
    parts = build_task(_distill_cfg(**_bundled_student_config()))
    bundled = load_checkpoint(DEFAULT_STUDENT)["model"]
    got = parts.task.student.state_dict()
    assert set(got) == set(bundled)
    worst = max(
        (got[k].float() - bundled[k].float()).abs().max().item()
        for k in bundled
        if bundled[k].is_floating_point()
    )
    assert worst == 0.0


def test_init_with_another_network_says_what_differs():
    cfg = _bundled_student_config() | {"canonical_focal_px": None, "head_depth_range": None}
    with pytest.raises(CheckpointError, match="canonical_focal_px.*configured"):
        build_task(_distill_cfg(**cfg))


def test_init_teacher_default_for_a_teacher_run():
    card = read_card(load_checkpoint(DEFAULT_TEACHER))
    teacher = ModelConfig(arch="teacher", encoder=card.encoder, pretrained=False, min_depth=card.min_depth_m)
    parts = build_task(TrainConfig(task="teacher", init_checkpoint="default", teacher=teacher))
    bundled = load_checkpoint(DEFAULT_TEACHER)["model"]
    k = next(k for k in bundled if bundled[k].is_floating_point())
    torch.testing.assert_close(parts.task.teacher.state_dict()[k].float(), bundled[k].float())


def test_init_is_refused_for_adapt():
    with pytest.raises(ValueError, match="init_checkpoint"):
        TrainConfig(task="adapt", teacher_checkpoint="default", init_checkpoint="default")
