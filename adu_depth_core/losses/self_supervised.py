"""Self-supervised stereo losses: the teacher adapts to unlabeled rectified pairs (robot_adaptation.md).

Conventions: images B x 3 x H x W in [0, 1]; disparities B x 1 x H x W in input pixels of the left view,
a left pixel ``(x, y)`` seeing the right pixel ``(x - d, y)``. Every term is a mean over a mask, so it
keeps its scale at any resolution and batch size.

- photometric: the left view rebuilt from the right through the disparity, ``0.85 · (1 − SSIM)/2 +
  0.15 · |I − Î|`` (Monodepth's mix), over pixels whose source lies inside the right image (the
  SSIM part only where its whole 3×3 window does);
- left-right consistency: the right view's disparity, sampled through the left one, must equal it;
- edge-aware smoothness: gradients of mean-normalised disparity, damped where the image has edges;
- anchor (forgetting guard): agreement in log-disparity with a frozen original on its confident pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from adu_depth_core.losses._common import upcast

SSIM_WEIGHT = 0.85  # photometric mix: SSIM_WEIGHT · (1 − SSIM)/2 + (1 − SSIM_WEIGHT) · L1
SSIM_C1, SSIM_C2 = 0.01**2, 0.03**2


def warp_from_right(src: torch.Tensor, disp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``src`` (B x C x H x W, right view) at ``x − disp`` -> (warped, in-view mask B x 1 x H x W).

    Bilinear, border padding (no black seams); the mask is False where the source column falls outside
    the right image, i.e. where the left view sees something the right one cannot.
    """
    src, disp = upcast(src), upcast(disp)
    b, _, h, w = src.shape
    xs = torch.arange(w, device=src.device, dtype=src.dtype).view(1, 1, 1, w)
    ys = torch.arange(h, device=src.device, dtype=src.dtype).view(1, 1, h, 1)
    x_src = xs - disp
    gx = 2.0 * x_src / max(w - 1, 1) - 1.0
    gy = (2.0 * ys / max(h - 1, 1) - 1.0).expand(b, 1, h, w)
    grid = torch.cat([gx, gy], dim=1).permute(0, 2, 3, 1)
    warped = F.grid_sample(src, grid, mode="bilinear", padding_mode="border", align_corners=True)
    in_view = (x_src >= 0) & (x_src <= w - 1)
    return warped, in_view


def ssim_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-pixel ``(1 − SSIM) / 2`` in [0, 1] over 3×3 windows (reflection padded), mean over channels."""
    x, y = F.pad(x, (1, 1, 1, 1), mode="reflect"), F.pad(y, (1, 1, 1, 1), mode="reflect")
    mu_x, mu_y = F.avg_pool2d(x, 3, 1), F.avg_pool2d(y, 3, 1)
    sx = F.avg_pool2d(x * x, 3, 1) - mu_x * mu_x
    sy = F.avg_pool2d(y * y, 3, 1) - mu_y * mu_y
    sxy = F.avg_pool2d(x * y, 3, 1) - mu_x * mu_y
    num = (2 * mu_x * mu_y + SSIM_C1) * (2 * sxy + SSIM_C2)
    den = (mu_x * mu_x + mu_y * mu_y + SSIM_C1) * (sx + sy + SSIM_C2)
    return torch.clamp((1 - num / den) / 2, 0, 1).mean(1, keepdim=True)


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.to(x.dtype)
    return (x * m).sum() / m.sum().clamp(min=1.0)


def photometric_loss(
    left: torch.Tensor, right: torch.Tensor, disp: torch.Tensor, ssim_weight: float = SSIM_WEIGHT
) -> torch.Tensor:
    """Reconstruction error of ``left`` from ``right`` warped by ``disp`` (0 for an exact warp)."""
    left = upcast(left)
    warped, in_view = warp_from_right(right, disp)
    l1 = (left - warped).abs().mean(1, keepdim=True)
    window_in_view = -F.max_pool2d(-in_view.float(), 3, 1, padding=1) > 0.5  # whole 3×3 window visible
    loss = (1 - ssim_weight) * _masked_mean(l1, in_view)
    if ssim_weight > 0:
        loss = loss + ssim_weight * _masked_mean(ssim_distance(left, warped), window_in_view)
    return loss


def lr_consistency_loss(disp_left: torch.Tensor, disp_right: torch.Tensor) -> torch.Tensor:
    """Mean |d_L − d_R(x − d_L)| over in-view pixels, divided by the mean left disparity (scale-free).

    ``disp_right`` is the right view's disparity (a right pixel ``x`` sees the left pixel ``x + d_R``),
    e.g. the mirrored output of the teacher on the mirrored, swapped pair (:func:`flip_swap`).
    """
    disp_left = upcast(disp_left)
    sampled, in_view = warp_from_right(disp_right, disp_left)
    scale = disp_left.detach().mean(dim=(1, 2, 3), keepdim=True).clamp(min=1e-3)
    return _masked_mean((disp_left - sampled).abs() / scale, in_view)


def smoothness_loss(disp: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Edge-aware smoothness of mean-normalised disparity: ``|∂d*| · exp(−|∂I|)`` in x and y."""
    disp = upcast(disp)
    d = disp / disp.mean(dim=(1, 2, 3), keepdim=True).clamp(min=1e-3)
    image = upcast(image)
    dx, dy = (d[..., :, 1:] - d[..., :, :-1]).abs(), (d[..., 1:, :] - d[..., :-1, :]).abs()
    ix = (image[..., :, 1:] - image[..., :, :-1]).abs().mean(1, keepdim=True)
    iy = (image[..., 1:, :] - image[..., :-1, :]).abs().mean(1, keepdim=True)
    return (dx * torch.exp(-ix)).mean() + (dy * torch.exp(-iy)).mean()


def anchor_loss(
    disp: torch.Tensor, disp_ref: torch.Tensor, log_b_ref: torch.Tensor, min_confidence: float
) -> torch.Tensor:
    """|log d − log d_ref| where the reference is confident: ``exp(−b_ref) ≥ min_confidence``.

    ``log_b_ref`` is the reference's log-depth Laplace scale (the ``log_b`` output), so the confidence is
    the one ``bag-to-dataset`` writes. The reference is detached.
    """
    disp, disp_ref = upcast(disp), upcast(disp_ref).detach()
    confident = torch.exp(-torch.exp(upcast(log_b_ref).detach())) >= min_confidence
    err = (torch.log(disp.clamp(min=1e-3)) - torch.log(disp_ref.clamp(min=1e-3))).abs()
    return _masked_mean(err, confident)


def sparse_disparity_loss(disp: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """|log d − log t| over the finite, positive pixels of a sparse target (e.g. checked SGBM matches)."""
    disp, target = upcast(disp), upcast(target)
    valid = torch.isfinite(target) & (target > 0)
    safe = torch.where(valid, target, torch.ones_like(target))
    err = (torch.log(disp.clamp(min=1e-3)) - torch.log(safe)).abs()
    return _masked_mean(err, valid)


def flip_swap(left: torch.Tensor, right: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The stereo hflip trick: mirrored right as the new left, mirrored left as the new right.

    A stereo network run on this pair predicts the *right* view's disparity, mirrored.
    """
    return torch.flip(right, dims=[-1]), torch.flip(left, dims=[-1])
