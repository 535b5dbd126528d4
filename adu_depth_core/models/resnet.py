"""ResNet-18/34 trunks (basic blocks) as 5-stride feature encoders.

Module names follow the common ImageNet ResNet layout (``conv1``, ``bn1``,
``layer1.0.conv1``, ...), so a user-given ImageNet state dict in that layout loads
directly (its ``fc.*`` classifier is ignored).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from adu_depth_core.models.encoder_base import Encoder

RESNET_CHANNELS = (64, 64, 128, 256, 512)
RESNET_DEPTHS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN with a residual (1x1 projection when the shape changes)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        skip = x if self.downsample is None else self.downsample(x)
        return self.relu(y + skip)


def _layer(in_ch: int, out_ch: int, blocks: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        *[BasicBlock(in_ch if i == 0 else out_ch, out_ch, stride if i == 0 else 1) for i in range(blocks)]
    )


class ResNetEncoder(Encoder):
    """ResNet trunk; features at strides 2, 4, 8, 16, 32 with 64, 64, 128, 256, 512 channels."""

    def __init__(self, depths: tuple[int, int, int, int]) -> None:
        super().__init__(RESNET_CHANNELS)
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = _layer(64, 64, depths[0], 1)
        self.layer2 = _layer(64, 128, depths[1], 2)
        self.layer3 = _layer(128, 256, depths[2], 2)
        self.layer4 = _layer(256, 512, depths[3], 2)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        f2 = self.relu(self.bn1(self.conv1(x)))
        f4 = self.layer1(self.maxpool(f2))
        f8 = self.layer2(f4)
        f16 = self.layer3(f8)
        f32 = self.layer4(f16)
        return [f2, f4, f8, f16, f32]


def load_resnet_weights(encoder: ResNetEncoder, path: str | Path) -> None:
    """Load a user-given ImageNet ResNet state dict (``fc.*`` ignored); every trunk tensor must match."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"ResNet weights not found: {path} (give a state dict .pth in the torchvision layout)"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    trunk = {k: v for k, v in state.items() if not k.startswith("fc.")}
    missing, unexpected = encoder.load_state_dict(trunk, strict=False)
    if missing or unexpected:
        raise RuntimeError(
            f"{path} does not fit this ResNet: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
