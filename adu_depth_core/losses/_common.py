"""Small helpers shared by the loss modules."""

from __future__ import annotations

import torch


def upcast(x: torch.Tensor) -> torch.Tensor:
    """Half/bfloat16 -> float32 (losses are computed in at least fp32 under AMP); other dtypes unchanged."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
