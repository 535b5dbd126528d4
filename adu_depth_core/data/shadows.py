"""Cast shadows: does a ray from each surface point towards the (directional) sun hit a primitive?

Shadow rays are parallel, so primitives are culled in "sun space": the plane perpendicular to the sun.
Each bundle of points (an image tile) is tested only against primitives whose sun-space bounding
rectangle overlaps the bundle's and that reach further towards the sun than the bundle's nearest point.
Boxes, cylinders and spheres cast shadows; planes (the ground, walls, slopes) and emissive primitives
(lamps) only receive them. The result depends on the world point alone, so both stereo views agree.
"""

from __future__ import annotations

import torch

from adu_depth_core.data import raycast
from adu_depth_core.data.scene import Scene

OFFSET_M = 2e-3  # shadow ray origins sit this far off the surface (plus a depth-relative term)
OFFSET_REL = 2e-5


def sun_basis(sun: torch.Tensor) -> torch.Tensor:
    """(3, 3) rows e1, e2, sun: an orthonormal frame whose third axis points at the light."""
    helper = torch.tensor([1.0, 0.0, 0.0], device=sun.device)
    if abs(float(sun[0])) > 0.9:
        helper = torch.tensor([0.0, 0.0, 1.0], device=sun.device)
    e1 = torch.linalg.cross(sun, helper)
    e1 = e1 / e1.norm()
    return torch.stack([e1, torch.linalg.cross(sun, e1), sun])


def _prim_bounds(s: Scene, basis: torch.Tensor) -> torch.Tensor:
    """(M, 6) min/max of every non-plane primitive's bounding box along e1, e2 and the sun."""
    centres, halves, cs = raycast._bounds_box(s)
    loc = raycast._CORNERS.to(centres.device) * halves[:, None, :]
    cos, sin = cs[:, None, 0], cs[:, None, 1]
    world = centres[:, None, :] + torch.stack(
        [cos * loc[..., 0] + sin * loc[..., 2], loc[..., 1], -sin * loc[..., 0] + cos * loc[..., 2]], -1
    )
    q = world @ basis.T  # (M, 8, 3)
    return torch.cat([q.amin(1), q.amax(1)], 1)


def in_shadow(
    s: Scene, p: torch.Tensor, normal: torch.Tensor, bundles: torch.Tensor, need: torch.Tensor
) -> torch.Tensor:
    """(N,) bool: the point p (N, 3) with outward normal (N, 3) is hidden from the sun.

    bundles (T, K) groups point indices (spatially coherent, duplicates allowed) for culling;
    need (N,) bool marks the points to test (others, e.g. sky or faces turned from the sun, stay False
    and do not widen their bundle's bounds); their rows of p must still be finite.
    """
    n = p.shape[0]
    out = torch.zeros(n, dtype=torch.bool, device=p.device)
    if len(s.box_c) + len(s.cyl) + len(s.sph) == 0:
        return out
    sun = s.sun
    dist = p.norm(dim=1, keepdim=True)
    origin = p + normal * (OFFSET_M + OFFSET_REL * dist)
    basis = sun_basis(sun)
    ob = origin.index_select(0, bundles.reshape(-1)).reshape(*bundles.shape, 3)  # (T, K, 3)
    q = ob @ basis.T
    nb = need.index_select(0, bundles.reshape(-1)).reshape(*bundles.shape, 1)
    big = torch.full_like(q, float("inf"))
    b_lo, b_hi = torch.where(nb, q, big).amin(1), torch.where(nb, q, -big).amax(1)  # (T, 3); empty: inf, -inf
    pb = _prim_bounds(s, basis)
    overlap = raycast.rect_overlap(pb[:, [0, 3, 1, 4]], b_lo[:, :2], b_hi[:, :2])
    overlap &= pb[None, :, 5] >= b_lo[:, None, 2]  # reaches towards the sun beyond the nearest point
    first = s.counts[0]
    overlap &= ~s.emissive[first:][None, :]
    d = sun.reshape(1, 1, 3)
    for _, params, fn, start in raycast._families(s):
        count = params[0].shape[0]
        pairs = overlap[:, start - first : start - first + count].nonzero()
        if len(pairs) == 0:
            continue
        bundle, prim = pairs[:, 0], pairs[:, 1]
        t = fn(*(x.index_select(0, prim)[:, None] for x in params), ob.index_select(0, bundle), d)
        idx = bundles.index_select(0, bundle)
        hit = torch.isfinite(t) & need.index_select(0, idx.reshape(-1)).reshape(idx.shape)
        out[idx[hit]] = True
    return out
