"""The workshop layout: a close-range indoor scene (a garage bay, a lab corner, a store room) seen from
0.3-1.6 m, the heights of small robots, arms and hand-held cameras. The back wall stands 2-6 m away, and most of
the picture is clutter 0.6-4 m from the camera: workbenches with tools and parts on them, stacked crates,
bins and drums, shelving with boxes, carts and chairs. It teaches the scale of near, detailed scenes that
streets and furnished rooms (things beyond 1.5 m, rooms of 2.5 m and more) do not show.
"""

from __future__ import annotations

import numpy as np

from adu_depth_core.data import props
from adu_depth_core.data.layouts_room import ceiling_lamps, chair, shelf
from adu_depth_core.data.props import UP, grey_tint, photo_or
from adu_depth_core.data.scene import SceneBuilder

WORKSHOP_CAMERA_HEIGHT_M = (0.3, 1.6)
NEAR_M = 0.6  # nothing closer to the camera than this (the models' range starts at 0.5 m)


def _colour(rng: np.random.Generator) -> tuple:
    """Painted metal or plastic: saturated half the time, else grey."""
    return tuple(rng.uniform(0.1, 1.0, size=3)) if rng.random() < 0.5 else grey_tint(rng, 0.2, 1.0, 0.1)


def small_items(
    b: SceneBuilder, rng: np.random.Generator, x: float, z: float, yaw: float, wd: tuple, top_y: float
):
    """2-8 small things (boxes, cans, balls) standing on a w x d surface at y = top_y centred on (x, z),
    turned by yaw."""
    w, d = wd
    for _ in range(rng.integers(2, 9)):
        ix, iz = props._along(x, z, yaw, rng.uniform(-0.45, 0.45) * w, rng.uniform(-0.4, 0.4) * d)
        kind = rng.random()
        if kind < 0.5:
            size = rng.uniform([0.05, 0.03, 0.05], [0.4, 0.35, 0.35])
            tex = photo_or(rng, 0.5, "gravel")
            b.box_on_ground(ix, iz, size, top_y, rng.uniform(-np.pi, np.pi), tex, _colour(rng), 0.3)
        elif kind < 0.8:
            r, h = rng.uniform(0.02, 0.12), rng.uniform(0.05, 0.35)
            b.cylinder(ix, iz, r, top_y - h, top_y, photo_or(rng, 0.3, "coins"), _colour(rng), 0.2)
        else:
            r = rng.uniform(0.03, 0.15)
            b.sphere((ix, top_y - r, iz), r, photo_or(rng, 0.5, "gravel"), _colour(rng), 0.3)


def workbench(b: SceneBuilder, rng: np.random.Generator, x: float, z: float, yaw: float, ground: float):
    """A heavy top on two closed side panels (or a cabinet), with small items on it."""
    w, d, h = rng.uniform(1.0, 2.2), rng.uniform(0.5, 0.9), rng.uniform(0.75, 0.95)
    tint = grey_tint(rng, 0.3, 0.9, 0.15)
    top_y = ground - h
    b.box_on_ground(x, z, (w, 0.05, d), top_y + 0.05, yaw, photo_or(rng, 0.3, "gravel"), tint, 1.0)
    if rng.random() < 0.5:
        for sx in (-1, 1):
            px, pz = props._along(x, z, yaw, sx * (w / 2 - 0.05), 0.0)
            b.box_on_ground(px, pz, (0.06, h - 0.05, d * 0.9), ground, yaw, "gravel", tint, 0.8)
    else:
        b.box_on_ground(x, z, (w * 0.95, h - 0.05, d * 0.9), ground, yaw, "gravel", _colour(rng), 0.8)
    small_items(b, rng, x, z, yaw, (w, d), top_y)


def crates(b: SceneBuilder, rng: np.random.Generator, x: float, z: float, yaw: float, ground: float):
    """A stack of 1-3 crates or cartons, each a little offset and turned."""
    y = ground
    size = rng.uniform([0.25, 0.15, 0.25], [0.6, 0.5, 0.6])
    tint, tex = _colour(rng), photo_or(rng, 0.4, "gravel")
    for _ in range(rng.integers(1, 4)):
        s = size * rng.uniform(0.8, 1.0, size=3)
        ox, oz = rng.uniform(-0.08, 0.08, size=2)
        b.box_on_ground(x + ox, z + oz, s, y, yaw + rng.uniform(-0.2, 0.2), tex, tint, 0.5)
        y -= s[1]


def drums(b: SceneBuilder, rng: np.random.Generator, x: float, z: float, yaw: float, ground: float):
    """1-3 bins, buckets or drums side by side."""
    r = rng.uniform(0.12, 0.35)
    for i in range(rng.integers(1, 4)):
        cx, cz = props._along(x, z, yaw, i * 2.1 * r, 0.0)
        h = rng.uniform(0.3, 0.95)
        b.cylinder(cx, cz, r, ground - h, ground, photo_or(rng, 0.2, "coins"), _colour(rng), 0.5)


def cart(b: SceneBuilder, rng: np.random.Generator, x: float, z: float, yaw: float, ground: float):
    """A tool cart or trolley: a low box on four small wheels with items on it."""
    w, d, h = rng.uniform(0.5, 1.0), rng.uniform(0.4, 0.7), rng.uniform(0.5, 0.9)
    tint = _colour(rng)
    wheel = 0.08
    b.box_on_ground(x, z, (w, h - wheel, d), ground - wheel, yaw, "gravel", tint, 0.6)
    for sx in (-1, 1):
        for sz in (-1, 1):
            wx, wz = props._along(x, z, yaw, sx * (w / 2 - 0.05), sz * (d / 2 - 0.05))
            b.cylinder(wx, wz, 0.04, ground - wheel, ground, "gravel", (0.1, 0.1, 0.1), 0.2)
    small_items(b, rng, x, z, yaw, (w, d), ground - h)


def rack(b: SceneBuilder, rng: np.random.Generator, x: float, z: float, yaw: float, ground: float):
    """Shelving against a wall (the room's shelf), then boxes and cans on some of its boards."""
    n = len(b.boxes)
    shelf(b, rng, x, z, yaw, ground)
    boards = [bx for bx in b.boxes[n:] if bx[1][1] < 0.02]  # the thin horizontal boards
    for centre, half, _, _ in boards[:-1]:
        if rng.random() < 0.7:
            small_items(b, rng, centre[0], centre[2], yaw, (2 * half[0], 2 * half[2]), centre[1] - half[1])


AGAINST_WALLS = (workbench, workbench, rack, rack, crates, drums)
FREE_STANDING = (workbench, workbench, cart, cart, crates, drums, chair)


def workshop(
    rng: np.random.Generator, camera_height_m: tuple[float, float] | None = None
) -> tuple[SceneBuilder, dict]:
    """A cluttered close-range room; see the module docstring."""
    b = SceneBuilder(rng)
    cam_h = rng.uniform(*(camera_height_m or WORKSHOP_CAMERA_HEIGHT_M))
    back, left, right = rng.uniform(2.0, 6.0), rng.uniform(1.0, 3.5), rng.uniform(1.0, 3.5)
    height = max(rng.uniform(2.3, 3.5), cam_h + 0.6)
    floor_tex = photo_or(rng, 0.3, str(rng.choice(["gravel", "brick"])))
    b.plane(
        UP,
        -cam_h,
        (1.0, 0.0, 0.0),
        (0.0, 0.0, 1.0),
        floor_tex,
        grey_tint(rng, 0.4, 0.9, 0.2),
        rng.uniform(0.5, 2),
    )
    b.plane(UP, height - cam_h, (1.0, 0.0, 0.0), (0.0, 0.0, 1.0), "moon", grey_tint(rng, 0.7, 1.1), 3.0)
    for normal, d, u_ax in (
        ((1, 0, 0), -left, (0, 0, 1)),
        ((1, 0, 0), right, (0, 0, 1)),
        ((0, 0, 1), back, (1, 0, 0)),
    ):
        tex = photo_or(rng, 0.5, str(rng.choice(["brick", "gravel"])))
        b.plane(normal, d, u_ax, (0.0, 1.0, 0.0), tex, grey_tint(rng, 0.5, 1.1, 0.2), rng.uniform(1.0, 3.0))
    # against the back and side walls first, then free-standing things between them and the camera
    for _ in range(rng.integers(2, 6)):
        side = rng.integers(0, 3)
        if side == 2:
            x, z, yaw = rng.uniform(-left + 0.5, right - 0.5), back - 0.4, 0.0
        else:
            x, z = (-left + 0.4, right - 0.4)[side], rng.uniform(NEAR_M + 0.5, back - 0.4)
            yaw = np.pi / 2
        AGAINST_WALLS[rng.integers(0, len(AGAINST_WALLS))](b, rng, x, z, yaw, cam_h)
    for _ in range(rng.integers(1, 5)):
        # 1.3 m keeps the camera outside the largest footprint (a 2.2 x 0.9 m bench, any yaw)
        x, z = rng.uniform(-left + 0.4, right - 0.4), rng.uniform(1.3, max(back - 0.6, 1.4))
        FREE_STANDING[rng.integers(0, len(FREE_STANDING))](b, rng, x, z, rng.uniform(-np.pi, np.pi), cam_h)
    ceiling_lamps(b, rng, left, right, back, cam_h - height)
    return b, props.indoor_look(rng, 0.6, (0.7, 1.1), (0.3, 0.6), (15.0, 10.0, 2.0))
