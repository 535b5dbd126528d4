"""Training-only feature adapters A_k for attention-adapted feature distillation (dropped at export).

``A_k(S_k)``: a 1x1 conv from the student's to the teacher's channels, then (optionally)
one pre-norm multi-head self-attention block over the feature map with a residual.
Maps with more than ``max_tokens`` pixels attend within non-overlapping
``window x window`` tiles (zero-padded at the border), smaller maps attend globally.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _heads_for(channels: int, heads: int) -> int:
    """Largest head count <= ``heads`` that divides ``channels``."""
    return max(h for h in range(1, heads + 1) if channels % h == 0)


class SelfAttention2d(nn.Module):
    """Pre-norm MHSA over the pixels of a B x C x H x W map (windowed when large), with a residual."""

    def __init__(self, channels: int, heads: int = 4, window: int = 8, max_tokens: int = 1024) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.attn = nn.MultiheadAttention(channels, _heads_for(channels, heads), batch_first=True)
        self.window, self.max_tokens = int(window), int(max_tokens)

    def _attend(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.norm(tokens)
        return self.attn(x, x, x, need_weights=False)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        if h * w <= self.max_tokens:
            tokens = x.flatten(2).transpose(1, 2)  # B x HW x C
            return x + self._attend(tokens).transpose(1, 2).reshape(b, c, h, w)
        s = self.window
        ph, pw = (-h) % s, (-w) % s
        xp = F.pad(x, (0, pw, 0, ph))
        hh, ww = (h + ph) // s, (w + pw) // s
        tiles = xp.reshape(b, c, hh, s, ww, s).permute(0, 2, 4, 3, 5, 1).reshape(b * hh * ww, s * s, c)
        out = (
            self._attend(tiles)
            .reshape(b, hh, ww, s, s, c)
            .permute(0, 5, 1, 3, 2, 4)
            .reshape(b, c, hh * s, ww * s)
        )
        return x + out[:, :, :h, :w]


class FeatureAdapter(nn.Module):
    """A_k: 1x1 conv (student -> teacher channels), then optional self-attention block."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        attention: bool = True,
        heads: int = 4,
        window: int = 8,
        max_tokens: int = 1024,
    ) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_ch, out_ch, 1)
        self.attn = SelfAttention2d(out_ch, heads, window, max_tokens) if attention else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)
        return x if self.attn is None else self.attn(x)


class FeatureAdapters(nn.Module):
    """One adapter per distilled stride; ``forward({stride: S_k}) -> {stride: A_k(S_k)}``."""

    def __init__(
        self,
        student_channels: dict[int, int],
        teacher_channels: dict[int, int],
        strides: tuple[int, ...] = (4, 8, 16),
        attention: bool = True,
        heads: int = 4,
        window: int = 8,
        max_tokens: int = 1024,
    ) -> None:
        super().__init__()
        self.strides = tuple(int(s) for s in strides)
        self.adapters = nn.ModuleDict(
            {
                str(s): FeatureAdapter(
                    student_channels[s], teacher_channels[s], attention, heads, window, max_tokens
                )
                for s in self.strides
            }
        )

    def forward(self, features: dict[int, torch.Tensor]) -> dict[int, torch.Tensor]:
        return {s: self.adapters[str(s)](features[s]) for s in self.strides}
