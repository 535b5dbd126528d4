"""The encoder interface every backbone implements (imported by the backbones and the registry alike)."""

from __future__ import annotations

from torch import nn

STRIDES = (2, 4, 8, 16, 32)


class Encoder(nn.Module):
    """Base class: ``forward(x) -> [f2, f4, f8, f16, f32]``; ``channels`` gives their widths."""

    def __init__(self, channels: tuple[int, int, int, int, int]) -> None:
        super().__init__()
        self.channels = tuple(channels)
