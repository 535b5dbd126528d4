"""Training tasks: the stereo teacher (stage 1) and ADU-Depth distillation into the student (stage 2).

A task's ``forward(batch)`` returns ``{"loss": scalar, <term>: detached scalar, ..., "output": model dict}``
so the training loop stays generic; every ablation row is a :class:`LossConfig` switch.
Batches follow the data contract: ``left``, ``right`` (B x 3 x H x W in [0, 1]), ``depth``
(B x 1 x H x W metres, 0 where invalid), ``valid`` (B x 1 x H x W bool), ``has_depth`` (B bools),
``K`` (B x 3 x 3, intrinsics of the crop the network sees) and ``baseline_m`` (B).

Geometry: the teacher turns its disparity into depth with each sample's ``fx * baseline_m``; a
canonical-camera student's output is scaled by ``fx / canonical_focal_px`` per sample before any
loss, so every term compares metric depths.

The frozen teacher stays a submodule (so ``.to(device)`` moves it and checkpoints can
exclude it by the ``teacher.`` prefix) but is always in eval mode, runs under ``no_grad``,
has ``requires_grad=False`` and is listed in ``_ddp_params_and_buffers_to_ignore`` so
DistributedDataParallel neither syncs nor broadcasts it.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from adu_depth_core.config import LossConfig
from adu_depth_core.losses import (
    feature_distill_loss,
    laplace_nll,
    resize_confidence,
    response_distill_loss,
    silog_loss,
    teacher_confidence,
    uncertainty_targets,
)
from adu_depth_core.models.adapters import FeatureAdapters

TEACHER_PREFIX = "teacher."  # state-dict prefix of the frozen teacher inside DistillationTask


class FrozenTeacher(nn.Module):
    """A trained teacher that never trains: eval mode always, no gradients, ``teacher(left, right, fx_b)``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.model.requires_grad_(False)
        self.train(False)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike) -> FrozenTeacher:
        """Load a stage-1 checkpoint (its card must say arch 'teacher'); ``"default"``: the bundled teacher."""
        from adu_depth_core.checkpoint import CheckpointError
        from adu_depth_core.models import load_model
        from adu_depth_core.models.loading import teacher_checkpoint

        model, card = load_model(teacher_checkpoint(path))
        if card.arch != "teacher":
            raise CheckpointError(
                f"{path} holds a '{card.arch}', not a teacher; give the train-teacher checkpoint"
            )
        return cls(model)

    def train(self, mode: bool = True) -> FrozenTeacher:
        """Ignore ``mode``: the teacher stays in eval mode (BatchNorm statistics frozen)."""
        return super().train(False)

    @property
    def feature_channels(self) -> dict[int, int]:
        return self.model.feature_channels

    @property
    def max_depth(self) -> float:
        return self.model.max_depth

    @torch.no_grad()
    def forward(self, left: torch.Tensor, right: torch.Tensor, focal_baseline: torch.Tensor | float) -> dict:
        return self.model(left, right, focal_baseline)


def focal_baseline(batch: dict) -> torch.Tensor:
    """fx (pixels of the crop) * baseline (m) per sample: (B,) float32 on the images' device."""
    _require(batch, "left", "K", "baseline_m")
    K = torch.as_tensor(batch["K"], dtype=torch.float32, device=batch["left"].device)
    base = torch.as_tensor(batch["baseline_m"], dtype=torch.float32, device=K.device).reshape(-1)
    if not bool(torch.all(base > 0)):
        raise ValueError(
            f"stereo samples need a positive baseline_m, got {base.tolist()}; check the dataset calibration"
        )
    return K[:, 0, 0] * base


def canonical_to_metric(out: dict, batch: dict, canonical_focal_px: float | None) -> dict:
    """A canonical-camera student's output with ``depth`` in metres: depth * fx / canonical_focal_px."""
    if canonical_focal_px is None:
        return out
    _require(batch, "K")
    fx = torch.as_tensor(batch["K"], dtype=torch.float32, device=out["depth"].device)[:, 0, 0]
    return {**out, "depth": out["depth"] * (fx / canonical_focal_px).view(-1, 1, 1, 1)}


def gt_mask(batch: dict) -> torch.Tensor:
    """Valid ground-truth pixels: ``valid & depth > 0`` for samples with ``has_depth``; B x 1 x H x W bool."""
    depth = batch["depth"]
    valid = batch["valid"].bool() & (depth > 0)
    has = torch.as_tensor(batch["has_depth"], dtype=torch.bool, device=depth.device).view(-1, 1, 1, 1)
    return valid & has


def _require(batch: dict, *keys: str) -> None:
    missing = [k for k in keys if batch.get(k) is None]
    if missing:
        raise KeyError(
            f"training batch lacks {missing}; the data contract gives left, right, depth, valid, has_depth"
        )


def _detached(terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach() for k, v in terms.items()}


class TeacherTask(nn.Module):
    """Stage 1: ``L_sup + w_u L_unc`` of the stereo teacher on ground truth."""

    def __init__(self, teacher: nn.Module, loss: LossConfig | None = None) -> None:
        super().__init__()
        self.teacher = teacher
        self.cfg = loss or LossConfig.ablation_row("teacher")

    def forward(self, batch: dict) -> dict:
        _require(batch, "left", "right", "depth", "valid", "has_depth")
        out = self.teacher(batch["left"], batch["right"], focal_baseline(batch))
        mask = gt_mask(batch)
        terms = {"sup": silog_loss(out["depth"], batch["depth"], mask, self.cfg.alpha, self.cfg.silog_lambda)}
        total = terms["sup"]
        if self.cfg.w_u > 0:
            terms["unc"] = laplace_nll(out["depth"], out["log_b"], batch["depth"], mask)
            total = total + self.cfg.w_u * terms["unc"]
        return {"loss": total, **_detached(terms), "output": out}


class DistillationTask(nn.Module):
    """Stage 2: student + training-only adapters learn from GT and a frozen teacher (docs/method.md total loss)."""

    def __init__(
        self,
        student: nn.Module,
        teacher: nn.Module,
        loss: LossConfig | None = None,
        canonical_focal_px: float | None = None,
    ) -> None:
        super().__init__()
        self.cfg = loss or LossConfig()
        self.canonical_focal_px = canonical_focal_px
        self.student = student
        self.teacher = teacher if isinstance(teacher, FrozenTeacher) else FrozenTeacher(teacher)
        self.adapters = None
        if self.cfg.feature_on:
            c = self.cfg
            self.adapters = FeatureAdapters(
                student.feature_channels,
                self.teacher.feature_channels,
                tuple(c.feature_strides),
                c.use_attention_adapter,
                c.attn_heads,
                c.attn_window,
                c.attn_max_tokens,
            )
        self._ddp_params_and_buffers_to_ignore = [
            name
            for name, _ in [*self.named_parameters(), *self.named_buffers()]
            if name.startswith(TEACHER_PREFIX)
        ]

    def forward(self, batch: dict) -> dict:
        _require(batch, "left", "depth", "valid", "has_depth")
        cfg = self.cfg
        s_out = canonical_to_metric(self.student(batch["left"]), batch, self.canonical_focal_px)
        mask = gt_mask(batch)
        terms = {"sup": silog_loss(s_out["depth"], batch["depth"], mask, cfg.alpha, cfg.silog_lambda)}
        total = terms["sup"]
        t_out = conf = guide = None
        if cfg.uses_teacher:
            _require(batch, "right")
            t_out = self.teacher(batch["left"], batch["right"], focal_baseline(batch))
            conf = teacher_confidence(t_out["log_b"], cfg.conf_temperature)
            guide = conf if cfg.use_uncertainty_guidance else None
        if cfg.w_u > 0:
            use_pseudo = cfg.unc_teacher_targets and t_out is not None
            target, unc_mask = uncertainty_targets(
                batch["depth"], mask, t_out["depth"] if use_pseudo else None, conf, cfg.pseudo_conf_threshold
            )
            terms["unc"] = laplace_nll(s_out["depth"], s_out["log_b"], target, unc_mask)
            total = total + cfg.w_u * terms["unc"]
        if cfg.feature_on:
            terms["afd"] = self._feature_term(s_out, t_out, guide)
            total = total + cfg.lambda_f * terms["afd"]
        if cfg.response_on:
            terms["frd"] = self._response_term(s_out, t_out, guide)
            total = total + cfg.lambda_r * terms["frd"]
        return {"loss": total, **_detached(terms), "output": s_out}

    def _feature_term(self, s_out: dict, t_out: dict, guide: torch.Tensor | None) -> torch.Tensor:
        adapted = self.adapters({k: s_out["features"][k] for k in self.adapters.strides})
        conf = None if guide is None else {k: resize_confidence(guide, k) for k in adapted}
        teacher_feats = {k: t_out["features"][k] for k in adapted}
        return feature_distill_loss(adapted, teacher_feats, conf, self.cfg.use_attention_map, self.cfg.tau)

    def _response_term(self, s_out: dict, t_out: dict, guide: torch.Tensor | None) -> torch.Tensor:
        c = self.cfg
        return response_distill_loss(
            s_out["depth"],
            t_out["depth"],
            self.teacher.max_depth,
            guide,
            c.use_focal,
            c.beta,
            c.gamma,
            c.use_depth_weight,
            c.eta,
        )
