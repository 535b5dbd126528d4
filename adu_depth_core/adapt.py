"""Self-supervised adaptation of the stereo teacher to unlabeled rectified pairs (``adu-depth adapt-teacher``).

The task trains a copy of a trained teacher with the losses of ``losses/self_supervised.py`` and keeps
the original, frozen, as the forgetting guard. One batched forward serves both views: the pair itself
(left disparity) and the mirrored, swapped pair (the right view's disparity, mirrored; the stereo hflip
trick), so photometric reconstruction and smoothness act on both views and left-right consistency
compares them. Optionally OpenCV SGBM matches that pass its left-right check are sparse pseudo-labels.
Ground truth in the batch, if any, is never used.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from adu_depth_core.distill import FrozenTeacher, _detached, _require, focal_baseline
from adu_depth_core.losses.self_supervised import (
    anchor_loss,
    flip_swap,
    lr_consistency_loss,
    photometric_loss,
    smoothness_loss,
    sparse_disparity_loss,
)
from adu_depth_core.train.config import AdaptConfig

ORIGINAL_PREFIX = "original."  # state-dict prefix of the frozen original inside AdaptTeacherTask


def _mirror(x: torch.Tensor) -> torch.Tensor:
    return torch.flip(x, dims=[-1])


def sgbm_targets(left: torch.Tensor, right: torch.Tensor, range_px: float, block: int) -> torch.Tensor:
    """SGBM disparity (left-right checked, NaN elsewhere) of each pair of a batch: B x 1 x H x W float32."""
    from adu_depth_core.stereo import sgbm_disparity

    to_u8 = lambda t: (t.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8)  # noqa: E731
    maps = [sgbm_disparity(to_u8(lft), to_u8(rgt), range_px, block) for lft, rgt in zip(left, right)]
    return torch.from_numpy(np.stack(maps)[:, None]).to(left.device)


class AdaptTeacherTask(nn.Module):
    """The teacher (trained) and its frozen original; ``forward(batch)`` -> the self-supervised loss."""

    def __init__(self, teacher: nn.Module, original: nn.Module, cfg: AdaptConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or AdaptConfig()
        self.teacher = teacher
        self.original = original if isinstance(original, FrozenTeacher) else FrozenTeacher(original)
        self._ddp_params_and_buffers_to_ignore = [
            name
            for name, _ in [*self.named_parameters(), *self.named_buffers()]
            if name.startswith(ORIGINAL_PREFIX)
        ]

    def train(self, mode: bool = True) -> AdaptTeacherTask:
        """Train mode for the teacher, except its BatchNorm statistics when ``cfg.freeze_bn``."""
        super().train(mode)
        if self.cfg.freeze_bn:
            for m in self.teacher.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.train(False)
        return self

    def forward(self, batch: dict) -> dict:
        _require(batch, "left", "right", "K", "baseline_m")
        c = self.cfg
        left, right = batch["left"], batch["right"]
        n = left.shape[0]
        fb = focal_baseline(batch).to(left.device)
        m_left, m_right = flip_swap(left, right)  # mirrored pair: its "left" is the mirrored right view
        views_l, views_r, fb2 = torch.cat([left, m_left]), torch.cat([right, m_right]), torch.cat([fb, fb])
        out = self.teacher(views_l, views_r, fb2)
        disp = out["disparity"].float()
        d_left, d_mright = disp[:n], disp[n:]
        terms: dict[str, torch.Tensor] = {}
        if c.w_photo > 0:
            terms["photo"] = 0.5 * (
                photometric_loss(left, right, d_left, c.ssim_weight)
                + photometric_loss(m_left, m_right, d_mright, c.ssim_weight)
            )
        if c.w_lr > 0:
            terms["lr"] = 0.5 * (
                lr_consistency_loss(d_left, _mirror(d_mright))
                + lr_consistency_loss(d_mright, _mirror(d_left))
            )
        if c.w_smooth > 0:
            terms["smooth"] = 0.5 * (smoothness_loss(d_left, left) + smoothness_loss(d_mright, m_left))
        if c.w_anchor > 0:
            ref = self.original(views_l, views_r, fb2)
            terms["anchor"] = anchor_loss(disp, ref["disparity"], ref["log_b"], c.anchor_min_confidence)
        if c.w_sgbm > 0:
            range_px = self.teacher.disparity_range_px(left.shape[-1])
            terms["sgbm"] = sparse_disparity_loss(d_left, sgbm_targets(left, right, range_px, c.sgbm_block))
        weights = {
            "photo": c.w_photo,
            "lr": c.w_lr,
            "smooth": c.w_smooth,
            "anchor": c.w_anchor,
            "sgbm": c.w_sgbm,
        }
        total = sum(weights[k] * v for k, v in terms.items())
        if not terms:
            raise ValueError("every adapt.w_* weight is 0: nothing to train")
        output = {k: out[k][:n] for k in ("depth", "log_b", "disparity")}
        return {"loss": total, **_detached(terms), "output": output}
