"""Focal-depth-adapted response distillation (FRD): dense log-depth distillation from the teacher."""

from __future__ import annotations

import torch

from adu_depth_core.losses._common import upcast


def focal_weight(err: torch.Tensor, beta: float = 0.1, gamma: float = 2.0) -> torch.Tensor:
    """``phi = (1 - exp(-e / beta))^gamma``, detached; grows with the error e."""
    return (1.0 - torch.exp(-err.detach() / beta)) ** gamma


def depth_weight(teacher_depth: torch.Tensor, max_depth: float, eta: float = 1.0) -> torch.Tensor:
    """``psi = (d_T / max_depth)^eta`` normalised to mean 1 per image, detached (eta = 0 gives 1)."""
    psi = (upcast(teacher_depth.detach()) / max_depth).clamp_min(1e-12) ** eta
    return psi / psi.mean(dim=(1, 2, 3), keepdim=True)


def response_distill_loss(
    student_depth: torch.Tensor,
    teacher_depth: torch.Tensor,
    max_depth: float,
    conf: torch.Tensor | None = None,
    use_focal: bool = True,
    beta: float = 0.1,
    gamma: float = 2.0,
    use_depth_weight: bool = True,
    eta: float = 1.0,
) -> torch.Tensor:
    """``mean_all(phi * psi * c_T * e)``, ``e = |log d_S - log sg(d_T)|``; all maps B x 1 x H x W metres.

    Switches off: ``use_focal`` -> phi = 1, ``use_depth_weight`` -> psi = 1, ``conf=None`` -> c_T = 1.
    """
    t = upcast(teacher_depth.detach())
    err = (torch.log(upcast(student_depth)) - torch.log(t)).abs()
    weight = torch.ones_like(err)
    if use_focal:
        weight = weight * focal_weight(err, beta, gamma)
    if use_depth_weight:
        weight = weight * depth_weight(t, max_depth, eta)
    if conf is not None:
        weight = weight * conf
    return (weight * err).mean()
