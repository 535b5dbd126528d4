"""Building blocks of the synthetic layouts: random draws (rig, light, sky) and outdoor props.

Props are stacks of the SceneBuilder's exact primitives (boxes, vertical cylinders, spheres): vehicles
(car, van, truck, bus, with box wheels), trees with varied crowns, fences, hedges and a distant tree
line or hills. Every draw comes from the layout's numpy Generator, so a seed fixes the scene.
"""

from __future__ import annotations

import numpy as np

from adu_depth_core.data.scene import SceneBuilder, rotation_ypr
from adu_depth_core.data.textures import PHOTO_TEXTURES

UP = (0.0, -1.0, 0.0)  # y points down


def rig(rng: np.random.Generator, yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """Camera -> world rotation with yaw, pitch and roll drawn uniformly within +- the given degrees."""
    return rotation_ypr(*np.deg2rad(rng.uniform(-1, 1, size=3) * (yaw_deg, pitch_deg, roll_deg)))


def grey_tint(rng: np.random.Generator, lo: float, hi: float, warm: float = 0.05) -> tuple:
    """A grey level in [lo, hi] with a small random colour cast."""
    g = rng.uniform(lo, hi)
    return tuple(np.clip(g * (1 + rng.uniform(-warm, warm, size=3)), 0, 1.2))


def photo_or(rng: np.random.Generator, p_photo: float, grey: str) -> str:
    """A random photographic texture with probability p_photo, else the grey texture `grey`."""
    return str(rng.choice(PHOTO_TEXTURES)) if rng.random() < p_photo else grey


def indoor_look(
    rng: np.random.Generator, sun_spread: float, strength: tuple, ambient: tuple, rig_deg: tuple
) -> dict:
    """Light and rig for an enclosed scene: a soft, roughly overhead directional light (what the lamps
    and windows add up to) tilted by up to sun_spread, warm-white of the given strength range; no sky."""
    sun = np.array([rng.uniform(-sun_spread, sun_spread), -1.0, rng.uniform(-sun_spread, sun_spread)])
    sun_rgb = np.array([1.0, rng.uniform(0.85, 1.0), rng.uniform(0.7, 1.0)]) * rng.uniform(*strength)
    return {
        "sun": sun,
        "sun_rgb": sun_rgb,
        "ambient": rng.uniform(*ambient),
        "sky_zenith": (0.0, 0.0, 0.0),
        "sky_horizon": (0.0, 0.0, 0.0),
        "markings": None,
        "rig_R": rig(rng, *rig_deg),
    }


def _sun_dir(elev_deg: float, az: float) -> np.ndarray:
    elev = np.deg2rad(elev_deg)
    return np.array([np.cos(elev) * np.sin(az), -np.sin(elev), np.cos(elev) * np.cos(az)])


def _cloud_waves(rng: np.random.Generator, n: int = 7) -> np.ndarray:
    """(n, 4) kx, kz, phase, amplitude of the sky noise; amplitude falls with frequency (smooth)."""
    k = rng.uniform(1.5, 9.0, size=n)
    ang = rng.uniform(0, 2 * np.pi, size=n)
    return np.stack([k * np.cos(ang), k * np.sin(ang), rng.uniform(0, 2 * np.pi, size=n), 1.0 / k], 1)


def outdoor_look(rng: np.random.Generator) -> dict:
    """Sun, ambient light and sky of one of: clear, cloudy, overcast, dusk, hazy."""
    weather = str(rng.choice(["clear", "cloudy", "overcast", "dusk", "hazy"], p=[0.3, 0.25, 0.2, 0.1, 0.15]))
    az = rng.uniform(0, 2 * np.pi)
    look = {
        "sun": _sun_dir(rng.uniform(20, 70), az),
        "sun_rgb": np.array([1.0, 0.98, 0.93]) * rng.uniform(0.9, 1.1),
        "ambient": rng.uniform(0.3, 0.5),
        "sky_zenith": rng.uniform([0.25, 0.45, 0.75], [0.45, 0.6, 0.95]),
        "sky_horizon": rng.uniform([0.7, 0.75, 0.8], [0.9, 0.92, 0.98]),
        "clouds": _cloud_waves(rng),
        "cloud_cover": rng.uniform(0.0, 0.35),
        "cloud_rgb": grey_tint(rng, 0.9, 1.05, 0.02),
    }
    if weather == "cloudy":
        look["cloud_cover"] = rng.uniform(0.4, 0.7)
        look["cloud_rgb"] = grey_tint(rng, 0.7, 0.95, 0.02)
    elif weather == "overcast":  # weak directional light, strong ambient, grey sky
        grey = np.array(grey_tint(rng, 0.6, 0.9, 0.03))
        look.update(sky_zenith=grey * 0.9, sky_horizon=grey, cloud_cover=rng.uniform(0.75, 1.0))
        look.update(ambient=rng.uniform(0.65, 0.85), sun_rgb=np.full(3, rng.uniform(0.2, 0.5)))
        look["cloud_rgb"] = tuple(grey * rng.uniform(0.8, 1.05))
    elif weather == "dusk":  # low warm sun, orange horizon
        look["sun"] = _sun_dir(rng.uniform(4, 18), az)
        look["sun_rgb"] = np.array([1.0, rng.uniform(0.6, 0.8), rng.uniform(0.35, 0.55)]) * rng.uniform(
            0.9, 1.2
        )
        look["sky_horizon"] = rng.uniform([0.85, 0.5, 0.3], [1.0, 0.7, 0.5])
        look["sky_zenith"] = rng.uniform([0.2, 0.25, 0.4], [0.35, 0.4, 0.6])
        look["cloud_rgb"] = rng.uniform([0.8, 0.5, 0.4], [1.0, 0.7, 0.6])
        look["ambient"] = rng.uniform(0.25, 0.4)
    elif weather == "hazy":  # bright, washed-out horizon
        look["sky_horizon"] = np.array(grey_tint(rng, 0.92, 1.0, 0.02))
        look["sky_zenith"] = rng.uniform([0.55, 0.65, 0.8], [0.75, 0.8, 0.95])
        look["ambient"] = rng.uniform(0.45, 0.6)
    return look


def _along(x: float, z: float, yaw: float, dx: float, dz: float) -> tuple[float, float]:
    """World (x, z) of the point (dx, dz) in the frame of an object at (x, z) turned by yaw."""
    c, s = np.cos(yaw), np.sin(yaw)
    return x + c * dx + s * dz, z - s * dx + c * dz


VEHICLES = {  # kind -> (width, height, length) ranges of the body
    "car": ((1.6, 1.9), (0.8, 1.0), (3.8, 4.8)),
    "van": ((1.9, 2.1), (1.9, 2.4), (4.8, 6.0)),
    "truck": ((2.3, 2.5), (2.8, 3.8), (6.0, 9.0)),
    "bus": ((2.45, 2.55), (2.9, 3.3), (10.0, 12.0)),
}


def vehicle(
    b: SceneBuilder, rng: np.random.Generator, x: float, z: float, yaw: float, ground: float, kind: str
):
    """A car (body + cabin), van, truck (cab + cargo box) or bus, painted, with four dark box wheels."""
    (w0, w1), (h0, h1), (l0, l1) = VEHICLES[kind]
    w, h, length = rng.uniform(w0, w1), rng.uniform(h0, h1), rng.uniform(l0, l1)
    paint = tuple(rng.uniform(0.15, 1.0, size=3))
    clear = 0.25 if kind != "car" else 0.15  # ground clearance under the body
    tex = photo_or(rng, 0.5, "gravel")
    if kind == "truck":  # cargo box behind a lower cab
        cab_l = rng.uniform(1.8, 2.4)
        cx, cz = _along(x, z, yaw, 0.0, (length - cab_l) / 2)
        b.box_on_ground(cx, cz, (w, h * 0.75, cab_l), ground - clear, yaw, "camera", paint, 1.5)
        bx, bz = _along(x, z, yaw, 0.0, -cab_l / 2 - 0.1)
        b.box_on_ground(
            bx, bz, (w, h, length - cab_l - 0.2), ground - clear, yaw, tex, grey_tint(rng, 0.6, 1.0), 3
        )
    else:
        body_h = h if kind != "car" else h - clear
        b.box_on_ground(x, z, (w, body_h, length), ground - clear, yaw, tex, paint, rng.uniform(1.0, 3.0))
        band = (0.9, 0.45, 0.6) if kind == "car" else (1.02, 0.35, 0.9)  # cabin or window band
        dz = rng.uniform(-0.1, 0.25) * length if kind == "car" else 0.0
        wx, wz = _along(x, z, yaw, 0.0, dz)
        top = ground - clear - (body_h if kind == "car" else body_h * 0.55)
        band_h = rng.uniform(0.45, 0.6) if kind == "car" else body_h * band[1]
        b.box_on_ground(
            wx, wz, (w * band[0], band_h, length * band[2]), top, yaw, "camera",
            tuple(0.5 * np.asarray(paint) + 0.15) if kind == "car" else grey_tint(rng, 0.1, 0.3), 1.2,
        )  # fmt: skip
    r = 0.33 if kind == "car" else 0.45
    for sx in (-1, 1):
        for sz in (-1, 1):
            wx, wz = _along(x, z, yaw, sx * (w / 2 - 0.1), sz * (length / 2 - r * 1.6))
            b.box_on_ground(wx, wz, (0.24, 2 * r, 2 * r), ground, yaw, "gravel", (0.08, 0.08, 0.08), 0.5)


def tree(b: SceneBuilder, rng: np.random.Generator, x: float, z: float, ground: float) -> None:
    """Trunk plus a crown: one ball, a tall stack, a wide cluster or a cone-like stack of shrinking balls."""
    r, h = rng.uniform(0.12, 0.3), rng.uniform(1.5, 4.5)
    b.cylinder(x, z, r, ground - h, ground, "gravel", grey_tint(rng, 0.3, 0.5, 0.2), 0.5)
    green = np.array([0.45, 0.8, 0.3]) * rng.uniform(0.6, 1.2, size=3)
    if rng.random() < 0.15:  # autumn
        green = np.array([0.9, rng.uniform(0.4, 0.7), 0.2])
    crown = rng.uniform(1.0, 3.0)
    shape = rng.integers(0, 4)
    top = ground - h
    if shape == 0:
        balls = [(0.0, -0.7 * crown, 0.0, crown)]
    elif shape == 1:
        balls = [(0.0, -crown * (0.6 + 0.9 * i), 0.0, crown * (1 - 0.2 * i)) for i in range(3)]
    elif shape == 2:
        balls = [
            (*rng.uniform(-0.7, 0.7, 3) * crown * (1, 0.4, 1), crown * rng.uniform(0.6, 0.9))
            for _ in range(3)
        ]
        balls = [(dx, dy - 0.7 * crown, dz, rad) for dx, dy, dz, rad in balls]
    else:
        balls = [(0.0, -crown * 0.8 * i - 0.5, 0.0, crown * (1 - 0.22 * i)) for i in range(4)]
    for dx, dy, dz, rad in balls:
        b.sphere((x + dx, top + dy, z + dz), rad, "grass", tuple(green), rng.uniform(0.8, 2.5))


def fence(b: SceneBuilder, rng: np.random.Generator, x: float, z0: float, z1: float, ground: float) -> None:
    """Posts every 1.5-3 m with one or two rails along z, or a low solid wall, on the line x."""
    h = rng.uniform(0.8, 1.6)
    tint = grey_tint(rng, 0.3, 0.9, 0.15)
    if rng.random() < 0.3:
        b.box_on_ground(x, (z0 + z1) / 2, (0.2, h * 0.7, z1 - z0), ground, 0.0, "brick", tint, 1.5)
        return
    step = rng.uniform(1.5, 3.0)
    for z in np.arange(z0, z1, step):
        b.box_on_ground(x, z, (0.07, h, 0.07), ground, 0.0, "gravel", tint, 0.5)
    for k in range(rng.integers(1, 3)):
        b.box(
            (x, ground - h * (0.95 - 0.45 * k), (z0 + z1) / 2),
            (0.03, 0.03, (z1 - z0) / 2),
            0.0,
            "gravel",
            tint,
            1,
        )


def hedge(b: SceneBuilder, rng: np.random.Generator, x: float, z0: float, z1: float, ground: float) -> None:
    """A long green box along z."""
    size = (rng.uniform(0.5, 1.2), rng.uniform(0.6, 1.8), z1 - z0)
    green = tuple(np.array([0.35, 0.7, 0.25]) * rng.uniform(0.6, 1.1, size=3))
    b.box_on_ground(x, (z0 + z1) / 2, size, ground, 0.0, "grass", green, rng.uniform(0.5, 1.5))


def skyline(b: SceneBuilder, rng: np.random.Generator, z_far: float, ground: float) -> None:
    """A tree line across the end of the street, or distant hills (huge half-buried balls), or both."""
    if rng.random() < 0.6:
        z, dark = z_far + rng.uniform(5, 40), rng.uniform(0.35, 0.8)
        for x in np.arange(-80.0, 80.0, rng.uniform(4, 9)):
            r = rng.uniform(3, 8)
            green = tuple(np.array([0.4, 0.7, 0.3]) * dark * rng.uniform(0.85, 1.15, size=3))
            b.sphere((x, ground - r * rng.uniform(0.5, 1.1), z + rng.uniform(0, 15)), r, "grass", green, 3)
    if rng.random() < 0.5:
        for _ in range(rng.integers(1, 4)):
            r = rng.uniform(60, 150)
            c = (
                rng.uniform(-120, 120),
                ground + r * rng.uniform(0.8, 0.93),
                z_far + rng.uniform(10, 30) + 0.6 * r,
            )
            hill = np.array([0.5, 0.6, 0.4]) * rng.uniform(0.5, 1.0) * rng.uniform(0.85, 1.15, size=3)
            b.sphere(c, r, "grass", tuple(hill), rng.uniform(10, 30))
