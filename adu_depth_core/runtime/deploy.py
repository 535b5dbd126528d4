"""The deployed graph (torch): the student without its distillation features, returning depth and sigma.

This is exactly what ``adu-depth export`` writes to ONNX and what the torch
backend runs, so every backend computes the same two outputs.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class DeployModel(nn.Module):
    """``(image 1x3xHxW in [0, 1]) -> (depth_m, sigma_m)``, both 1x1xHxW metres."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(image)
        depth = out["depth"]
        sigma = math.sqrt(2.0) * torch.exp(out["log_b"]) * depth  # docs/method.md: sigma_d = sqrt(2) b d
        return depth, sigma
