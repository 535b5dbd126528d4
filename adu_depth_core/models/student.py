"""The monocular student (ships): encoder from the registry + light U-Net decoder + depth/log_b heads.

Standard ops only (conv, BN, ReLU/ReLU6, zero pad, bilinear resize, sigmoid, exp,
clip, add/mul/cat), so it exports to ONNX opset 17 and builds under TensorRT.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from adu_depth_core.checkpoint import IMAGENET_MEAN, IMAGENET_STD
from adu_depth_core.models.decoder import FEATURE_STRIDES, DepthHeads, UNetDecoder, scaled_widths
from adu_depth_core.models.encoders import STRIDES, Encoder, build_encoder

STUDENT_WIDTHS = (16, 32, 64, 96, 128)  # decoder channels at strides 2, 4, 8, 16, 32


class Normalize(nn.Module):
    """RGB in [0, 1] -> ImageNet-normalised, with mean/std as (non-persistent) buffers."""

    def __init__(self, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD) -> None:
        super().__init__()
        self.register_buffer(
            "mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return (image - self.mean) / self.std


def check_image(image: torch.Tensor, name: str = "image") -> None:
    """Shape check: B x 3 x H x W with H, W multiples of 32."""
    if image.dim() != 4 or image.shape[1] != 3:
        raise ValueError(f"{name} must be B x 3 x H x W RGB in [0, 1], got shape {tuple(image.shape)}")
    if image.shape[2] % 32 or image.shape[3] % 32:
        raise ValueError(
            f"{name} height and width must be multiples of 32, got {tuple(image.shape[2:])}; resize or crop first"
        )


class DepthStudent(nn.Module):
    """``model(image)`` -> {"depth": Bx1xHxW m, "log_b": Bx1xHxW, "features": {4, 8, 16: BxCxhxw}}."""

    def __init__(self, encoder: Encoder, widths: Sequence[int], min_depth: float, max_depth: float) -> None:
        super().__init__()
        self.min_depth, self.max_depth = float(min_depth), float(max_depth)
        self.normalize = Normalize()
        self.encoder = encoder
        self.decoder = UNetDecoder(encoder.channels, widths)
        self.heads = DepthHeads(self.decoder.widths[0], min_depth, max_depth)

    @property
    def feature_channels(self) -> dict[int, int]:
        """Channels of the distillation features per stride."""
        return {s: self.decoder.widths[STRIDES.index(s)] for s in FEATURE_STRIDES}

    def forward(self, image: torch.Tensor) -> dict:
        if not torch.jit.is_tracing() and not torch.compiler.is_compiling():
            check_image(image)
        feats = self.decoder(self.encoder(self.normalize(image)))
        depth, log_b = self.heads(feats[2])
        return {"depth": depth, "log_b": log_b, "features": {s: feats[s] for s in FEATURE_STRIDES}}


def create_student(
    encoder: str = "efficientnet_lite0",
    pretrained: bool = True,
    min_depth: float = 1e-3,
    max_depth: float = 80.0,
    encoder_weights: str | None = None,
    width_mult: float = 1.0,
) -> DepthStudent:
    """Build the student; ``pretrained`` loads ImageNet encoder weights (offline package or ``encoder_weights``)."""
    enc = build_encoder(encoder, pretrained=pretrained, weights=encoder_weights)
    return DepthStudent(enc, scaled_widths(STUDENT_WIDTHS, width_mult), min_depth, max_depth)
