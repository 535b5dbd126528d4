"""Scene description for the synthetic generator: primitives, materials, light and camera rig.

World frame = the left camera's level frame: x right, y down, z forward, metres, origin at the
left camera centre. The rig rotation R (camera -> world) adds a little pitch/roll/yaw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from adu_depth_core.data.textures import TEXTURE_IDS


@dataclass
class Scene:
    """Primitives as tensors on one device; materials are indexed by a global primitive id
    (planes first, then boxes, cylinders, spheres)."""

    plane_n: torch.Tensor  # (P, 3) unit normals
    plane_d: torch.Tensor  # (P,) n . x = d
    plane_u: torch.Tensor  # (P, 3) texture u axis
    plane_v: torch.Tensor  # (P, 3) texture v axis
    box_c: torch.Tensor  # (B, 3) centres
    box_h: torch.Tensor  # (B, 3) half sizes (in the box frame)
    box_cs: torch.Tensor  # (B, 2) cos(yaw), sin(yaw); yaw about +y
    cyl: torch.Tensor  # (C, 5) x, z, radius, y_top, y_bottom (y_top < y_bottom: y is down)
    sph: torch.Tensor  # (S, 4) x, y, z, radius
    tex: torch.Tensor  # (M,) texture id per primitive
    tint: torch.Tensor  # (M, 3) RGB multiplier
    tile_m: torch.Tensor  # (M,) metres per texture tile
    uv_off: torch.Tensor  # (M, 2) tile-unit offset, so equal textures differ
    emissive: torch.Tensor  # (M,) bool: lamp-like, shaded at full brightness and casts no shadow
    sun: torch.Tensor  # (3,) unit vector towards the light
    ambient: float
    sky_zenith: torch.Tensor  # (3,)
    sky_horizon: torch.Tensor  # (3,)
    markings: tuple[float, float] | None  # (road centre x, road half width) for lane paint on plane 0
    rig_R: torch.Tensor  # (3, 3) camera -> world rotation
    sun_rgb: torch.Tensor  # (3,) colour and strength of the directional light
    clouds: torch.Tensor  # (K, 4) sky noise waves: kx, kz, phase, amplitude (K = 0: clear sky)
    cloud_cover: float  # 0 clear .. 1 overcast: threshold of the cloud noise
    cloud_rgb: torch.Tensor  # (3,) cloud colour
    shadows: bool  # cast shadow rays towards the sun

    @property
    def counts(self) -> tuple[int, int, int, int]:
        return (len(self.plane_n), len(self.box_c), len(self.cyl), len(self.sph))


@dataclass
class SceneBuilder:
    """Collects primitives with their materials (numpy), then builds a Scene on a device."""

    rng: np.random.Generator
    planes: list[tuple] = field(default_factory=list)
    boxes: list[tuple] = field(default_factory=list)
    cylinders: list[tuple] = field(default_factory=list)
    spheres: list[tuple] = field(default_factory=list)

    def _material(self, texture: str, tint, tile_m: float, emissive: bool = False) -> tuple:
        off = tuple(self.rng.uniform(0.0, 2.0, size=2))
        return (TEXTURE_IDS[texture], tuple(float(c) for c in tint), float(tile_m), off, bool(emissive))

    def plane(self, normal, d: float, u_axis, v_axis, texture: str, tint, tile_m: float) -> None:
        n = np.asarray(normal, dtype=np.float64)
        self.planes.append((n / np.linalg.norm(n), d, u_axis, v_axis, self._material(texture, tint, tile_m)))

    def box(
        self, centre, half, yaw: float, texture: str, tint, tile_m: float, emissive: bool = False
    ) -> None:
        self.boxes.append((centre, half, yaw, self._material(texture, tint, tile_m, emissive)))

    def box_on_ground(
        self, x: float, z: float, size, ground_y: float, yaw: float, texture: str, tint, tile_m: float
    ):
        """A box of size (w, h, l) standing on the ground plane y = ground_y."""
        w, h, length = size
        self.box((x, ground_y - h / 2, z), (w / 2, h / 2, length / 2), yaw, texture, tint, tile_m)

    def cylinder(
        self, x: float, z: float, radius: float, y_top: float, y_bottom: float, texture, tint, tile_m
    ):
        self.cylinders.append(((x, z, radius, y_top, y_bottom), self._material(texture, tint, tile_m)))

    def sphere(self, centre, radius: float, texture: str, tint, tile_m: float) -> None:
        self.spheres.append(((*centre, radius), self._material(texture, tint, tile_m)))

    def build(
        self,
        device,
        *,
        sun,
        ambient: float,
        sky_zenith,
        sky_horizon,
        markings,
        rig_R,
        sun_rgb=(1.0, 1.0, 1.0),
        clouds=(),
        cloud_cover: float = 0.0,
        cloud_rgb=(1.0, 1.0, 1.0),
        shadows: bool = True,
    ) -> Scene:
        """The Scene on `device`; the keywords are the light, sky and rig a layout returns."""

        def t(x, shape_tail=()):
            arr = np.asarray(x, dtype=np.float32)
            if arr.size == 0:
                arr = arr.reshape((0, *shape_tail))
            return torch.from_numpy(np.ascontiguousarray(arr)).to(device)

        mats = [p[-1] for p in self.planes + self.boxes + self.cylinders + self.spheres]
        yaws = np.array([b[2] for b in self.boxes], dtype=np.float64)
        sun = np.asarray(sun, dtype=np.float64)
        return Scene(
            plane_n=t([p[0] for p in self.planes], (3,)),
            plane_d=t([p[1] for p in self.planes]),
            plane_u=t([p[2] for p in self.planes], (3,)),
            plane_v=t([p[3] for p in self.planes], (3,)),
            box_c=t([b[0] for b in self.boxes], (3,)),
            box_h=t([b[1] for b in self.boxes], (3,)),
            box_cs=t(np.stack([np.cos(yaws), np.sin(yaws)], axis=1), (2,)),
            cyl=t([c[0] for c in self.cylinders], (5,)),
            sph=t([s[0] for s in self.spheres], (4,)),
            tex=torch.tensor([m[0] for m in mats], dtype=torch.int64, device=device),
            tint=t([m[1] for m in mats], (3,)),
            tile_m=t([m[2] for m in mats]),
            uv_off=t([m[3] for m in mats], (2,)),
            emissive=torch.tensor([m[4] for m in mats], dtype=torch.bool, device=device),
            sun=t(sun / np.linalg.norm(sun)),
            ambient=float(ambient),
            sky_zenith=t(sky_zenith),
            sky_horizon=t(sky_horizon),
            markings=markings,
            rig_R=t(rig_R),
            sun_rgb=t(sun_rgb),
            clouds=t(clouds, (4,)),
            cloud_cover=float(cloud_cover),
            cloud_rgb=t(cloud_rgb),
            shadows=bool(shadows),
        )


def rotation_ypr(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Camera -> world rotation from yaw (about y), pitch (about x), roll (about z), radians."""
    cy, sy = np.cos(yaw), np.sin(yaw)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cr, sr = np.cos(roll), np.sin(roll)
    Ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    Rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    Rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return Ry @ Rx @ Rz
