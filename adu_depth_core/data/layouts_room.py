"""The room layout: floor, walls and ceiling (inside faces of a box) from a small office to a hall,
furnished with tables, chairs, shelves, cabinets and sofas, with doors and windows on the walls and
lamps on the ceiling (emissive boxes); a few plain boxes, columns and balls as clutter.
"""

from __future__ import annotations

import numpy as np

from adu_depth_core.data import props
from adu_depth_core.data.props import UP, grey_tint, photo_or
from adu_depth_core.data.scene import SceneBuilder

ROOM_CAMERA_HEIGHT_M = (1.1, 1.7)
ROOM_SIZES = {  # name -> (width, depth, height) ranges, metres
    "office": ((2.5, 4.5), (3.0, 6.0), (2.4, 2.8)),
    "room": ((4.0, 9.0), (5.0, 12.0), (2.6, 3.6)),
    "hall": ((10.0, 24.0), (12.0, 25.0), (4.0, 8.0)),
}


def _wood(rng: np.random.Generator) -> tuple:
    return tuple(np.array([0.7, 0.5, 0.32]) * rng.uniform(0.5, 1.4) * rng.uniform(0.9, 1.1, size=3))


def _legs(b, rng, x, z, yaw, w, length, h, ground, tint, thick=0.05):
    for sx in (-1, 1):
        for sz in (-1, 1):
            lx, lz = props._along(x, z, yaw, sx * (w / 2 - thick), sz * (length / 2 - thick))
            b.box_on_ground(lx, lz, (thick, h, thick), ground, yaw, "gravel", tint, 0.5)


def table(b: SceneBuilder, rng: np.random.Generator, x: float, z: float, yaw: float, ground: float) -> None:
    """A top on four legs."""
    w, length, h = rng.uniform(0.8, 2.0), rng.uniform(0.6, 1.2), rng.uniform(0.7, 0.78)
    tint = _wood(rng) if rng.random() < 0.7 else grey_tint(rng, 0.5, 1.0)
    b.box_on_ground(x, z, (w, 0.04, length), ground - h + 0.04, yaw, photo_or(rng, 0.2, "gravel"), tint, 1.0)
    _legs(b, rng, x, z, yaw, w, length, h - 0.04, ground, tint)


def chair(b: SceneBuilder, rng: np.random.Generator, x: float, z: float, yaw: float, ground: float) -> None:
    """A seat on four legs with a back rest."""
    s, h = rng.uniform(0.4, 0.5), rng.uniform(0.42, 0.48)
    tint = _wood(rng) if rng.random() < 0.5 else tuple(rng.uniform(0.1, 0.9, size=3))
    b.box_on_ground(x, z, (s, 0.04, s), ground - h + 0.04, yaw, "gravel", tint, 0.6)
    _legs(b, rng, x, z, yaw, s, s, h - 0.04, ground, tint, 0.035)
    bx, bz = props._along(x, z, yaw, 0.0, -s / 2 + 0.02)
    b.box_on_ground(bx, bz, (s, rng.uniform(0.35, 0.5), 0.04), ground - h, yaw, "gravel", tint, 0.6)


def sofa(b: SceneBuilder, rng: np.random.Generator, x: float, z: float, yaw: float, ground: float) -> None:
    """Base, back rest and two arms."""
    w, d = rng.uniform(1.6, 2.4), rng.uniform(0.8, 1.0)
    tint, tex = tuple(rng.uniform(0.15, 0.8, size=3)), photo_or(rng, 0.2, "grass")
    b.box_on_ground(x, z, (w, 0.42, d), ground, yaw, tex, tint, 0.8)
    bx, bz = props._along(x, z, yaw, 0.0, -d / 2 + 0.1)
    b.box_on_ground(bx, bz, (w, 0.45, 0.2), ground - 0.42, yaw, tex, tint, 0.8)
    for sx in (-1, 1):
        ax, az = props._along(x, z, yaw, sx * (w / 2 - 0.1), 0.0)
        b.box_on_ground(ax, az, (0.2, 0.22, d), ground - 0.42, yaw, tex, tint, 0.8)


def shelf(b: SceneBuilder, rng: np.random.Generator, x: float, z: float, yaw: float, ground: float) -> None:
    """A closed cabinet, or an open bookcase: two sides and 3-5 boards."""
    w, h, d = rng.uniform(0.8, 2.0), rng.uniform(0.8, 2.2), rng.uniform(0.3, 0.6)
    tint = _wood(rng) if rng.random() < 0.6 else grey_tint(rng, 0.6, 1.1)
    if rng.random() < 0.4:
        b.box_on_ground(x, z, (w, h, d), ground, yaw, "gravel", tint, 1.0)
        return
    for sx in (-1, 1):
        px, pz = props._along(x, z, yaw, sx * (w / 2 - 0.01), 0.0)
        b.box_on_ground(px, pz, (0.02, h, d), ground, yaw, "gravel", tint, 1.0)
    for y in np.linspace(0.0, h - 0.02, rng.integers(3, 6)):
        b.box_on_ground(x, z, (w, 0.02, d), ground - y, yaw, "gravel", tint, 1.0)
    bx, bz = props._along(x, z, yaw, 0.0, -d / 2 + 0.005)
    b.box_on_ground(bx, bz, (w, h, 0.01), ground, yaw, photo_or(rng, 0.7, "coins"), (1.0, 1.0, 1.0), 1.0)


FURNITURE = (table, chair, sofa, shelf)


def _wall_items(
    b: SceneBuilder, rng: np.random.Generator, left: float, right: float, back: float, ground: float
):
    """Doors (thin boxes, floor-standing) and windows (bright emissive panes) on the side and back walls."""
    walls = ((-left, 1.0), (right, -1.0), (back, 0.0))  # position, side wall inward direction (0 = back)
    for _ in range(rng.integers(1, 5)):
        pos, inward = walls[rng.integers(0, 3)]
        door = rng.random() < 0.5
        w, h = (
            (rng.uniform(0.8, 1.0), rng.uniform(2.0, 2.2))
            if door
            else (rng.uniform(0.8, 2.5), rng.uniform(0.8, 1.5))
        )
        bottom = ground if door else ground - rng.uniform(0.8, 1.1)
        tint = _wood(rng) if door else tuple(np.array([1.25, 1.3, 1.4]) * rng.uniform(0.8, 1.1))
        along = rng.uniform(-min(left, right) + 0.6, back - 0.6 if inward else min(left, right) - 0.6)
        if inward:
            size, cx, cz = (0.04, h, w), pos + inward * 0.02, max(along, 0.6)
        else:
            size, cx, cz = (w, h, 0.04), along, pos - 0.02
        b.box(
            (cx, bottom - h / 2, cz),
            (size[0] / 2, h / 2, size[2] / 2),
            0.0,
            "gravel",
            tint,
            1.0,
            emissive=not door,
        )


def room(
    rng: np.random.Generator, camera_height_m: tuple[float, float] | None = None
) -> tuple[SceneBuilder, dict]:
    """A furnished room of random size with lamps, doors and windows; no sky."""
    b = SceneBuilder(rng)
    cam_h = rng.uniform(*(camera_height_m or ROOM_CAMERA_HEIGHT_M))
    (w0, w1), (d0, d1), (h0, h1) = ROOM_SIZES[str(rng.choice(list(ROOM_SIZES), p=[0.3, 0.5, 0.2]))]
    width, back, height = rng.uniform(w0, w1), rng.uniform(d0, d1), max(rng.uniform(h0, h1), cam_h + 0.5)
    left = width * rng.uniform(0.25, 0.75)
    right = width - left
    ax_x, ax_y, ax_z = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)
    b.plane(
        UP, -cam_h, ax_x, ax_z, photo_or(rng, 0.2, "brick"), grey_tint(rng, 0.5, 0.9, 0.2), rng.uniform(1, 3)
    )
    b.plane(UP, height - cam_h, ax_x, ax_z, "moon", grey_tint(rng, 0.8, 1.1), rng.uniform(2, 5))
    for normal, d, u_ax in (
        ((1, 0, 0), -left, ax_z),
        ((1, 0, 0), right, ax_z),
        ((0, 0, 1), back, ax_x),
        ((0, 0, 1), -2.0, ax_x),
    ):
        b.plane(
            normal,
            d,
            u_ax,
            ax_y,
            photo_or(rng, 0.6, "brick"),
            grey_tint(rng, 0.6, 1.1, 0.2),
            rng.uniform(1.5, 4.0),
        )
    _wall_items(b, rng, left, right, back, cam_h)
    n_items = int(np.clip(width * back / 8, 3, 14))
    for _ in range(rng.integers(n_items // 2, n_items + 1)):
        x, z = rng.uniform(-left + 1.0, right - 1.0), rng.uniform(1.5, back - 1.0)
        FURNITURE[rng.integers(0, len(FURNITURE))](b, rng, x, z, rng.uniform(-np.pi, np.pi), cam_h)
    for _ in range(rng.integers(0, 5)):
        size = rng.uniform([0.3, 0.3, 0.3], [1.5, 1.5, 1.5])
        x, z = rng.uniform(-left + size[0] / 2, right - size[0] / 2), rng.uniform(1.5, back - size[2] / 2)
        b.box_on_ground(
            x,
            z,
            size,
            cam_h,
            rng.uniform(-0.6, 0.6),
            photo_or(rng, 0.6, "gravel"),
            tuple(rng.uniform(0.3, 1.0, size=3)),
            rng.uniform(0.5, 2.0),
        )
    for _ in range(rng.integers(0, 3)):
        x, z = rng.uniform(-left + 0.3, right - 0.3), rng.uniform(2, back - 0.3)
        b.cylinder(x, z, rng.uniform(0.1, 0.4), cam_h - height, cam_h, "coins", grey_tint(rng, 0.6, 1.0), 1.0)
    for _ in range(rng.integers(0, 3)):
        r = rng.uniform(0.15, 0.4)
        b.sphere(
            (rng.uniform(-left + r, right - r), cam_h - r, rng.uniform(2, back - r)),
            r,
            photo_or(rng, 1.0, "gravel"),
            (1, 1, 1),
            1.0,
        )
    ceiling_lamps(b, rng, left, right, back, cam_h - height)
    return b, props.indoor_look(rng, 0.5, (0.8, 1.1), (0.35, 0.6), (10.0, 5.0, 2.0))


def ceiling_lamps(
    b: SceneBuilder, rng: np.random.Generator, left: float, right: float, back: float, ceiling_y: float
):
    """A grid of bright ceiling panels or strips (emissive: full brightness, no shadow)."""
    step = rng.uniform(2.0, 4.0)
    size = (0.6, 0.04, 0.6) if rng.random() < 0.5 else (0.2, 0.04, 1.2)
    glow = tuple(np.array([1.4, 1.35, 1.2]) * rng.uniform(0.9, 1.2))
    for x in np.arange(-left + step / 2, right, step):
        for z in np.arange(1.0, back, step):
            b.box((x, ceiling_y + 0.02, z), np.asarray(size) / 2, 0.0, "moon", glow, 2.0, emissive=True)
