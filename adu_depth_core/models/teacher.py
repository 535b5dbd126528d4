"""The stereo teacher: siamese encoder, correlation cost volumes, disparity, then depth from the calibration.

Both views go through the same encoder (shared weights, one batched pass). At the
cost-volume strides (default 4 and 8) matching costs over the disparity search range are
aggregated by 2D convs and concatenated to the left features before a decoder with the
student's structure (wider by ``width_mult``), so its features at strides 4, 8, 16 have the
student's spatial size.

Geometry is explicit. The decoder's stride-4 features give a distribution over ``bins``
disparities spanning ``0 .. range_px`` (``range_px = max_disparity`` pixels when set, else
``max_disparity_frac`` of the image width, so the search follows the resolution). Its expected
value, upsampled to full resolution and refined by a multiplicative residual, is the disparity
``d`` in input pixels; its spread, corrected by a learned term, is the disparity's Laplace
scale ``b_d``. Depth follows from each sample's own calibration, ``depth = fx * baseline / d``,
and the log-depth Laplace scale from the first-order propagation ``b = b_d / d``. So the outputs
keep the student's contract (``depth``, ``log_b``, ``features``) for the distillation, and one
teacher serves any rig and image size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from adu_depth_core.models.cost_volume import CostVolume
from adu_depth_core.models.decoder import (
    FEATURE_STRIDES,
    LOG_B_MAX,
    LOG_B_MIN,
    ConvBNReLU,
    UNetDecoder,
    scaled_widths,
    up2,
)
from adu_depth_core.models.encoders import STRIDES, Encoder, build_encoder
from adu_depth_core.models.student import STUDENT_WIDTHS, Normalize, check_image

DISPARITY_STRIDE = 4  # the distribution over disparities lives at this decoder stride
SPREAD_FLOOR_PX = 0.1  # disparity spread added before the log (sub-pixel noise floor)


class DisparityHead(nn.Module):
    """Stride-4 logits over disparity bins -> expected disparity and spread, in units of the range."""

    def __init__(self, in_ch: int, bins: int) -> None:
        super().__init__()
        self.logits = nn.Conv2d(in_ch, bins, 1)
        self.register_buffer("levels", torch.linspace(0.0, 1.0, bins).view(1, bins, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = torch.softmax(self.logits(x).float(), dim=1)
        mean = (p * self.levels).sum(1, keepdim=True)
        spread = (p * (self.levels - mean).abs()).sum(1, keepdim=True)
        return mean, spread


class RefineHead(nn.Module):
    """Full-resolution residuals: log-disparity correction and log-scale correction (both start at 0)."""

    def __init__(self, in_ch: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(ConvBNReLU(in_ch + 1, in_ch), nn.Conv2d(in_ch, 2, 3, 1, 1))
        nn.init.zeros_(self.conv[-1].weight)
        nn.init.zeros_(self.conv[-1].bias)

    def forward(self, feats: torch.Tensor, disp_norm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r = self.conv(torch.cat([up2(feats), disp_norm.to(feats.dtype)], dim=1)).float()
        return torch.tanh(r[:, :1]), r[:, 1:]


def focal_baseline_tensor(
    focal_baseline: torch.Tensor | float, batch: int, ref: torch.Tensor
) -> torch.Tensor:
    """fx * baseline (pixel-metres), scalar or per sample -> B x 1 x 1 x 1 float32 on ref's device."""
    fb = torch.as_tensor(focal_baseline, dtype=torch.float32, device=ref.device).reshape(-1)
    if fb.numel() == 1:
        fb = fb.expand(batch)
    if fb.numel() != batch or not bool(torch.all(fb > 0)):
        raise ValueError(
            f"focal_baseline must be one positive fx * baseline_m per sample ({batch}), got {fb.tolist()}"
        )
    return fb.view(batch, 1, 1, 1)


class StereoTeacher(nn.Module):
    """``teacher(left, right, fx * baseline_m)`` -> {"depth", "log_b", "disparity", "log_b_disp", "features"}."""

    def __init__(
        self,
        encoder: Encoder,
        widths: Sequence[int],
        min_depth: float,
        max_depth: float,
        max_disparity_frac: float = 0.3,
        max_disparity: float | None = None,
        disparity_bins: int = 48,
        cost_strides: Sequence[int] = (4, 8),
        cost_channels: int = 64,
    ) -> None:
        super().__init__()
        if not 0.0 < min_depth < max_depth:
            raise ValueError(f"need 0 < min_depth < max_depth, got {min_depth}, {max_depth}")
        if max_disparity is None and not 0.0 < max_disparity_frac <= 1.0:
            raise ValueError(f"max_disparity_frac must be in (0, 1], got {max_disparity_frac}")
        if max_disparity is not None and max_disparity < 2:
            raise ValueError(f"max_disparity must be >= 2 pixels, got {max_disparity}")
        self.min_depth, self.max_depth = float(min_depth), float(max_depth)
        self.max_disparity_frac = float(max_disparity_frac)
        self.max_disparity = None if max_disparity is None else float(max_disparity)
        self.normalize = Normalize()
        self.encoder = encoder
        self.cost_strides = tuple(int(s) for s in cost_strides)
        for s in self.cost_strides:
            if s not in STRIDES:
                raise ValueError(f"cost stride {s} must be one of {STRIDES}")
        bins = int(disparity_bins)
        self.cost = nn.ModuleDict(
            {
                str(s): CostVolume(
                    encoder.channels[STRIDES.index(s)],
                    s,
                    max(2, bins * DISPARITY_STRIDE // s),
                    out_ch=cost_channels,
                )
                for s in self.cost_strides
            }
        )
        skips = [
            c + (cost_channels if s in self.cost_strides else 0) for s, c in zip(STRIDES, encoder.channels)
        ]
        self.decoder = UNetDecoder(skips, widths)
        self.disparity_head = DisparityHead(self.decoder.widths[STRIDES.index(DISPARITY_STRIDE)], bins)
        self.refine = RefineHead(self.decoder.widths[0])

    @property
    def feature_channels(self) -> dict[int, int]:
        """Channels of the distillation features per stride."""
        return {s: self.decoder.widths[STRIDES.index(s)] for s in FEATURE_STRIDES}

    def disparity_range_px(self, width: int) -> float:
        """Largest disparity searched, in input pixels, for images ``width`` pixels wide."""
        return self.max_disparity if self.max_disparity is not None else self.max_disparity_frac * width

    def forward(self, left: torch.Tensor, right: torch.Tensor, focal_baseline: torch.Tensor | float) -> dict:
        """left/right: B x 3 x H x W in [0, 1]; focal_baseline: fx (input pixels) * baseline (m), per sample."""
        check_image(left, "left")
        if right.shape != left.shape:
            raise ValueError(f"right image shape {tuple(right.shape)} differs from left {tuple(left.shape)}")
        batch, width = left.shape[0], left.shape[-1]
        fb = focal_baseline_tensor(focal_baseline, batch, left)
        range_px = self.disparity_range_px(width)
        feats = self.encoder(self.normalize(torch.cat([left, right], dim=0)))
        skips = []
        for s, f in zip(STRIDES, feats):
            f_left = f[:batch]
            if s in self.cost_strides:
                f_left = torch.cat([f_left, self.cost[str(s)](f_left, f[batch:], range_px)], dim=1)
            skips.append(f_left)
        out = self.decoder(skips)
        mean, spread = self.disparity_head(out[DISPARITY_STRIDE])
        size = left.shape[-2:]
        mean = F.interpolate(mean, size=size, mode="bilinear", align_corners=False)
        spread = F.interpolate(spread, size=size, mode="bilinear", align_corners=False)
        d_res, b_res = self.refine(out[2], mean)
        disp = range_px * mean * torch.exp(d_res)  # input pixels
        floor = fb / self.max_depth  # the disparity of max_depth: depth never exceeds it
        disp_safe = torch.sqrt(disp * disp + floor * floor)
        depth = torch.clamp(fb / disp_safe, min=self.min_depth)
        log_b_disp = torch.log(range_px * spread + SPREAD_FLOOR_PX) + b_res
        log_b = torch.clamp(log_b_disp - torch.log(disp_safe), LOG_B_MIN, LOG_B_MAX)
        return {
            "depth": depth,
            "log_b": log_b,
            "disparity": disp,
            "log_b_disp": log_b_disp,
            "features": {s: out[s] for s in FEATURE_STRIDES},
        }


def create_teacher(
    encoder: str = "efficientnet_lite0",
    pretrained: bool = True,
    min_depth: float = 1e-3,
    max_depth: float = 80.0,
    encoder_weights: str | None = None,
    width_mult: float = 2.0,
    max_disparity_frac: float = 0.3,
    max_disparity: float | None = None,
    disparity_bins: int = 48,
    cost_strides: Sequence[int] = (4, 8),
    cost_channels: int = 64,
) -> StereoTeacher:
    """Build the stereo teacher; the disparity search covers ``max_disparity`` pixels if given, else
    ``max_disparity_frac`` of the image width."""
    enc = build_encoder(encoder, pretrained=pretrained, weights=encoder_weights)
    widths = scaled_widths(STUDENT_WIDTHS, width_mult)
    return StereoTeacher(
        enc,
        widths,
        min_depth,
        max_depth,
        max_disparity_frac,
        max_disparity,
        disparity_bins,
        cost_strides,
        cost_channels,
    )
