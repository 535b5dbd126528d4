"""The street layout: a road at car scale with pavements, facades, parked and moving vehicles, trees,
poles, fences and hedges; sometimes a junction, an uphill slope, a tree line or hills; sky beyond.

An uphill slope is a second infinite plane tilted up from z_s on: with nearest-hit ray casting the two
planes meet in a valley and each ray sees the right one. Objects beyond z_s stand at the slope's height
at their near end. (Crests, i.e. downhill, need bounded planes and are not drawn.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adu_depth_core.data import props
from adu_depth_core.data.props import UP, grey_tint, photo_or
from adu_depth_core.data.scene import SceneBuilder

STREET_CAMERA_HEIGHT_M = (1.0, 2.2)  # car roof to van/robot mast


@dataclass(frozen=True)
class Ground:
    """Road height (y, down) at distance z: flat at the camera height, rising by `rise` per metre past z_s."""

    cam_h: float
    z_s: float = float("inf")
    rise: float = 0.0

    def y(self, z: float) -> float:
        return self.cam_h - max(0.0, z - self.z_s) * self.rise


def _spans(z0: float, z1: float, cuts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The intervals of [z0, z1] outside every cut interval."""
    out = [(z0, z1)]
    for c0, c1 in cuts:
        out = [piece for a, b in out for piece in ((a, min(b, c0)), (max(a, c1), b)) if piece[0] < piece[1]]
    return out


def street(
    rng: np.random.Generator, camera_height_m: tuple[float, float] | None = None
) -> tuple[SceneBuilder, dict]:
    """Road with lane paint, kerbs, facades, vehicles, street furniture and variety; sky beyond."""
    b = SceneBuilder(rng)
    cam_h = rng.uniform(*(camera_height_m or STREET_CAMERA_HEIGHT_M))
    half = rng.uniform(3.5, 7.5)  # road half width
    centre = rng.uniform(-0.5, 0.5) * (half - 1.2)  # road centre x relative to the camera
    ax_x, ax_z = (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)
    road_tint, road_tile = grey_tint(rng, 0.30, 0.50), rng.uniform(2.0, 4.0)
    b.plane(UP, -cam_h, ax_x, ax_z, "gravel", road_tint, road_tile)
    g = Ground(cam_h)
    if rng.random() < 0.3:  # uphill from z_s on
        z_s, ang = rng.uniform(25, 70), np.deg2rad(rng.uniform(2, 7))
        n = (0.0, -np.cos(ang), -np.sin(ang))
        b.plane(
            n,
            -np.cos(ang) * cam_h - np.sin(ang) * z_s,
            ax_x,
            (0.0, -np.sin(ang), np.cos(ang)),
            "gravel",
            road_tint,
            road_tile,
        )
        g = Ground(cam_h, z_s, float(np.tan(ang)))
    z_far = rng.uniform(70, 140)
    gap = (rng.uniform(12, 50), 0.0) if rng.random() < 0.35 else None
    cuts = [(gap[0], gap[0] + rng.uniform(8, 16))] if gap else []
    for side in (-1, 1):
        walk, kerb = rng.uniform(1.5, 4.0), rng.uniform(0.1, 0.18)
        x_in = centre + side * half
        pave_tint, pave_tile = grey_tint(rng, 0.55, 0.8), rng.uniform(0.8, 2.0)
        for z0, z1 in _spans(-20.0, min(z_far, g.z_s), cuts):
            b.box_on_ground(
                x_in + side * walk / 2,
                (z0 + z1) / 2,
                (walk, kerb, z1 - z0),
                cam_h,
                0.0,
                "brick",
                pave_tint,
                pave_tile,
            )
            if rng.random() < 0.3:  # a fence or hedge at the back of the pavement
                edge = x_in + side * (walk - 0.4)
                (props.fence if rng.random() < 0.6 else props.hedge)(
                    b, rng, edge, max(z0, 1.0), z1, cam_h - kerb
                )
        _facades(b, rng, side, x_in + side * walk, z_far, g, cuts)
        _kerbside(b, rng, side, x_in, walk, z_far, g, cuts)
        for _c0, c1 in cuts:  # buildings set back along the crossing road
            for _ in range(rng.integers(1, 4)):
                x = x_in + side * (walk + rng.uniform(10, 50))
                size = (rng.uniform(8, 25), rng.uniform(4, 20), rng.uniform(6, 15))
                b.box_on_ground(
                    x,
                    c1 + size[2] / 2 + rng.uniform(0, 3),
                    size,
                    g.y(c1),
                    0.0,
                    photo_or(rng, 0.35, "brick"),
                    grey_tint(rng, 0.6, 1.1, 0.25),
                    3,
                )
    if rng.random() < 0.3:  # a building closing the street
        size = (2 * half + 40, rng.uniform(6, 20), 10)
        b.box_on_ground(
            centre,
            z_far + 5,
            size,
            g.y(z_far),
            0.0,
            photo_or(rng, 0.5, "brick"),
            grey_tint(rng, 0.5, 1.0, 0.2),
            rng.uniform(4, 12),
        )
    else:
        props.skyline(b, rng, z_far, g.y(z_far))
    _traffic(b, rng, centre, half, g)
    look = props.outdoor_look(rng)
    look.update(markings=(float(centre), float(half)), rig_R=props.rig(rng, 4.0, 3.0, 2.0))
    return b, look


def _facades(
    b: SceneBuilder, rng: np.random.Generator, side: int, x_front: float, z_far: float, g: Ground, cuts
):
    z = rng.uniform(-25, -5)
    while z < z_far:
        length = rng.uniform(6, 25)
        if rng.random() < 0.3:  # gap between buildings
            z += rng.uniform(3, 12)
        for c0, c1 in cuts:  # keep the junction open
            if z < c1 and z + length > c0:
                z, length = (c1, length) if z >= c0 - 3 else (z, max(c0 - z, 1.0))
        setback, depth = rng.uniform(0, 5), rng.uniform(8, 15)
        height = rng.uniform(12, 25) if rng.random() < 0.3 else rng.uniform(4, 12)
        tex = photo_or(rng, 0.35, "brick")
        tint = grey_tint(rng, 0.6, 1.1, 0.25) if tex == "brick" else grey_tint(rng, 0.8, 1.1, 0.05)
        tile = rng.uniform(1.5, 4.0) if tex == "brick" else rng.uniform(3, 10)
        x = x_front + side * (setback + depth / 2)
        b.box_on_ground(x, z + length / 2, (depth, height, length), g.y(z), 0.0, tex, tint, tile)
        z += length


def _clear(z: float, cuts, margin: float = 0.0) -> bool:
    return all(not (c0 - margin <= z <= c1 + margin) for c0, c1 in cuts)


def _kerbside(
    b: SceneBuilder, rng: np.random.Generator, side: int, x_in: float, walk: float, z_far, g: Ground, cuts
):
    """Poles and trees on the pavement, vehicles parked along the kerb."""
    for _ in range(rng.integers(0, 8)):
        x, z, r = (
            x_in + side * rng.uniform(0.3, walk - 0.3),
            rng.uniform(2, z_far * 0.7),
            rng.uniform(0.05, 0.15),
        )
        top = g.y(z) - 0.12
        b.cylinder(
            x,
            z,
            r,
            top - rng.uniform(3, 8),
            g.y(z),
            "gravel",
            grey_tint(rng, 0.4, 0.8),
            rng.uniform(0.3, 1.0),
        )
    for _ in range(rng.integers(0, 6)):
        x, z = x_in + side * rng.uniform(0.5, walk), rng.uniform(4, z_far * 0.7)
        if _clear(z, cuts, 2.0):
            props.tree(b, rng, x, z, g.y(z) - 0.12)
    z = rng.uniform(2, 8)
    while z < z_far * 0.7:
        kind = str(rng.choice(["car", "van", "truck", "bus"], p=[0.7, 0.17, 0.08, 0.05]))
        length = props.VEHICLES[kind][2][1]
        if rng.random() < 0.55 and _clear(z, cuts, length):
            x = x_in - side * rng.uniform(1.0, 1.3) * (1.0 if kind == "car" else 1.3)
            props.vehicle(b, rng, x, z + length / 2, rng.uniform(-0.05, 0.05), g.y(z), kind)
        z += length + rng.uniform(1.5, 5)


def _traffic(b: SceneBuilder, rng: np.random.Generator, centre: float, half: float, g: Ground):
    for _ in range(rng.integers(0, 5)):
        x = centre + rng.uniform(-half + 1.5, half - 1.5)
        z = rng.uniform(7, 60)
        if abs(x) < 2.5 and z < 12:  # keep clear of the ego car
            continue
        kind = str(rng.choice(["car", "van", "truck", "bus"], p=[0.65, 0.15, 0.12, 0.08]))
        props.vehicle(b, rng, x, z, rng.uniform(-0.2, 0.2), g.y(z - 3), kind)
