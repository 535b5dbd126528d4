"""Attention-adapted feature distillation (AFD) over decoder features at strides 4, 8, 16."""

from __future__ import annotations

import torch

from adu_depth_core.losses._common import upcast


def attention_map(teacher_feature: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """``M = HW * softmax_HW(mean_C(T^2) / tau)`` (mean 1 per image); detached. Returns B x 1 x h x w."""
    t = upcast(teacher_feature.detach())
    b, _, h, w = t.shape
    energy = (t * t).mean(dim=1).flatten(1) / tau
    return (h * w * torch.softmax(energy, dim=1)).view(b, 1, h, w)


def feature_distill_loss(
    adapted: dict[int, torch.Tensor],
    teacher: dict[int, torch.Tensor],
    conf: dict[int, torch.Tensor] | None = None,
    use_attention_map: bool = True,
    tau: float = 1.0,
) -> torch.Tensor:
    """``sum_k mean(M_k * c_T,k * ||A_k(S_k) - sg(T_k)||^2 / C_k)``.

    adapted[k], teacher[k]: B x C_k x h x w (same shapes); conf[k]: B x 1 x h x w or None (no c_T).
    ``use_attention_map=False`` gives plain MSE (M = 1).
    """
    total = None
    for k, a in adapted.items():
        t = upcast(teacher[k].detach())
        if a.shape != t.shape:
            raise ValueError(
                f"stride {k}: adapted student {tuple(a.shape)} vs teacher {tuple(t.shape)} features"
            )
        per_pixel = ((upcast(a) - t) ** 2).mean(dim=1, keepdim=True)
        if use_attention_map:
            per_pixel = per_pixel * attention_map(t, tau)
        if conf is not None:
            per_pixel = per_pixel * conf[k]
        term = per_pixel.mean()
        total = term if total is None else total + term
    if total is None:
        raise ValueError("feature distillation needs at least one stride")
    return total
