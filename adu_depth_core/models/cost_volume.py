"""Correlation cost volume over horizontal shifts, resampled to a fixed number of disparity bins (teacher only).

The search range follows the image: at a feature stride ``s`` and width ``w_s`` the volume
covers integer shifts ``0 .. ceil(range_px / s)`` (``range_px`` is the disparity range in input
pixels, set per forward pass), then is linearly resampled along the disparity axis to ``bins``
planes. The aggregation convolutions therefore always see ``bins`` channels, whatever the image
width or the rig's disparity range, and bin ``k`` stands for ``k / (bins - 1) * range_px``.
"""

from __future__ import annotations

import math

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


def resample_bins(volume: torch.Tensor, bins: int) -> torch.Tensor:
    """B x D x h x w over shifts 0..D-1 -> B x bins x h x w over ``bins`` evenly spaced shifts 0..D-1."""
    b, d, h, w = volume.shape
    if d == bins:
        return volume
    if d == 1:
        return volume.expand(b, bins, h, w)
    flat = volume.reshape(b, 1, d, h * w)
    out = F.interpolate(flat, size=(bins, h * w), mode="bilinear", align_corners=True)
    return out.reshape(b, bins, h, w)


class CostVolume(nn.Module):
    """1x1 matching projection (shared by both views), correlation, resampling to ``bins``, 2 aggregation convs."""

    def __init__(self, in_ch: int, stride: int, bins: int, match_ch: int = 32, out_ch: int = 64) -> None:
        super().__init__()
        if bins < 2:
            raise ValueError(f"a cost volume needs at least 2 disparity bins, got {bins}")
        self.stride, self.bins = int(stride), int(bins)
        self.project = nn.Conv2d(in_ch, match_ch, 1)
        self.aggregate = nn.Sequential(ConvBNReLU(self.bins, out_ch), ConvBNReLU(out_ch, out_ch))
        self.out_channels = out_ch

    def forward(self, left: torch.Tensor, right: torch.Tensor, range_px: float) -> torch.Tensor:
        """Aggregated matching costs over disparities ``0 .. range_px`` input pixels."""
        shifts = max(2, math.ceil(range_px / self.stride) + 1)
        volume = correlation_volume(self.project(left), self.project(right), shifts)
        return self.aggregate(resample_bins(volume, self.bins))
