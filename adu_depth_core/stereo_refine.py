"""Full-resolution refinement of the teacher's disparity by local matching.

The stereo teacher runs at its training width (about 320 px), so on a wider image one network pixel
covers several image pixels, and its upsampled disparity is blurred across object edges. This step
keeps the teacher's answer as a prior and searches a few image pixels around it with the image itself:

- candidates: the upsampled disparity, and its local maximum and minimum (the foreground and background
  sides of an edge that the upsampling blended), each +/- ``radius_net_px`` network pixels in image
  pixel steps (or, with ``step_net_px``, in coarser steps and then 1-px steps around the winner);
- cost: 1 - ZNCC of a ``window`` x ``window`` grey patch between the left image and the right image
  warped by the candidate (robust to gain and offset between the cameras), weighted by the patch's
  texture (sigma^2 / (sigma^2 + texture_grey^2)), plus ``prior_weight`` (delta / radius)^2 for leaving
  the base and ``side_cost`` for taking an edge candidate over the teacher's own;
- the lowest cost wins; a parabola through its neighbours gives the sub-pixel disparity.

Flat, textureless patches keep the teacher's value; so do pixels whose match, by the teacher, falls left of
the right image (nothing to match there).
Defaults were chosen on synthetic pairs only (benchmarks/select_stereo_refine.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class RefineConfig:
    radius_net_px: float = 8.0  # search half-width around each base, in network pixels
    window: int = 11  # ZNCC patch side (odd), image pixels
    texture_grey: float = 4.0  # patch std (grey levels) at which matching gets half weight
    prior_weight: float = 0.1  # cost of a step of one full radius from the base
    side_cost: float = 0.0  # extra cost of the foreground / background candidates (0 = equal)
    edge_bases: bool = True  # search around the local max and min of the prior as well
    passes: int = 1  # repeat the search around the previous answer (edges from the first pass only)
    # > 0: candidates every round(step_net_px * scale) image px, then a 1-px pass around the winner
    step_net_px: float = 0.0
    median: int = 5  # median filter side on the result (0 = none; 3 or 5)

    def __post_init__(self) -> None:
        if self.radius_net_px <= 0 or self.window < 3 or self.window % 2 == 0:
            raise ValueError(f"need radius_net_px > 0 and an odd window >= 3, got {self}")
        if self.passes < 1 or self.median not in (0, 3, 5) or self.step_net_px < 0:
            raise ValueError(f"need passes >= 1, median 0, 3 or 5 and step_net_px >= 0, got {self}")


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY).astype(np.float32)


class _Matcher:
    """ZNCC of the left image against the right image warped by per-pixel disparities."""

    def __init__(self, left: np.ndarray, right: np.ndarray, cfg: RefineConfig) -> None:
        self.left, self.right, self.k = _grey(left), _grey(right), (cfg.window, cfg.window)
        h, w = self.left.shape
        self.xs = np.broadcast_to(np.arange(w, dtype=np.float32), (h, w))
        self.ys = np.ascontiguousarray(np.broadcast_to(np.arange(h, dtype=np.float32)[:, None], (h, w)))
        self.mean_l = self._box(self.left)
        self.var_l = np.maximum(self._box(self.left * self.left) - self.mean_l**2, 0.0)
        self.weight = self.var_l / (self.var_l + cfg.texture_grey**2)

    def _box(self, x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, self.k, borderType=cv2.BORDER_REFLECT)

    def cost(self, disparity: np.ndarray) -> np.ndarray:
        """Texture-weighted (1 - ZNCC) in [0, 2]; 1 for a negative disparity or a match outside the right
        image."""
        map_x = self.xs - disparity
        warped = cv2.remap(self.right, map_x, self.ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        mean_w = self._box(warped)
        var_w = np.maximum(self._box(warped * warped) - mean_w**2, 0.0)
        cov = self._box(self.left * warped) - self.mean_l * mean_w
        zncc = cov / np.sqrt(self.var_l * var_w + 1e-3)
        cost = self.weight * (1.0 - zncc)
        return np.where((map_x >= 0) & (disparity >= 0), cost, 1.0).astype(np.float32)


def refine_disparity(
    left: np.ndarray,
    right: np.ndarray,
    prior_px: np.ndarray,
    scale: float,
    cfg: RefineConfig = RefineConfig(),
) -> np.ndarray:
    """Refine ``prior_px`` ((H, W) disparity of the left image, image pixels) against the uint8 RGB pair.

    ``scale`` is image pixels per network pixel (image width / network width); it sizes the search and
    the edge neighbourhood. Returns (H, W) float32 disparity, never NaN where the prior was finite.
    """
    if left.shape != right.shape or left.shape[:2] != prior_px.shape:
        raise ValueError(f"left {left.shape}, right {right.shape} and prior {prior_px.shape} must agree")
    prior = np.nan_to_num(prior_px.astype(np.float32), nan=0.0)
    d = prior
    matcher = _Matcher(left, right, cfg)
    radius = cfg.radius_net_px * max(scale, 1.0)
    step = max(1, round(cfg.step_net_px * scale)) if cfg.step_net_px > 0 else 1
    for n in range(cfg.passes):
        edges = cfg.edge_bases and n == 0
        d = _search(matcher, d, radius, scale if edges else 0.0, cfg, step, radius)
        if step > 1:  # the coarse winner, to the pixel
            d = _search(matcher, d, float(step), 0.0, cfg, 1, radius)
    if cfg.median:
        d = cv2.medianBlur(d, cfg.median)
    unseen = matcher.xs < prior  # the prior's match is left of the right image
    d = np.where(unseen, prior_px, np.maximum(d, 0.0))
    return np.where(np.isfinite(prior_px), d, np.nan).astype(np.float32)


def _search(
    matcher: _Matcher,
    prior: np.ndarray,
    radius: float,
    edge_scale: float,
    cfg: RefineConfig,
    step: int,
    penalty_radius: float,
) -> np.ndarray:
    """One winner-take-all search of shifts up to ``radius`` in ``step``-px steps around ``prior`` (and,
    when ``edge_scale`` > 0, its local max and min over a (2 ceil(edge_scale) + 1)^2 neighbourhood), with
    sub-pixel parabola fitting; a shift costs prior_weight (shift / penalty_radius)^2."""
    k = math.ceil(radius / step)
    steps = np.arange(-k, k + 1, dtype=np.float32) * step
    bases = [(prior, 0.0)]
    if edge_scale > 0:
        kernel = np.ones((2 * math.ceil(max(edge_scale, 1.0)) + 1,) * 2, np.uint8)
        bases += [(cv2.dilate(prior, kernel), cfg.side_cost), (cv2.erode(prior, kernel), cfg.side_cost)]
    best_cost = np.full(prior.shape, np.inf, np.float32)
    best = prior.copy()
    for base, extra in bases:
        costs = np.stack(
            [matcher.cost(base + s) + extra + cfg.prior_weight * (s / penalty_radius) ** 2 for s in steps]
        )
        i = np.argmin(costs, axis=0)
        c0 = np.take_along_axis(costs, i[None], 0)[0]
        lo = np.take_along_axis(costs, np.maximum(i - 1, 0)[None], 0)[0]
        hi = np.take_along_axis(costs, np.minimum(i + 1, len(steps) - 1)[None], 0)[0]
        curv = lo + hi - 2.0 * c0
        interior = (i > 0) & (i < len(steps) - 1) & (curv > 1e-6)
        sub = np.where(interior, 0.5 * (lo - hi) / np.where(interior, curv, 1.0), 0.0)
        d = base + steps[i] + np.clip(sub, -0.5, 0.5) * step
        better = c0 < best_cost
        best_cost, best = np.where(better, c0, best_cost), np.where(better, d, best)
    return best.astype(np.float32)
