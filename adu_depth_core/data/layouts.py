"""Random scene layouts for the synthetic generator: a street at car scale and an indoor room.

A layout takes a numpy Generator (and optionally the camera-height range to draw from, metres above the
floor or road; None = the layout's own range) and returns a SceneBuilder plus the lighting/rig keywords of
SceneBuilder.build. Register new layouts in LAYOUTS.
"""

from __future__ import annotations

import numpy as np

from adu_depth_core.data.scene import SceneBuilder, rotation_ypr
from adu_depth_core.data.textures import PHOTO_TEXTURES
from adu_depth_core.registry import Registry

LAYOUTS: Registry = Registry("scene layout")

UP = (0.0, -1.0, 0.0)  # y points down


def _rig(rng: np.random.Generator, yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    return rotation_ypr(*np.deg2rad(rng.uniform(-1, 1, size=3) * (yaw_deg, pitch_deg, roll_deg)))


def _sun(rng: np.random.Generator) -> np.ndarray:
    elev, az = np.deg2rad(rng.uniform(20, 70)), rng.uniform(0, 2 * np.pi)
    return np.array([np.cos(elev) * np.sin(az), -np.sin(elev), np.cos(elev) * np.cos(az)])


def _grey_tint(rng: np.random.Generator, lo: float, hi: float, warm: float = 0.05) -> tuple:
    g = rng.uniform(lo, hi)
    return tuple(np.clip(g * (1 + rng.uniform(-warm, warm, size=3)), 0, 1.2))


def _photo_or(rng: np.random.Generator, p_photo: float, grey: str) -> str:
    return str(rng.choice(PHOTO_TEXTURES)) if rng.random() < p_photo else grey


@LAYOUTS.register("street")
def street(
    rng: np.random.Generator, camera_height_m: tuple[float, float] | None = None
) -> tuple[SceneBuilder, dict]:
    """Road with lane paint, kerbs, facades at random setbacks, cars, poles and trees; sky beyond."""
    b = SceneBuilder(rng)
    cam_h = rng.uniform(*(camera_height_m or (1.5, 1.8)))  # camera height above the road
    half = rng.uniform(3.5, 7.5)  # road half width
    centre = rng.uniform(-0.5, 0.5) * (half - 1.2)  # road centre x relative to the camera
    ax_x, ax_z = (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)
    b.plane(UP, -cam_h, ax_x, ax_z, "gravel", _grey_tint(rng, 0.30, 0.50), rng.uniform(2.0, 4.0))
    z_far = rng.uniform(70, 140)
    for side in (-1, 1):
        walk = rng.uniform(1.5, 4.0)
        kerb = rng.uniform(0.1, 0.18)
        x_in = centre + side * half
        b.box_on_ground(
            x_in + side * walk / 2,
            z_far / 2,
            (walk, kerb, z_far + 20),
            cam_h,
            0.0,
            "brick",
            _grey_tint(rng, 0.55, 0.8),
            rng.uniform(0.8, 2.0),
        )
        _facades(b, rng, side, x_in + side * walk, z_far, cam_h)
        _kerbside(b, rng, side, x_in, walk, z_far, cam_h)
    if rng.random() < 0.4:  # a building closing the street
        b.box_on_ground(
            centre,
            z_far + 5,
            (2 * half + 40, rng.uniform(6, 20), 10),
            cam_h,
            0.0,
            _photo_or(rng, 0.5, "brick"),
            _grey_tint(rng, 0.5, 1.0, 0.2),
            rng.uniform(4, 12),
        )
    _traffic(b, rng, centre, half, cam_h)
    return b, {
        "sun": _sun(rng),
        "ambient": rng.uniform(0.3, 0.5),
        "sky_zenith": rng.uniform([0.25, 0.45, 0.75], [0.45, 0.6, 0.95]),
        "sky_horizon": rng.uniform([0.7, 0.75, 0.8], [0.9, 0.92, 0.98]),
        "markings": (float(centre), float(half)),
        "rig_R": _rig(rng, 4.0, 1.5, 1.0),
    }


def _facades(
    b: SceneBuilder, rng: np.random.Generator, side: int, x_front: float, z_far: float, ground: float
):
    z = rng.uniform(-25, -5)
    while z < z_far:
        length = rng.uniform(6, 25)
        if rng.random() < 0.3:  # gap between buildings
            z += rng.uniform(3, 12)
        setback, depth = rng.uniform(0, 5), rng.uniform(8, 15)
        height = rng.uniform(12, 25) if rng.random() < 0.3 else rng.uniform(4, 12)
        x = x_front + side * (setback + depth / 2)
        tex = _photo_or(rng, 0.35, "brick")
        tint = _grey_tint(rng, 0.6, 1.1, 0.25) if tex == "brick" else _grey_tint(rng, 0.8, 1.1, 0.05)
        b.box_on_ground(
            x,
            z + length / 2,
            (depth, height, length),
            ground,
            0.0,
            tex,
            tint,
            rng.uniform(1.5, 4.0) if tex == "brick" else rng.uniform(3, 10),
        )
        z += length


def _kerbside(b: SceneBuilder, rng: np.random.Generator, side: int, x_in: float, walk: float, z_far, ground):
    """Poles and trees on the pavement, cars parked along the kerb."""
    top = ground - 0.12
    for _ in range(rng.integers(0, 8)):
        x = x_in + side * rng.uniform(0.3, walk - 0.3)
        r = rng.uniform(0.05, 0.15)
        b.cylinder(
            x,
            rng.uniform(2, z_far * 0.7),
            r,
            top - rng.uniform(3, 8),
            ground,
            "gravel",
            _grey_tint(rng, 0.4, 0.8),
            rng.uniform(0.3, 1.0),
        )
    for _ in range(rng.integers(0, 5)):
        x, z = x_in + side * rng.uniform(0.5, walk), rng.uniform(4, z_far * 0.7)
        r, h = rng.uniform(0.12, 0.3), rng.uniform(2, 4)
        b.cylinder(x, z, r, top - h, ground, "gravel", (0.45, 0.35, 0.25), 0.5)
        crown = rng.uniform(1.2, 2.5)
        b.sphere((x, top - h - 0.7 * crown, z), crown, "grass", (0.5, 0.85, 0.35), rng.uniform(1.0, 2.5))
    z = rng.uniform(2, 8)
    while z < z_far * 0.7:
        if rng.random() < 0.55:
            _car(b, rng, x_in - side * rng.uniform(1.0, 1.3), z + 2.5, rng.uniform(-0.05, 0.05), ground)
        z += rng.uniform(5.5, 9)


def _traffic(b: SceneBuilder, rng: np.random.Generator, centre: float, half: float, ground: float):
    for _ in range(rng.integers(0, 4)):
        x = centre + rng.uniform(-half + 1.5, half - 1.5)
        z = rng.uniform(7, 60)
        if abs(x) < 2.0 and z < 9:  # keep clear of the ego car
            continue
        _car(b, rng, x, z, rng.uniform(-0.2, 0.2), ground)


def _car(b: SceneBuilder, rng: np.random.Generator, x: float, z: float, yaw: float, ground: float):
    """Body box plus a narrower cabin box; random paint over a photo or gravel texture."""
    w, length, h = rng.uniform(1.6, 1.9), rng.uniform(3.8, 4.8), rng.uniform(0.8, 1.0)
    paint = tuple(rng.uniform(0.15, 1.0, size=3))
    tex = _photo_or(rng, 0.5, "gravel")
    b.box_on_ground(x, z, (w, h, length), ground, yaw, tex, paint, rng.uniform(1.0, 3.0))
    cab_l, cab_h = length * rng.uniform(0.45, 0.6), rng.uniform(0.45, 0.6)
    dz = rng.uniform(-0.1, 0.25) * length
    b.box_on_ground(
        x + np.sin(yaw) * dz,
        z + np.cos(yaw) * dz,
        (w * 0.9, cab_h, cab_l),
        ground - h,
        yaw,
        "camera",
        tuple(0.5 * np.asarray(paint) + 0.15),
        rng.uniform(0.8, 2.0),
    )


@LAYOUTS.register("room")
def room(
    rng: np.random.Generator, camera_height_m: tuple[float, float] | None = None
) -> tuple[SceneBuilder, dict]:
    """Textured floor, walls and ceiling (inside faces of a box) with boxes, columns and balls."""
    b = SceneBuilder(rng)
    cam_h = rng.uniform(*(camera_height_m or (1.1, 1.7)))
    height = rng.uniform(2.6, 4.0)
    left, right = rng.uniform(1.5, 5.0), rng.uniform(1.5, 5.0)
    back = rng.uniform(5.0, 15.0)
    ax_x, ax_y, ax_z = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)
    b.plane(
        UP,
        -cam_h,
        ax_x,
        ax_z,
        _photo_or(rng, 0.2, "brick"),
        _grey_tint(rng, 0.5, 0.9, 0.2),
        rng.uniform(1, 3),
    )
    b.plane(UP, height - cam_h, ax_x, ax_z, "moon", _grey_tint(rng, 0.8, 1.1), rng.uniform(2, 5))
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
            _photo_or(rng, 0.6, "brick"),
            _grey_tint(rng, 0.6, 1.1, 0.2),
            rng.uniform(1.5, 4.0),
        )
    for _ in range(rng.integers(3, 10)):
        size = rng.uniform([0.4, 0.4, 0.4], [2.0, 2.2, 2.0])
        x, z = rng.uniform(-left + size[0] / 2, right - size[0] / 2), rng.uniform(1.5, back - size[2] / 2)
        b.box_on_ground(
            x,
            z,
            size,
            cam_h,
            rng.uniform(-0.6, 0.6),
            _photo_or(rng, 0.6, "gravel"),
            tuple(rng.uniform(0.3, 1.0, size=3)),
            rng.uniform(0.5, 2.0),
        )
    for _ in range(rng.integers(0, 3)):
        b.cylinder(
            rng.uniform(-left + 0.3, right - 0.3),
            rng.uniform(2, back - 0.3),
            rng.uniform(0.1, 0.4),
            cam_h - height,
            cam_h,
            "coins",
            _grey_tint(rng, 0.6, 1.0),
            rng.uniform(0.5, 1.5),
        )
    for _ in range(rng.integers(0, 4)):
        r = rng.uniform(0.15, 0.5)
        b.sphere(
            (rng.uniform(-left + r, right - r), cam_h - r, rng.uniform(2, back - r)),
            r,
            str(rng.choice(PHOTO_TEXTURES)),
            (1.0, 1.0, 1.0),
            rng.uniform(0.5, 1.5),
        )
    light = np.array([rng.uniform(-0.5, 0.5), -1.0, rng.uniform(-0.5, 0.5)])
    return b, {
        "sun": light,
        "ambient": rng.uniform(0.35, 0.6),
        "sky_zenith": (0.0, 0.0, 0.0),
        "sky_horizon": (0.0, 0.0, 0.0),
        "markings": None,
        "rig_R": _rig(rng, 10.0, 5.0, 2.0),
    }
