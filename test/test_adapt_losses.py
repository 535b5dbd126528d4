"""Self-supervised stereo losses: exact warps cost nothing, wrong disparities cost more; the hflip trick,
left-right consistency, smoothness and the forgetting guard behave as their definitions say."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from adu_depth_core.data.synthetic import SyntheticStereo
from adu_depth_core.losses.self_supervised import (
    anchor_loss,
    flip_swap,
    lr_consistency_loss,
    photometric_loss,
    smoothness_loss,
    sparse_disparity_loss,
    warp_from_right,
)

H, W = 32, 96


def _texture(seed: int = 0) -> torch.Tensor:
    """A smooth random colour texture, 1 x 3 x H x W in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 3, H // 4, W // 4, generator=g)
    return F.interpolate(x, size=(H, W), mode="bicubic", align_corners=False).clamp(0, 1)


def _exact_pair() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(left, right, disparity): left(x, y) = right(x - d(x, y), y) exactly, integer d in 3..9 px."""
    right = _texture()
    cols = torch.arange(W).view(1, 1, 1, W).expand(1, 1, H, W)
    rows = torch.arange(H).view(1, 1, H, 1).expand(1, 1, H, W)
    disp = (3 + (cols // 16 + rows // 8) % 7).float()  # piecewise constant: planes at several depths
    src = (cols - disp.long()).clamp(min=0)
    left = torch.gather(right, 3, src.expand(1, 3, H, W))
    return left, right, disp


def test_photometric_loss_is_zero_for_an_exact_warp_and_grows_with_a_wrong_disparity():
    left, right, disp = _exact_pair()
    warped, in_view = warp_from_right(right, disp)
    assert torch.equal(in_view, (torch.arange(W).view(1, 1, 1, W) - disp) >= 0)
    assert torch.allclose(warped[in_view.expand_as(warped)], left[in_view.expand_as(left)], atol=1e-6)
    exact = photometric_loss(left, right, disp).item()
    assert exact < 1e-5
    wrong = [photometric_loss(left, right, disp + e).item() for e in (0.5, 1.0, 3.0)]
    assert wrong[0] > 10 * max(exact, 1e-4)
    assert wrong[0] < wrong[1] < wrong[2]
    assert photometric_loss(left, right, disp * 0.7).item() > wrong[0]


def test_photometric_loss_prefers_the_true_disparity_of_a_rendered_frame():
    s = SyntheticStereo(1, (64, 192), seed=3, layout="room")[0]
    to_t = lambda im: torch.from_numpy(im.transpose(2, 0, 1)[None].astype(np.float32) / 255.0)  # noqa: E731
    left, right = to_t(s.left), to_t(s.right)
    depth = np.where(s.valid, s.depth_m, np.nanmax(s.depth_m[s.valid]))
    disp = torch.from_numpy((s.K[0, 0] * s.baseline_m / depth).astype(np.float32))[None, None]
    true = photometric_loss(left, right, disp).item()
    for factor in (0.8, 1.25):
        assert photometric_loss(left, right, disp * factor).item() > true


def test_hflip_trick_turns_the_right_view_into_a_left_view():
    left, right, _ = _exact_pair()
    d = torch.full((1, 1, H, W), 5.0)
    shifted = torch.cat([left[..., :1].expand(1, 3, H, 5), left[..., :-5]], dim=-1)  # wrong way: left(x - 5)
    # a constant-disparity pair: left(x) = right(x - 5)  <=>  right(x) = left(x + 5)
    right_c = torch.cat([left[..., 5:], left[..., -1:].expand(1, 3, H, 5)], dim=-1)
    assert photometric_loss(left, right_c, d).item() < 1e-5
    m_left, m_right = flip_swap(left, right_c)
    assert torch.equal(m_left, torch.flip(right_c, dims=[-1]))
    assert photometric_loss(m_left, m_right, d).item() < 1e-5  # the mirrored pair has the same disparity
    assert photometric_loss(left, shifted, d).item() > 1e-2  # the wrong direction costs


def test_lr_consistency_is_zero_for_consistent_views_and_positive_otherwise():
    d = torch.full((2, 1, H, W), 6.0)
    assert lr_consistency_loss(d, d).item() < 1e-6
    assert lr_consistency_loss(d, d * 1.5).item() == pytest.approx(0.5, rel=1e-4)


def test_smoothness_is_low_on_flat_disparity_and_lower_at_image_edges():
    image = _texture()
    flat = torch.full((1, 1, H, W), 4.0)
    assert smoothness_loss(flat, image).item() == 0.0
    step = flat.clone()
    step[..., W // 2 :] = 8.0
    plain = torch.full_like(image, 0.5)
    edge = plain.clone()
    edge[..., W // 2 :] = 1.0  # an image edge where the disparity jumps
    assert 0 < smoothness_loss(step, edge).item() < smoothness_loss(step, plain).item()
    assert smoothness_loss(step * 3, plain).item() == pytest.approx(smoothness_loss(step, plain).item())


def test_anchor_acts_only_on_confident_reference_pixels():
    ref = torch.full((1, 1, H, W), 10.0)
    pred = ref.clone()
    pred[..., : W // 2] = 20.0  # wrong on the left half
    log_b = torch.full_like(ref, -5.0)  # confident everywhere: exp(-exp(-5)) ~ 0.993
    assert anchor_loss(pred, ref, log_b, 0.9).item() == pytest.approx(0.5 * np.log(2.0), rel=1e-4)
    log_b[..., : W // 2] = 1.0  # the reference is unsure where pred differs
    assert anchor_loss(pred, ref, log_b, 0.9).item() < 1e-6


def test_sparse_disparity_loss_ignores_holes():
    target = torch.full((1, 1, H, W), float("nan"))
    target[..., 0, :] = 5.0
    pred = torch.full((1, 1, H, W), 5.0)
    pred[..., 1:, :] = 50.0  # wrong only where the target has no match
    assert sparse_disparity_loss(pred, target).item() < 1e-6
    assert torch.isfinite(sparse_disparity_loss(pred, torch.full_like(target, float("nan"))))
