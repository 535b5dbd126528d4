"""Optimisers and learning-rate schedules by name (registries, not if/else chains)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch

from adu_depth_core.registry import Registry

OPTIMIZERS: Registry[Callable[..., torch.optim.Optimizer]] = Registry("optimizer")
SCHEDULES: Registry[Callable[[int, int, float], float]] = Registry("lr schedule")


@OPTIMIZERS.register("adamw")
def adamw(
    params: Iterable, lr: float, weight_decay: float, betas: tuple[float, float]
) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=tuple(betas))


@OPTIMIZERS.register("adam")
def adam(
    params: Iterable, lr: float, weight_decay: float, betas: tuple[float, float]
) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, betas=tuple(betas))


@OPTIMIZERS.register("sgd")
def sgd(
    params: Iterable, lr: float, weight_decay: float, betas: tuple[float, float]
) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, momentum=betas[0], nesterov=True)


@SCHEDULES.register("constant")
def constant(step: int, total: int, min_ratio: float) -> float:
    return 1.0


@SCHEDULES.register("cosine")
def cosine(step: int, total: int, min_ratio: float) -> float:
    t = min(step / max(total, 1), 1.0)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))


@SCHEDULES.register("linear")
def linear(step: int, total: int, min_ratio: float) -> float:
    t = min(step / max(total, 1), 1.0)
    return 1.0 - (1.0 - min_ratio) * t


@SCHEDULES.register("step")
def step_decay(step: int, total: int, min_ratio: float) -> float:
    """Divide by 10 at 70 % and 90 % of training (never below ``min_ratio``)."""
    factor = 1.0 if step < 0.7 * total else 0.1 if step < 0.9 * total else 0.01
    return max(factor, min_ratio)


def lr_factor(schedule: str, step: int, total_steps: int, warmup_steps: int, min_ratio: float) -> float:
    """LR multiplier at ``step``: linear warm-up, then the named schedule over the remaining steps."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    return SCHEDULES.get(schedule)(step - warmup_steps, max(total_steps - warmup_steps, 1), min_ratio)


def build_optimizer(
    params: Iterable, name: str, lr: float, weight_decay: float, betas: tuple[float, float]
) -> torch.optim.Optimizer:
    return OPTIMIZERS.get(name)(params, lr=lr, weight_decay=weight_decay, betas=betas)


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    schedule: str,
    total_steps: int | Callable[[], int],
    warmup_steps: int,
    min_ratio: float,
) -> torch.optim.lr_scheduler.LambdaLR:
    """LambdaLR over ``total_steps``; give a callable when the length can change during the run (a
    time-boxed run plans it after its first steps)."""
    SCHEDULES.get(schedule)  # fail early on a typo
    total = total_steps if callable(total_steps) else (lambda: total_steps)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(schedule, s, total(), warmup_steps, min_ratio)
    )
