"""The stereo teacher (training only): siamese encoder, correlation cost volumes, student-shaped decoder.

Both views go through the same encoder (shared weights, one batched pass). At the
cost-volume strides (default 4 and 8) the channel-mean correlation over disparities
``0 .. max_disparity / stride - 1`` is aggregated by 2D convs and concatenated to the
left features before the decoder. The decoder has the student's structure (wider by
``width_mult``), so its features at strides 4, 8, 16 have the student's spatial size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from adu_depth_core.models.cost_volume import CostVolume
from adu_depth_core.models.decoder import FEATURE_STRIDES, DepthHeads, UNetDecoder, scaled_widths
from adu_depth_core.models.encoders import STRIDES, Encoder, build_encoder
from adu_depth_core.models.student import STUDENT_WIDTHS, Normalize, check_image


class StereoTeacher(nn.Module):
    """``teacher(left, right)`` -> {"depth", "log_b", "features": {4, 8, 16}} like the student."""

    def __init__(
        self,
        encoder: Encoder,
        widths: Sequence[int],
        min_depth: float,
        max_depth: float,
        max_disparity: int = 192,
        cost_strides: Sequence[int] = (4, 8),
        cost_channels: int = 64,
    ) -> None:
        super().__init__()
        self.min_depth, self.max_depth = float(min_depth), float(max_depth)
        self.normalize = Normalize()
        self.encoder = encoder
        self.cost_strides = tuple(int(s) for s in cost_strides)
        for s in self.cost_strides:
            if s not in STRIDES or max_disparity // s < 1:
                raise ValueError(
                    f"cost stride {s} must be one of {STRIDES} and <= max_disparity ({max_disparity})"
                )
        self.cost = nn.ModuleDict(
            {
                str(s): CostVolume(
                    encoder.channels[STRIDES.index(s)], max_disparity // s, out_ch=cost_channels
                )
                for s in self.cost_strides
            }
        )
        skips = [
            c + (cost_channels if s in self.cost_strides else 0) for s, c in zip(STRIDES, encoder.channels)
        ]
        self.decoder = UNetDecoder(skips, widths)
        self.heads = DepthHeads(self.decoder.widths[0], min_depth, max_depth)

    @property
    def feature_channels(self) -> dict[int, int]:
        """Channels of the distillation features per stride."""
        return {s: self.decoder.widths[STRIDES.index(s)] for s in FEATURE_STRIDES}

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> dict:
        check_image(left, "left")
        if right.shape != left.shape:
            raise ValueError(f"right image shape {tuple(right.shape)} differs from left {tuple(left.shape)}")
        batch = left.shape[0]
        feats = self.encoder(self.normalize(torch.cat([left, right], dim=0)))
        skips = []
        for s, f in zip(STRIDES, feats):
            f_left = f[:batch]
            if s in self.cost_strides:
                f_left = torch.cat([f_left, self.cost[str(s)](f_left, f[batch:])], dim=1)
            skips.append(f_left)
        out = self.decoder(skips)
        depth, log_b = self.heads(out[2])
        return {"depth": depth, "log_b": log_b, "features": {s: out[s] for s in FEATURE_STRIDES}}


def create_teacher(
    encoder: str = "efficientnet_lite0",
    pretrained: bool = True,
    min_depth: float = 1e-3,
    max_depth: float = 80.0,
    encoder_weights: str | None = None,
    width_mult: float = 2.0,
    max_disparity: int = 192,
    cost_strides: Sequence[int] = (4, 8),
    cost_channels: int = 64,
) -> StereoTeacher:
    """Build the stereo teacher; ``max_disparity`` is in input pixels (D = max_disparity / stride per volume)."""
    enc = build_encoder(encoder, pretrained=pretrained, weights=encoder_weights)
    widths = scaled_widths(STUDENT_WIDTHS, width_mult)
    return StereoTeacher(enc, widths, min_depth, max_depth, max_disparity, cost_strides, cost_channels)
