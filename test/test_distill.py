"""Distillation and teacher tasks (gradient routing, frozen teacher, no-GT batches, ablation rows) and configs."""

from __future__ import annotations

import pytest
import torch

from adu_depth_core.checkpoint import CheckpointError, ModelCard, save_checkpoint
from adu_depth_core.config import (
    ABLATION_ROWS,
    LossConfig,
    ModelConfig,
    from_dict,
    load_yaml,
    save_yaml,
    to_dict,
)
from adu_depth_core.distill import DistillationTask, FrozenTeacher, TeacherTask, focal_baseline, gt_mask
from adu_depth_core.losses import response_distill_loss, teacher_confidence
from adu_depth_core.models import create_student, create_teacher

H, W = 32, 64  # small: these tests run forward+backward of student, teacher and adapters


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _batch(has_depth=(True, False), seed=0):
    g = torch.Generator().manual_seed(seed)
    b = len(has_depth)
    valid = torch.rand(b, 1, H, W, generator=g) < 0.3
    depth = torch.where(valid, torch.rand(b, 1, H, W, generator=g) * 50 + 2, torch.zeros(b, 1, H, W))
    return {
        "left": torch.rand(b, 3, H, W, generator=g),
        "right": torch.rand(b, 3, H, W, generator=g),
        "depth": depth,
        "valid": valid,
        "has_depth": torch.tensor(has_depth),
        "K": torch.tensor([[60.0, 0.0, 31.5], [0.0, 60.0, 15.5], [0.0, 0.0, 1.0]]).expand(b, 3, 3),
        "baseline_m": torch.full((b,), 0.54),
    }


def _task(row="6", **overrides) -> DistillationTask:
    torch.manual_seed(0)
    student = create_student(pretrained=False)
    teacher = create_teacher(pretrained=False, max_disparity=32)
    return DistillationTask(student, teacher, LossConfig.ablation_row(row, **overrides))


def test_gradients_reach_student_and_adapters_never_the_teacher():
    task = _task("6").train()
    before = {k: v.clone() for k, v in task.teacher.state_dict().items()}
    out = task(_batch())
    assert set(out) == {"loss", "sup", "unc", "afd", "frd", "output"}
    out["loss"].backward()
    assert not task.teacher.training and task.student.training
    assert all(p.grad is None and not p.requires_grad for p in task.teacher.parameters())
    assert all(p.grad is not None for p in task.adapters.parameters())
    student_grads = [p.grad for p in task.student.parameters()]
    assert all(g is not None for g in student_grads) and sum(g.abs().sum() for g in student_grads) > 0
    torch.optim.SGD([p for p in task.parameters() if p.requires_grad], lr=0.1).step()
    for k, v in task.teacher.state_dict().items():  # includes BN running stats: eval mode, untouched
        assert torch.equal(v, before[k]), k


def test_stereo_pairs_without_ground_truth_train_from_the_teacher_only():
    task = _task("6").train()
    out = task(_batch(has_depth=(False, False)))
    assert out["sup"].item() == 0.0
    assert out["afd"].item() > 0 and out["frd"].item() > 0
    out["loss"].backward()
    assert task.student.heads.depth_conv.weight.grad.abs().sum() > 0
    # Ground-truth-only row on the same batch: nothing to learn, but backward still works (DDP-safe zero).
    task1 = _task("1").train()
    out1 = task1(_batch(has_depth=(False, False)))
    assert out1["loss"].item() == 0.0
    out1["loss"].backward()


def test_gt_mask_respects_has_depth_and_zero_depth():
    batch = _batch(has_depth=(True, False))
    mask = gt_mask(batch)
    assert mask[1].sum() == 0 and torch.equal(mask[0], batch["valid"][0])


def test_missing_right_image_is_explained_unless_no_teacher_term_needs_it():
    batch = _batch()
    batch["right"] = None
    with pytest.raises(KeyError, match="right"):
        _task("6")(batch)
    assert "loss" in _task("1")(batch)


def test_ddp_ignore_list_is_exactly_the_teacher():
    task = _task("6")
    names = {n for n, _ in [*task.named_parameters(), *task.named_buffers()]}
    ignored = set(task._ddp_params_and_buffers_to_ignore)
    assert ignored == {n for n in names if n.startswith("teacher.")} and ignored
    assert not any(n.startswith("teacher.") for n, p in task.named_parameters() if p.requires_grad)


@pytest.mark.parametrize(
    "row,terms,attention",
    [
        ("1", {"sup", "unc"}, None),
        ("2", {"sup", "unc", "frd"}, None),
        ("3", {"sup", "unc", "frd"}, None),
        ("4", {"sup", "unc", "frd", "afd"}, False),
        ("5", {"sup", "unc", "frd", "afd"}, True),
        ("6", {"sup", "unc", "frd", "afd"}, True),
    ],
)
def test_each_ablation_row_switches_the_right_mechanisms(row, terms, attention):
    task = _task(row)
    out = task(_batch())
    assert set(out) - {"loss", "output"} == terms
    if attention is None:
        assert task.adapters is None
    else:
        assert all((a.attn is not None) == attention for a in task.adapters.adapters.values())
    total = sum(w * out[k] for k, w in _weights(task.cfg).items() if k in out)
    assert out["loss"].item() == pytest.approx(total.item(), rel=1e-6)


def _weights(cfg: LossConfig) -> dict[str, float]:
    return {"sup": 1.0, "unc": cfg.w_u, "afd": cfg.lambda_f, "frd": cfg.lambda_r}


def test_rows_differ_only_in_the_switch_each_adds():
    rows = {r: to_dict(LossConfig.ablation_row(r)) for r in "123456"}
    diff = {r: {k for k in rows[r] if rows[r][k] != rows[str(int(r) - 1)][k]} for r in "23456"}
    assert diff["2"] == {"response_distill", "use_focal", "use_depth_weight"}
    assert diff["3"] == {"use_focal", "use_depth_weight"}
    assert diff["4"] == {"feature_distill", "use_attention_adapter", "use_attention_map"}
    assert diff["5"] == {"use_attention_adapter", "use_attention_map"}
    assert diff["6"] == {"use_uncertainty_guidance", "unc_teacher_targets"}
    assert to_dict(LossConfig()) == rows["6"]  # default = full ADU-Depth
    assert "teacher" in ABLATION_ROWS


def test_uncertainty_guidance_weights_frd_by_the_teacher_confidence():
    batch = _batch()
    tasks = {row: _task(row) for row in ("5", "6")}
    for task in tasks.values():  # the same teacher in both, whose depth and uncertainty vary over the image
        torch.manual_seed(1)
        torch.nn.init.normal_(task.teacher.model.refine.conv[-1].weight, std=0.5)
    out5, out6 = tasks["5"](batch), tasks["6"](batch)
    t_out = tasks["6"].teacher(batch["left"], batch["right"], focal_baseline(batch))
    conf = teacher_confidence(t_out["log_b"], LossConfig().conf_temperature)
    assert conf.std() > 0.01  # c_T is not uniform
    s_depth = out6["output"]["depth"]
    guided = response_distill_loss(s_depth, t_out["depth"], 80.0, conf)
    assert out6["frd"].item() == pytest.approx(guided.item(), rel=1e-5)
    assert out5["frd"].item() == pytest.approx(
        response_distill_loss(s_depth, t_out["depth"], 80.0).item(), rel=1e-5
    )
    # the two cases are distinguishable at the tolerance used above
    assert out5["frd"].item() != pytest.approx(out6["frd"].item(), rel=1e-4)


def test_teacher_task_trains_the_teacher():
    torch.manual_seed(0)
    task = TeacherTask(create_teacher(pretrained=False, max_disparity=32)).train()
    out = task(_batch())
    assert set(out) == {"loss", "sup", "unc", "output"}
    out["loss"].backward()
    assert task.teacher.cost["4"].project.weight.grad.abs().sum() > 0
    assert task.teacher.encoder._conv_stem.weight.grad.abs().sum() > 0


def test_a_few_steps_reduce_the_distillation_loss():
    task = _task("6").train()
    batch = _batch(has_depth=(True, True))
    opt = torch.optim.Adam([p for p in task.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        out = task(batch)
        out["loss"].backward()
        opt.step()
        losses.append(out["loss"].item())
    assert losses[-1] < losses[0]


def test_frozen_teacher_from_checkpoint(tmp_path):
    teacher = create_teacher(pretrained=False, max_disparity=32)
    card = ModelCard(arch="teacher", model_kwargs={"max_disparity": 32})
    save_checkpoint(tmp_path / "t.pt", teacher.state_dict(), card)
    frozen = FrozenTeacher.from_checkpoint(tmp_path / "t.pt")
    frozen.train()
    assert not frozen.training and not any(p.requires_grad for p in frozen.parameters())
    save_checkpoint(tmp_path / "s.pt", create_student(pretrained=False).state_dict(), ModelCard())
    with pytest.raises(CheckpointError, match="not a teacher"):
        FrozenTeacher.from_checkpoint(tmp_path / "s.pt")


# ---------------------------------------------------------------------------------------------- configs
def test_config_yaml_roundtrip_and_strict_keys(tmp_path):
    cfg = LossConfig.ablation_row(4, lambda_f=0.25, feature_strides=(8, 16))
    save_yaml(cfg, tmp_path / "loss.yaml")
    assert load_yaml(LossConfig, tmp_path / "loss.yaml") == cfg
    assert from_dict(LossConfig, to_dict(cfg)) == cfg
    with pytest.raises(ValueError, match="unknown LossConfig key.*lamda_f.*known: alpha"):
        from_dict(LossConfig, {"lamda_f": 1.0})
    with pytest.raises(ValueError, match="tau must be > 0"):
        LossConfig(tau=0)
    (tmp_path / "bad.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="expected a mapping"):
        load_yaml(LossConfig, tmp_path / "bad.yaml")


def test_model_config_builds_and_feeds_the_card():
    cfg = from_dict(
        ModelConfig, {"arch": "teacher", "pretrained": False, "max_disparity": 64, "cost_strides": [4]}
    )
    assert cfg.cost_strides == (4,)
    teacher = cfg.build()
    assert list(teacher.cost) == ["4"] and teacher.decoder.widths[1] == 64
    kwargs = cfg.model_kwargs()
    assert "pretrained" not in kwargs and kwargs["width_mult"] == 2.0
    rebuilt = create_teacher(pretrained=False, **kwargs)
    assert rebuilt.state_dict().keys() == teacher.state_dict().keys()
    with pytest.raises(ValueError, match="arch"):
        ModelConfig(arch="mono")
