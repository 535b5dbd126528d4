"""Every ADU-Depth loss against an independent numpy computation, plus the behaviours docs/method.md asks for."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from adu_depth_core.losses import (
    attention_map,
    depth_weight,
    feature_distill_loss,
    focal_weight,
    laplace_nll,
    resize_confidence,
    response_distill_loss,
    silog_loss,
    teacher_confidence,
    uncertainty_targets,
)
from adu_depth_core.models.adapters import FeatureAdapter, SelfAttention2d

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _depths(seed: int, b: int = 3, h: int = 8, w: int = 12):
    g = torch.Generator().manual_seed(seed)
    gt = torch.rand(b, 1, h, w, generator=g) * 60 + 1
    pred = gt * (torch.rand(b, 1, h, w, generator=g) * 0.8 + 0.6)
    valid = torch.rand(b, 1, h, w, generator=g) < 0.6
    gt = torch.where(valid, gt, torch.zeros_like(gt))  # 0 where invalid, as the data contract says
    return pred.double(), gt.double(), valid


# ---------------------------------------------------------------------------------------------- SILog
def test_silog_matches_numpy_per_image_with_invalid_pixels():
    pred, gt, valid = _depths(0)
    valid[2] = False  # an image without ground truth is left out
    got = silog_loss(pred, gt, valid, alpha=10.0, lam=0.85)
    per_image = []
    for i in range(2):
        m = valid[i].numpy()
        g = np.log(pred[i].numpy()[m]) - np.log(gt[i].numpy()[m])
        per_image.append(10.0 * math.sqrt(np.mean(g**2) - 0.85 * np.mean(g) ** 2))
    assert got.item() == pytest.approx(np.mean(per_image), rel=1e-9)


def test_silog_hand_cases():
    gt = torch.rand(2, 1, 6, 6, dtype=torch.float64) * 30 + 1
    valid = torch.ones_like(gt, dtype=torch.bool)
    assert silog_loss(gt.clone(), gt, valid).item() == pytest.approx(0.0, abs=2e-3)  # only the sqrt floor
    scaled = gt * 1.3
    assert silog_loss(scaled, gt, valid, lam=1.0).item() == pytest.approx(0.0, abs=2e-3)  # scale-invariant
    assert silog_loss(scaled, gt, valid, alpha=10, lam=0.85).item() == pytest.approx(
        10 * math.sqrt(0.15) * math.log(1.3), rel=1e-6
    )


def test_silog_without_any_ground_truth_is_a_connected_zero():
    pred = torch.rand(2, 1, 4, 4, requires_grad=True)
    loss = silog_loss(pred + 1, torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 4, dtype=torch.bool))
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(pred.grad, torch.zeros_like(pred))


# ---------------------------------------------------------------------------------------------- uncertainty
def test_laplace_nll_matches_numpy_and_is_minimised_at_log_abs_error():
    pred, gt, valid = _depths(1)
    log_b = torch.randn_like(pred) * 0.5 - 1
    got = laplace_nll(pred, log_b, gt, valid)
    m = valid.numpy()
    g = np.log(pred.numpy()[m]) - np.log(gt.numpy()[m])
    lb = log_b.numpy()[m]
    assert got.item() == pytest.approx(np.mean(np.abs(g) * np.exp(-lb) + lb), rel=1e-9)
    # d/d log_b of |g| e^{-log_b} + log_b vanishes at log_b = log|g|
    best = torch.log((torch.log(pred) - torch.log(gt.clamp_min(1e-6))).abs()).detach().requires_grad_(True)
    laplace_nll(pred, best, gt, valid).backward()
    assert best.grad[valid].abs().max().item() < 1e-9


def test_teacher_confidence_formula_mean_one_and_monotone():
    log_b = torch.linspace(-4, 1, 24).view(2, 1, 3, 4)
    c = teacher_confidence(log_b, temperature=0.5)
    ref = np.exp(-np.exp(log_b.numpy()) / 0.5)
    ref /= ref.mean(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(c.numpy(), ref, rtol=1e-5)
    np.testing.assert_allclose(c.mean(dim=(1, 2, 3)).numpy(), [1.0, 1.0], rtol=1e-6)
    assert (c.flatten()[1:] < c.flatten()[:-1]).view(-1)[:11].all()  # less confident as b grows
    pooled = resize_confidence(torch.rand(1, 1, 8, 8) + c.new_ones(1), 4)
    assert pooled.shape == (1, 1, 2, 2)


def test_uncertainty_targets_use_teacher_only_where_gt_missing_and_confident():
    gt = torch.tensor([[[[5.0, 0.0, 0.0]]]])
    gt_valid = gt > 0
    teacher_depth = torch.tensor([[[[7.0, 8.0, 9.0]]]])
    conf = torch.tensor([[[[0.1, 1.5, 0.5]]]])
    target, mask = uncertainty_targets(gt, gt_valid, teacher_depth, conf, conf_threshold=1.0)
    assert mask.flatten().tolist() == [True, True, False]
    assert target.flatten()[:2].tolist() == [5.0, 8.0]


# ---------------------------------------------------------------------------------------------- AFD
def test_attention_map_formula():
    t = torch.randn(2, 6, 3, 5)
    m = attention_map(t, tau=0.7)
    e = (t.numpy() ** 2).mean(axis=1).reshape(2, -1) / 0.7
    ref = 15 * np.exp(e) / np.exp(e).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(m.numpy().reshape(2, -1), ref, rtol=1e-5)
    np.testing.assert_allclose(m.mean(dim=(1, 2, 3)).numpy(), [1.0, 1.0], rtol=1e-5)


@pytest.mark.parametrize("use_map,use_conf", [(False, False), (True, False), (True, True)])
def test_feature_distill_loss_matches_numpy(use_map, use_conf):
    torch.manual_seed(0)
    shapes = {4: (2, 8, 8, 12), 8: (2, 16, 4, 6)}
    adapted = {k: torch.randn(*s) for k, s in shapes.items()}
    teacher = {k: torch.randn(*s) for k, s in shapes.items()}
    conf = {k: torch.rand(s[0], 1, *s[2:]) + 0.5 for k, s in shapes.items()} if use_conf else None
    got = feature_distill_loss(adapted, teacher, conf, use_attention_map=use_map, tau=2.0)
    ref = 0.0
    for k in shapes:
        a, t = adapted[k].numpy(), teacher[k].numpy()
        d = ((a - t) ** 2).sum(axis=1) / a.shape[1]  # ||.||^2 / C_k, B x h x w
        if use_map:
            e = (t**2).mean(axis=1) / 2.0
            p = np.exp(e - e.max(axis=(1, 2), keepdims=True))
            d = d * (e[0].size * p / p.sum(axis=(1, 2), keepdims=True))
        if use_conf:
            d = d * conf[k].numpy()[:, 0]
        ref += d.mean()
    assert got.item() == pytest.approx(ref, rel=1e-5)


# ---------------------------------------------------------------------------------------------- FRD
def test_focal_weight_grows_with_error_and_depth_weight_lifts_far_pixels():
    err = torch.linspace(0, 0.6, 50, dtype=torch.float64)
    phi = focal_weight(err, beta=0.1, gamma=2.0)
    assert phi[0] == 0 and (phi[1:] > phi[:-1]).all() and phi[-1] < 1
    np.testing.assert_allclose(phi.numpy(), (1 - np.exp(-err.numpy() / 0.1)) ** 2, rtol=1e-6)
    d_t = torch.tensor([2.0, 10.0, 40.0, 80.0]).view(1, 1, 1, 4)
    psi = depth_weight(d_t, 80.0, eta=1.0)
    assert psi.mean().item() == pytest.approx(1.0) and (psi.flatten()[1:] > psi.flatten()[:-1]).all()
    assert torch.allclose(depth_weight(d_t, 80.0, eta=0.0), torch.ones_like(d_t))


@pytest.mark.parametrize(
    "focal,depthw,guided", [(False, False, False), (True, True, False), (True, True, True)]
)
def test_response_distill_loss_matches_numpy(focal, depthw, guided):
    pred, gt, _ = _depths(2)
    teacher = gt.clamp_min(1.0) * 1.1
    conf = teacher_confidence(torch.randn_like(teacher)) if guided else None
    got = response_distill_loss(pred, teacher, 80.0, conf, focal, 0.2, 2.0, depthw, 0.5)
    e = np.abs(np.log(pred.numpy()) - np.log(teacher.numpy()))
    w = np.ones_like(e)
    if focal:
        w *= (1 - np.exp(-e / 0.2)) ** 2
    if depthw:
        psi = (teacher.numpy() / 80.0) ** 0.5
        w *= psi / psi.mean(axis=(1, 2, 3), keepdims=True)
    if guided:
        w *= conf.numpy()
    assert got.item() == pytest.approx((w * e).mean(), rel=1e-6)


def test_uncertainty_guidance_down_weights_pixels_the_teacher_is_unsure_of():
    # Two pixels, same student error; the teacher is sure of the first and unsure of the second.
    teacher_depth = torch.full((1, 1, 1, 2), 10.0)
    student = (teacher_depth * 1.2).requires_grad_(True)
    conf = teacher_confidence(torch.tensor([[[[-3.0, 0.5]]]]))
    response_distill_loss(student, teacher_depth, 80.0, conf, use_depth_weight=False).backward()
    g_sure, g_unsure = student.grad.flatten().abs().tolist()
    assert g_unsure < 0.5 * g_sure
    # Same in feature space.
    adapted = torch.ones(1, 4, 1, 2, requires_grad=True)
    feature_distill_loss(
        {4: adapted}, {4: torch.zeros(1, 4, 1, 2)}, {4: conf}, use_attention_map=False
    ).backward()
    f_sure, f_unsure = adapted.grad.abs().sum(dim=1).flatten().tolist()
    assert f_unsure < 0.5 * f_sure


def test_focal_weighting_shifts_gradient_to_badly_predicted_pixels():
    teacher_depth = torch.full((1, 1, 1, 2), 10.0)
    student = torch.tensor([[[[10.2, 15.0]]]], requires_grad=True)  # small vs large log error
    response_distill_loss(student, teacher_depth, 80.0, use_focal=True, use_depth_weight=False).backward()
    focal = (student.grad.flatten().abs() * student.detach().flatten()).tolist()  # d/dlog d
    assert focal[1] > 5 * focal[0]  # plain L1 would give equal log-gradients


# ---------------------------------------------------------------------------------------------- adapters
def test_windowed_attention_equals_attention_per_tile():
    torch.manual_seed(0)
    block = SelfAttention2d(8, heads=2, window=4, max_tokens=16).eval()
    x = torch.randn(1, 8, 8, 12)  # 96 tokens > 16: windowed, 2 x 3 tiles
    out = block(x)
    for i in range(2):
        for j in range(3):
            tile = x[:, :, 4 * i : 4 * i + 4, 4 * j : 4 * j + 4]
            tokens = block.norm(tile.flatten(2).transpose(1, 2))
            ref = tile + block.attn(tokens, tokens, tokens)[0].transpose(1, 2).reshape(1, 8, 4, 4)
            torch.testing.assert_close(
                out[:, :, 4 * i : 4 * i + 4, 4 * j : 4 * j + 4], ref, rtol=1e-5, atol=1e-5
            )


def test_adapter_maps_to_teacher_channels_and_pads_odd_maps():
    adapter = FeatureAdapter(6, 10, attention=True, heads=4, window=4, max_tokens=8)
    out = adapter(torch.randn(2, 6, 5, 7))
    assert out.shape == (2, 10, 5, 7) and torch.isfinite(out).all()
    assert FeatureAdapter(6, 10, attention=False).attn is None
