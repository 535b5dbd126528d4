"""Uncertainty terms: Laplace NLL of log-depth (with teacher pseudo-targets) and the teacher confidence c_T.

Semantics: ``log d* ~ Laplace(log d_hat, b)``, ``b = exp(log_b)``; sigma_m = sqrt(2) * b * depth_m.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from adu_depth_core.losses._common import upcast


def laplace_nll(
    pred_depth: torch.Tensor,
    log_b: torch.Tensor,
    target_depth: torch.Tensor,
    mask: torch.Tensor,
) -> torch.Tensor:
    """``mean_mask(|log pred - log target| * exp(-log_b) + log_b)`` (constant log 2 dropped).

    All B x 1 x H x W; target in metres (> 0 where ``mask``). An empty mask gives a graph-connected zero.
    """
    if not bool(mask.any()):
        return (pred_depth.sum() + log_b.sum()) * 0.0
    log_b = upcast(log_b)
    g = torch.log(upcast(pred_depth)) - torch.log(upcast(target_depth).clamp_min(1e-6))
    nll = g.abs() * torch.exp(-log_b) + log_b
    return nll[mask].mean()


def teacher_confidence(teacher_log_b: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """``c_T = exp(-b_T / temperature)`` normalised to mean 1 per image; detached. B x 1 x H x W."""
    b = torch.exp(upcast(teacher_log_b.detach()))
    c = torch.exp(-b / temperature)
    return c / c.mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)


def resize_confidence(conf: torch.Tensor, stride: int) -> torch.Tensor:
    """Average-pool a full-resolution confidence map to a feature stride (keeps mean 1)."""
    return conf if stride == 1 else F.avg_pool2d(conf, stride)


def uncertainty_targets(
    gt_depth: torch.Tensor,
    gt_valid: torch.Tensor,
    teacher_depth: torch.Tensor | None = None,
    teacher_conf: torch.Tensor | None = None,
    conf_threshold: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel NLL target and mask: ground truth where valid, else the teacher's depth where c_T >= threshold."""
    if teacher_depth is None:
        return gt_depth, gt_valid
    if teacher_conf is None:
        raise ValueError("teacher pseudo-targets need the teacher confidence map")
    pseudo = ~gt_valid & (teacher_conf >= conf_threshold)
    target = torch.where(gt_valid, gt_depth, teacher_depth.detach().to(gt_depth.dtype))
    return target, gt_valid | pseudo
