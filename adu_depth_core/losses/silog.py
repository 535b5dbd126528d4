"""Supervised scale-invariant log loss (SILog) over valid ground-truth pixels, per image."""

from __future__ import annotations

import torch

from adu_depth_core.losses._common import upcast

SQRT_EPS = 1e-8  # floor under the square root (finite gradient at a perfect prediction)


def silog_loss(
    pred_depth: torch.Tensor,
    gt_depth: torch.Tensor,
    valid: torch.Tensor,
    alpha: float = 10.0,
    lam: float = 0.85,
) -> torch.Tensor:
    """``alpha * sqrt(mean_V(g^2) - lam * mean_V(g)^2)``, ``g = log pred - log gt``, averaged over images.

    pred_depth, gt_depth: B x 1 x H x W metres; valid: B x 1 x H x W bool. Images without valid
    pixels are left out; with none in the batch the result is a graph-connected zero.
    """
    valid = valid & (gt_depth > 0)
    g = torch.where(valid, torch.log(upcast(pred_depth)) - torch.log(upcast(gt_depth).clamp_min(1e-6)), 0.0)
    n = valid.flatten(1).sum(1)
    has = n > 0
    if not bool(has.any()):
        return pred_depth.sum() * 0.0
    n_safe = n.clamp_min(1).to(g.dtype)
    mean_g = g.flatten(1).sum(1) / n_safe
    mean_g2 = (g * g).flatten(1).sum(1) / n_safe
    per_image = alpha * torch.sqrt((mean_g2 - lam * mean_g * mean_g).clamp_min(SQRT_EPS))
    return per_image[has].mean()
