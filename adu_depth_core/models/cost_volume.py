"""Correlation cost volume over horizontal shifts, and its 2D-conv aggregation (teacher only)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from adu_depth_core.models.decoder import ConvBNReLU


def correlation_volume(left: torch.Tensor, right: torch.Tensor, num_disp: int) -> torch.Tensor:
    """Channel-mean correlation for disparities 0..num_disp-1.

    left, right: B x C x h x w features of a rectified pair. Returns B x num_disp x h x w with
    ``out[:, d, y, x] = mean_c(left[:, c, y, x] * right[:, c, y, x - d])`` (0 where x - d < 0).
    """
    if left.shape != right.shape:
        raise ValueError(f"left/right feature shapes differ: {tuple(left.shape)} vs {tuple(right.shape)}")
    if num_disp < 1:
        raise ValueError(f"num_disp must be >= 1, got {num_disp}")
    width = left.shape[-1]
    planes = []
    for d in range(num_disp):
        if d == 0:
            shifted = right
        elif d < width:
            shifted = F.pad(right[..., : width - d], (d, 0))
        else:
            shifted = torch.zeros_like(right)
        planes.append((left * shifted).mean(dim=1))
    return torch.stack(planes, dim=1)


class CostVolume(nn.Module):
    """1x1 matching projection (shared by both views), correlation over ``num_disp`` shifts, 2 aggregation convs."""

    def __init__(self, in_ch: int, num_disp: int, match_ch: int = 32, out_ch: int = 64) -> None:
        super().__init__()
        self.num_disp = int(num_disp)
        self.project = nn.Conv2d(in_ch, match_ch, 1)
        self.aggregate = nn.Sequential(ConvBNReLU(self.num_disp, out_ch), ConvBNReLU(out_ch, out_ch))
        self.out_channels = out_ch

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        volume = correlation_volume(self.project(left), self.project(right), self.num_disp)
        return self.aggregate(volume)
