"""Exact, vectorised ray casting against planes, yawed boxes, capped vertical cylinders and spheres.

Rays share one origin (a camera or the LiDAR) and have world directions scaled so that their
camera-frame z is 1, hence the hit parameter t is the camera z-depth in metres. Rays are grouped in
bundles (image tiles); each primitive is tested only against bundles its screen-space bounding box
overlaps, and every (bundle, primitive) pair is computed for all rays of the bundle at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from adu_depth_core.data.scene import Scene

EPS = 1e-4
PLANE, BOX, CYL_SIDE, CYL_CAP, SPHERE = range(5)
N_KINDS = 5
_INF = float("inf")


@dataclass
class Hit:
    """Nearest hit per ray: t (N,) (inf = miss), kind (N,) family code or -1, index (N,) within its family."""

    t: torch.Tensor
    kind: torch.Tensor
    index: torch.Tensor


def _safe_inv(x: torch.Tensor) -> torch.Tensor:
    return 1.0 / torch.where(x.abs() < 1e-12, torch.full_like(x, 1e-12), x)


def _keep(t: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    return torch.where(ok & (t > EPS), t, torch.full_like(t, _INF))


# Each t_* takes primitive parameters shaped (Q, 1, k) and rays o (1, 1, 3), d (Q or 1, P, 3) -> t (Q, P).


def t_box(
    c: torch.Tensor, h: torch.Tensor, cs: torch.Tensor, o: torch.Tensor, d: torch.Tensor
) -> torch.Tensor:
    cos, sin = cs[..., 0], cs[..., 1]
    rel = o - c
    dx, dy, dz = d[..., 0], d[..., 1], d[..., 2]
    ol = (cos * rel[..., 0] - sin * rel[..., 2], rel[..., 1], sin * rel[..., 0] + cos * rel[..., 2])
    dl = (cos * dx - sin * dz, dy, sin * dx + cos * dz)
    near = far = None
    for axis in range(3):
        inv = _safe_inv(dl[axis])
        mid = -ol[axis] * inv
        half = h[..., axis] * inv.abs()
        near = mid - half if near is None else torch.maximum(near, mid - half)
        far = mid + half if far is None else torch.minimum(far, mid + half)
    return _keep(near, near <= far)


def t_cylinder_side(cyl: torch.Tensor, o: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    cx, cz, r, y_top, y_bot = cyl.unbind(-1)
    ox, oz = o[..., 0] - cx, o[..., 2] - cz
    dx, dz = d[..., 0], d[..., 2]
    a = dx * dx + dz * dz
    b = ox * dx + oz * dz
    disc = b * b - a * (ox * ox + oz * oz - r * r)
    t = (-b - disc.clamp(min=0).sqrt()) * _safe_inv(a)
    y = o[..., 1] + t * d[..., 1]
    return _keep(t, (disc >= 0) & (y >= y_top) & (y <= y_bot))


def t_cylinder_cap(cyl: torch.Tensor, o: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    cx, cz, r, y_top, _ = cyl.unbind(-1)
    t = (y_top - o[..., 1]) * _safe_inv(d[..., 1])
    px, pz = o[..., 0] + t * d[..., 0] - cx, o[..., 2] + t * d[..., 2] - cz
    return _keep(t, px * px + pz * pz <= r * r)


def t_sphere(sph: torch.Tensor, o: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    oc = o - sph[..., :3]
    a = (d * d).sum(-1)
    b = (d * oc).sum(-1)
    disc = b * b - a * ((oc * oc).sum(-1) - sph[..., 3] ** 2)
    t = (-b - disc.clamp(min=0).sqrt()) / a
    return _keep(t, disc >= 0)


def _families(s: Scene):
    """(kind, per-primitive parameters, function, global id of primitive 0) for every culled family."""
    p, b, c, _ = s.counts
    return (
        (BOX, (s.box_c, s.box_h, s.box_cs), t_box, p),
        (CYL_SIDE, (s.cyl,), t_cylinder_side, p + b),
        (CYL_CAP, (s.cyl,), t_cylinder_cap, p + b),
        (SPHERE, (s.sph,), t_sphere, p + b + c),
    )


def _bounds_box(s: Scene) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Oriented bounding boxes (centre, half size, cos/sin yaw) of all non-plane primitives in gid order."""
    cyl, sph = s.cyl, s.sph
    cyl_c = torch.stack([cyl[:, 0], (cyl[:, 3] + cyl[:, 4]) / 2, cyl[:, 1]], 1)
    cyl_h = torch.stack([cyl[:, 2], (cyl[:, 4] - cyl[:, 3]) / 2, cyl[:, 2]], 1)
    sph_h = sph[:, 3:4].expand(-1, 3)
    no_yaw = torch.tensor([[1.0, 0.0]], device=cyl.device)
    centres = torch.cat([s.box_c, cyl_c, sph[:, :3]])
    halves = torch.cat([s.box_h, cyl_h, sph_h])
    cs = torch.cat([s.box_cs, no_yaw.expand(len(cyl), 2), no_yaw.expand(len(sph), 2)])
    return centres, halves, cs


_CORNERS = torch.tensor([[x, y, z] for x in (-1.0, 1.0) for y in (-1.0, 1.0) for z in (-1.0, 1.0)])
_EDGES = torch.tensor([(i, i ^ bit) for i in range(8) for bit in (1, 2, 4) if i < i ^ bit])


def screen_bounds(s: Scene, o: torch.Tensor, near: float = EPS) -> torch.Tensor:
    """(M, 4) xmin, xmax, ymin, ymax in normalised camera coordinates of every non-plane primitive,
    after clipping at z = near (empty bounds for primitives wholly behind the camera)."""
    centres, halves, cs = _bounds_box(s)
    loc = _CORNERS.to(o.device) * halves[:, None, :]  # (M, 8, 3)
    cos, sin = cs[:, None, 0], cs[:, None, 1]
    world = centres[:, None, :] + torch.stack(
        [cos * loc[..., 0] + sin * loc[..., 2], loc[..., 1], -sin * loc[..., 0] + cos * loc[..., 2]], -1
    )
    cam = (world - o.reshape(1, 1, 3)) @ s.rig_R  # (M, 8, 3) camera frame
    e0, e1 = cam[:, _EDGES[:, 0]], cam[:, _EDGES[:, 1]]  # (M, 12, 3)
    z0, z1 = e0[..., 2:3], e1[..., 2:3]
    crosses = ((z0 - near) * (z1 - near) < 0).squeeze(-1)
    frac = (near - z0) / torch.where(crosses[..., None], z1 - z0, torch.ones_like(z0))
    pts = torch.cat([cam, e0 + frac * (e1 - e0)], 1)  # (M, 20, 3)
    ok = torch.cat([cam[..., 2] >= near, crosses], 1)
    xy = pts[..., :2] / pts[..., 2:3].clamp(min=near)
    big = torch.full_like(xy, _INF)
    lo = torch.where(ok[..., None], xy, big).amin(1)
    hi = torch.where(ok[..., None], xy, -big).amax(1)
    return torch.stack([lo[:, 0], hi[:, 0], lo[:, 1], hi[:, 1]], 1)


def rect_overlap(bounds: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """(T, M) bool: rectangle m (bounds (M, 4): xmin, xmax, ymin, ymax) meets bundle t's (lo, hi (T, 2))."""
    return (
        (bounds[None, :, 0] <= hi[:, None, 0])
        & (bounds[None, :, 1] >= lo[:, None, 0])
        & (bounds[None, :, 2] <= hi[:, None, 1])
        & (bounds[None, :, 3] >= lo[:, None, 1])
    )


def intersect(s: Scene, o: torch.Tensor, d: torch.Tensor, bundles: torch.Tensor) -> Hit:
    """Nearest hit of rays from origin o (1, 3) along d (N, 3); bundles (T, P) groups ray indices
    (spatially coherent, duplicates allowed) for culling."""
    db = d.index_select(0, bundles.reshape(-1)).reshape(*bundles.shape, 3)  # (T, P, 3)
    cam = db @ s.rig_R
    xy = cam[..., :2] / cam[..., 2:3]
    tol = 1e-6
    b_lo, b_hi = xy.amin(1) - tol, xy.amax(1) + tol  # (T, 2)
    o3 = o.reshape(1, 1, 3)
    t_best = _planes(s, o3, db)
    code_best = (t_best[1] * N_KINDS + PLANE) if t_best[1] is not None else None
    t_best = t_best[0]
    overlap = rect_overlap(screen_bounds(s, o), b_lo, b_hi)  # (T, M)
    p = s.counts[0]
    ts, codes, owners = [], [], []
    for kind, params, fn, start in _families(s):
        n = params[0].shape[0]
        pairs = overlap[:, start - p : start - p + n].nonzero()
        if len(pairs) == 0:
            continue
        bundle, prim = pairs[:, 0], pairs[:, 1]
        rays = db.index_select(0, bundle)
        ts.append(fn(*(x.index_select(0, prim)[:, None] for x in params), o3, rays))
        codes.append((prim + start) * N_KINDS + kind)
        owners.append(bundle)
    if ts:
        t_all, code_all, owner = torch.cat(ts), torch.cat(codes), torch.cat(owners)
        idx = owner[:, None].expand_as(t_all)
        t_min = t_best.scatter_reduce(0, idx, t_all, "amin")
        is_min = (t_all == t_min[owner]) & torch.isfinite(t_all)
        code_pick = torch.where(
            is_min, code_all[:, None].expand_as(t_all), torch.full_like(t_all, -1, dtype=torch.long)
        )
        code_min = torch.full_like(t_min, -1, dtype=torch.long).scatter_reduce(0, idx, code_pick, "amax")
        code_best = torch.where(code_min >= 0, code_min, code_best) if code_best is not None else code_min
        t_best = t_min
    return _unbundle(s, t_best, code_best, bundles, d.shape[0])


def _planes(s: Scene, o3: torch.Tensor, db: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    if len(s.plane_n) == 0:
        return torch.full(db.shape[:2], _INF, device=db.device), None
    denom = db @ s.plane_n.T  # (T, P, Pl)
    t = (s.plane_d - (o3 @ s.plane_n.T)) * _safe_inv(denom)
    t = _keep(t, denom.abs() > 1e-9)
    return t.min(-1)


def _unbundle(s: Scene, t: torch.Tensor, code: torch.Tensor | None, bundles: torch.Tensor, n: int) -> Hit:
    flat = bundles.reshape(-1)
    out_t = torch.full((n,), _INF, device=t.device)
    out_t.index_copy_(0, flat, t.reshape(-1))  # duplicate (clamped) rays carry identical values
    out_code = torch.full((n,), -1, dtype=torch.long, device=t.device)
    if code is not None:
        out_code.index_copy_(
            0, flat, torch.where(torch.isfinite(t), code, torch.full_like(code, -1)).reshape(-1)
        )
    kind = torch.where(out_code >= 0, out_code % N_KINDS, out_code)
    p, b, c, _ = s.counts
    start = torch.tensor([0, p, p + b, p + b, p + b + c], device=t.device)
    index = torch.where(
        out_code >= 0, out_code // N_KINDS - start[kind.clamp(min=0)], torch.zeros_like(out_code)
    )
    return Hit(out_t, kind, index)


def tile_bundles(height: int, width: int, tile: int, device: torch.device | str) -> torch.Tensor:
    """(T, tile*tile) row-major pixel indices of square tiles covering the image (edges clamped)."""
    ty, tx = -(-height // tile), -(-width // tile)
    iy = torch.arange(ty * tile, device=device).clamp(max=height - 1).reshape(ty, 1, tile, 1)
    ix = torch.arange(tx * tile, device=device).clamp(max=width - 1).reshape(1, tx, 1, tile)
    return (iy * width + ix).reshape(ty * tx, tile * tile)


def chunk_bundles(n: int, size: int, device: torch.device | str) -> torch.Tensor:
    """(T, size) consecutive ray indices (last chunk clamped)."""
    t = -(-n // size)
    return torch.arange(t * size, device=device).clamp(max=max(n - 1, 0)).reshape(t, size)
