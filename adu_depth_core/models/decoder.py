"""Light U-Net decoder and the two output heads (metric depth, log_b), shared by student and teacher.

Depth head (log-space): ``depth = exp(log(min_depth) + (log(max_depth) - log(min_depth)) * sigmoid(x))``,
i.e. a sigmoid interpolated geometrically between the depth limits, so the output is
always in ``[min_depth, max_depth]`` and the head has uniform resolution in log-depth (the
space of every loss). Uncertainty head: ``log_b = clamp(x, LOG_B_MIN, LOG_B_MAX)`` (an ONNX
``Clip``), the log of the Laplace scale of log-depth.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

LOG_B_MIN = -6.0
LOG_B_MAX = 3.0
FEATURE_STRIDES = (4, 8, 16)  # decoder features returned for distillation
INIT_DEPTH_M = 10.0  # the depth head starts near this depth


class ConvBNReLU(nn.Sequential):
    """3x3 conv, BatchNorm, ReLU."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int = 3) -> None:
        super().__init__(
            nn.Conv2d(in_ch, out_ch, kernel, 1, kernel // 2, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
        )


def up2(x: torch.Tensor) -> torch.Tensor:
    """Bilinear x2 upsampling (align_corners=False; a constant-scale ONNX Resize)."""
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


class UNetDecoder(nn.Module):
    """Decoder over skips at strides 2..32: up x2, concat skip, conv; returns features per stride.

    ``skip_channels`` and ``widths`` are ordered by stride (2, 4, 8, 16, 32).
    """

    def __init__(self, skip_channels: Sequence[int], widths: Sequence[int]) -> None:
        super().__init__()
        if len(skip_channels) != 5 or len(widths) != 5:
            raise ValueError(
                f"need 5 skip channels and 5 widths (strides 2..32), got {skip_channels}, {widths}"
            )
        self.widths = tuple(int(w) for w in widths)
        self.bottleneck = ConvBNReLU(skip_channels[4], self.widths[4])
        self.fuse = nn.ModuleList(
            ConvBNReLU(self.widths[i + 1] + skip_channels[i], self.widths[i]) for i in range(4)
        )

    def forward(self, skips: Sequence[torch.Tensor]) -> dict[int, torch.Tensor]:
        x = self.bottleneck(skips[4])
        out = {32: x}
        for i in (3, 2, 1, 0):
            x = self.fuse[i](torch.cat([up2(x), skips[i]], dim=1))
            out[2 ** (i + 1)] = x
        return out


class DepthHeads(nn.Module):
    """Full-resolution heads on the stride-2 features: metric depth and clamped log_b."""

    def __init__(self, in_ch: int, min_depth: float, max_depth: float) -> None:
        super().__init__()
        if not 0.0 < min_depth < max_depth:
            raise ValueError(f"need 0 < min_depth < max_depth, got {min_depth}, {max_depth}")
        self.log_min = math.log(min_depth)
        self.log_range = math.log(max_depth) - self.log_min
        self.depth_conv = nn.Conv2d(in_ch, 1, 3, 1, 1)
        self.log_b_conv = nn.Conv2d(in_ch, 1, 3, 1, 1)
        frac = (
            math.log(min(max(INIT_DEPTH_M, min_depth * 1.01), max_depth * 0.99)) - self.log_min
        ) / self.log_range
        for conv in (self.depth_conv, self.log_b_conv):  # start near-constant: INIT_DEPTH_M, b = e^-1
            nn.init.normal_(conv.weight, std=0.01)
        nn.init.constant_(self.depth_conv.bias, math.log(frac / (1.0 - frac)))
        nn.init.constant_(self.log_b_conv.bias, -1.0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = up2(x)  # the heads' outputs are float32 even under bf16/fp16 autocast
        depth = torch.exp(self.log_min + self.log_range * torch.sigmoid(self.depth_conv(x).float()))
        log_b = torch.clamp(self.log_b_conv(x).float(), LOG_B_MIN, LOG_B_MAX)
        return depth, log_b


def scaled_widths(base: Sequence[int], mult: float) -> tuple[int, ...]:
    """Multiply decoder widths, rounded to multiples of 8."""
    return tuple(max(8, int(round(w * mult / 8.0)) * 8) for w in base)
