"""Surface normals, texture coordinates and Lambertian shading of ray hits (see raycast.py)."""

from __future__ import annotations

import torch

from adu_depth_core.data.raycast import BOX, CYL_CAP, CYL_SIDE, PLANE, SPHERE, Hit
from adu_depth_core.data.scene import Scene
from adu_depth_core.data.shadows import in_shadow
from adu_depth_core.data.textures import TEXTURE_SIZE, TextureAtlas

MIP_BIAS = 0.0  # > 0 blurs textures more (less aliasing), < 0 sharpens


def surface(s: Scene, hit: Hit, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit normals (N, 3) and texture coordinates in metres (N, 2) at hit points p (N, 3)."""
    normal = torch.zeros_like(p)
    uv = torch.zeros(p.shape[0], 2, device=p.device)
    for code, fn in (
        (PLANE, _plane),
        (BOX, _box),
        (CYL_SIDE, _cyl_side),
        (CYL_CAP, _cyl_cap),
        (SPHERE, _sphere),
    ):
        rows = (hit.kind == code).nonzero().squeeze(1)
        if len(rows):
            n, tex_uv = fn(s, _take(hit.index, rows), _take(p, rows))
            normal.index_copy_(0, rows, n)
            uv.index_copy_(0, rows, tex_uv)
    return normal, uv


def _take(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """x[idx] along dim 0 (index_select: far faster than advanced indexing on CPU)."""
    return x.index_select(0, idx)


def _plane(s, i, p):
    return _take(s.plane_n, i), torch.stack(
        [(p * _take(s.plane_u, i)).sum(1), (p * _take(s.plane_v, i)).sum(1)], 1
    )


def _box(s, i, p):
    cs = _take(s.box_cs, i)
    c, sn = cs[:, 0], cs[:, 1]
    rel = p - _take(s.box_c, i)
    loc = torch.stack([c * rel[:, 0] - sn * rel[:, 2], rel[:, 1], sn * rel[:, 0] + c * rel[:, 2]], 1)
    q = loc / _take(s.box_h, i)
    axis = q.abs().argmax(1)
    n_loc = torch.nn.functional.one_hot(axis, 3).to(p.dtype) * torch.sign(q)
    n = torch.stack([c * n_loc[:, 0] + sn * n_loc[:, 2], n_loc[:, 1], -sn * n_loc[:, 0] + c * n_loc[:, 2]], 1)
    u = torch.where(axis == 0, loc[:, 2], loc[:, 0])
    v = torch.where(axis == 1, loc[:, 2], loc[:, 1])
    return n, torch.stack([u + axis.to(p.dtype) * 7.0, v], 1)


def _cyl_side(s, i, p):
    cyl = _take(s.cyl, i)
    cx, cz, r = cyl[:, 0], cyl[:, 1], cyl[:, 2]
    nx, nz = (p[:, 0] - cx) / r, (p[:, 2] - cz) / r
    n = torch.stack([nx, torch.zeros_like(nx), nz], 1)
    return n, torch.stack([torch.atan2(nz, nx) * r, p[:, 1]], 1)


def _cyl_cap(s, i, p):
    n = torch.zeros_like(p)
    n[:, 1] = -1.0
    cyl = _take(s.cyl, i)
    return n, torch.stack([p[:, 0] - cyl[:, 0], p[:, 2] - cyl[:, 1]], 1)


def _sphere(s, i, p):
    sph = _take(s.sph, i)
    n = (p - sph[:, :3]) / sph[:, 3:4]
    return n, torch.stack([torch.atan2(n[:, 2], n[:, 0]) * sph[:, 3], p[:, 1]], 1)


def _global_id(s: Scene, hit: Hit) -> torch.Tensor:
    p, b, c, _ = s.counts
    start = torch.tensor([0, p, p + b, p + b, p + b + c], device=hit.kind.device)
    return _take(start, hit.kind) + hit.index


def shade(
    s: Scene,
    atlas: TextureAtlas,
    o: torch.Tensor,
    d: torch.Tensor,
    hit: Hit,
    pixel_angle: float,
    bundles: torch.Tensor | None = None,
) -> torch.Tensor:
    """Lambertian colour (N, 3) in [0, 1] of each ray, with cast shadows; misses get the sky.

    pixel_angle: angular size of one pixel (1 / fx), to pick the mip level from the pixel footprint.
    bundles: (T, K) ray indices grouped in image tiles, for culling shadow rays (None: one bundle).
    """
    rgb = _sky(s, d)
    rows = (hit.kind >= 0).nonzero().squeeze(1)
    if not len(rows):
        return rgb
    sub = Hit(_take(hit.t, rows), _take(hit.kind, rows), _take(hit.index, rows))
    dm = _take(d, rows)
    p = o.reshape(1, 3) + sub.t[:, None] * dm
    normal, uv_m = surface(s, sub, p)
    dnorm = dm.norm(dim=1)
    dot = (normal * dm).sum(1)
    cos = (dot.abs() / dnorm).clamp(min=0.05)
    normal = torch.where((dot > 0)[:, None], -normal, normal)  # face the viewer
    gid = _global_id(s, sub)
    tile = _take(s.tile_m, gid)
    pixel_m = sub.t * dnorm * pixel_angle
    level = torch.log2((pixel_m / cos.sqrt() * TEXTURE_SIZE / tile).clamp(min=1.0)) + MIP_BIAS
    uv = uv_m / tile[:, None] + _take(s.uv_off, gid)
    albedo = atlas.sample(_take(s.tex, gid), uv[:, 0], uv[:, 1], level) * _take(s.tint, gid)
    if s.markings is not None:
        albedo = _lane_paint(s, sub, p, albedo, pixel_m / cos)
    direct = (normal @ s.sun).clamp(min=0.0)
    if s.shadows:
        need = (direct > 0) & ~_take(s.emissive, gid)
        direct = direct * ~_shadowed(s, o, d, rows, p, normal, need, bundles)
    light = s.ambient + (1.0 - s.ambient) * direct[:, None] * s.sun_rgb
    light = torch.where(_take(s.emissive, gid)[:, None], torch.ones_like(light), light)
    rgb.index_copy_(0, rows, albedo * light)
    return rgb.clamp(0.0, 1.0)


def _shadowed(s: Scene, o, d, rows, p, normal, need, bundles) -> torch.Tensor:
    """In-shadow flags of the hit rows that `need` a test; misses stand in as points 1 m along their ray."""
    n = d.shape[0]
    p_all = o.reshape(1, 3) + d
    p_all.index_copy_(0, rows, p)
    n_all = torch.zeros_like(p_all)
    n_all.index_copy_(0, rows, normal)
    need_all = torch.zeros(n, dtype=torch.bool, device=d.device)
    need_all.index_copy_(0, rows, need)
    if bundles is None:
        bundles = torch.arange(n, device=d.device)[None]
    return _take(in_shadow(s, p_all, n_all, bundles, need_all), rows)


def _lane_paint(
    s: Scene, hit: Hit, p: torch.Tensor, albedo: torch.Tensor, blur_m: torch.Tensor
) -> torch.Tensor:
    """White centre dashes and edge lines on the road (plane 0), anti-aliased by the pixel footprint."""
    centre, half = s.markings
    x = p[:, 0] - centre
    blur = blur_m.clamp(min=1e-3)

    def line(dist_to_axis: torch.Tensor, width_m: float = 0.075) -> torch.Tensor:
        return ((width_m - dist_to_axis) / blur + 0.5).clamp(0.0, 1.0)

    dash = (torch.remainder(p[:, 2], 9.0) < 3.0).to(p.dtype) * line(x.abs())
    edges = line((x.abs() - (half - 0.35)).abs())
    cover = torch.maximum(dash, edges) * ((hit.kind == PLANE) & (hit.index == 0)).to(p.dtype)
    return albedo * (1 - cover[:, None]) + 0.85 * cover[:, None]


def _sky(s: Scene, d: torch.Tensor) -> torch.Tensor:
    """Horizon-to-zenith gradient with clouds: smooth noise on a cloud layer, keyed by ray direction."""
    dn = d / d.norm(dim=1, keepdim=True)
    up = (-dn[:, 1]).clamp(0.0, 1.0)
    w = (up * 2.5).clamp(max=1.0)[:, None]
    rgb = s.sky_horizon * (1 - w) + s.sky_zenith * w
    if len(s.clouds) == 0:
        return rgb
    layer = dn[:, [0, 2]] / (up[:, None] + 0.08)  # where the ray meets a cloud layer one unit up
    k, phase, amp = s.clouds[:, :2], s.clouds[:, 2], s.clouds[:, 3]
    noise = (torch.sin(layer @ k.T + phase) * amp).sum(1) / (amp.square().sum() / 2).sqrt()
    threshold = (0.5 - s.cloud_cover) * 3.0
    cover = ((noise - threshold + 0.7) / 1.4).clamp(0.0, 1.0)
    cover = (cover * cover * (3 - 2 * cover) * (up * 6).clamp(max=1.0))[:, None]  # thin out at the horizon
    return rgb * (1 - cover) + s.cloud_rgb * cover
