"""TensorBoard logging for the main rank: scalars, and depth/uncertainty images of a batch."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from adu_depth_core.train.visualize import depth_panel


class TermAverager:
    """Running means of the scalar loss terms between two log points."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = defaultdict(float)
        self.count = 0

    def add(self, out: dict) -> None:
        for k, v in scalar_terms(out).items():
            self.sums[k] += v
        self.count += 1

    def pop(self) -> dict[str, float]:
        means = {k: v / max(self.count, 1) for k, v in self.sums.items()}
        self.sums, self.count = defaultdict(float), 0
        return means


def scalar_terms(out: dict) -> dict[str, float]:
    """The loss and each term of a task's output dict, as floats (``output`` and non-scalars skipped)."""
    terms = {}
    for k, v in out.items():
        if k == "output":
            continue
        if torch.is_tensor(v) and v.numel() == 1:
            terms[k] = float(v.detach())
        elif isinstance(v, int | float) and not isinstance(v, bool):
            terms[k] = float(v)
    return terms


class TensorBoardLog:
    """A SummaryWriter wrapper; ``purge_step`` drops stale events after a resume."""

    def __init__(self, log_dir: Path, purge_step: int | None = None) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:  # tensorboard is an optional training dependency
            raise ImportError("TensorBoard logging needs 'tensorboard': pip install '.[train]'") from exc
        self.writer = SummaryWriter(str(log_dir), purge_step=purge_step)

    def scalars(self, prefix: str, values: dict[str, float], step: int) -> None:
        for k, v in values.items():
            if math.isfinite(v):
                self.writer.add_scalar(f"{prefix}/{k}", v, step)

    def batch_images(self, batch: dict, output: dict | None, step: int) -> None:
        """Image, predicted depth, sigma and ground truth of the first sample, one panel."""
        if not output or "depth" not in output or "left" not in batch:
            return
        image = (batch["left"][0].detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).astype(
            np.uint8
        )
        depth = output["depth"][0, 0].detach().float().cpu().numpy()
        sigma = None
        if "log_b" in output:
            sigma = math.sqrt(2.0) * np.exp(output["log_b"][0, 0].detach().float().cpu().numpy()) * depth
        gt = batch["depth"][0, 0].detach().float().cpu().numpy() if "depth" in batch else None
        if gt is not None and not (gt > 0).any():
            gt = None
        panel = depth_panel(image, depth, sigma, gt)
        self.writer.add_image("train/image_depth_sigma_gt", panel, step, dataformats="HWC")

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()
