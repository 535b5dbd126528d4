"""Views of one synthetic scene from other camera positions and lenses: moving-camera sequences.

    synth = StereoSynthesizer(SynthConfig(height=96, width=320))
    for f in drive(synth, seed=3, frames=120, step_m=0.4):    # camera advancing along the street
        f.rgb, f.depth_m, f.K, f.camera_height_m

The scene of a seed is built once; each frame casts the left camera's rays from
a translated origin (world frame = the scene's level frame: x right, y down,
z forward; the ground is the plane y = the scene's camera height). Translating
the ray origin moves the camera; the rig rotation stays the scene's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from adu_depth_core.data.scene import Scene, SceneBuilder
from adu_depth_core.data.synthetic import StereoSynthesizer


@dataclass
class View:
    """One rendered left view: RGB, exact z-depth (NaN = sky), its K and the camera's height above the ground."""

    rgb: np.ndarray  # (H, W, 3) uint8
    depth_m: np.ndarray  # (H, W) float32
    K: np.ndarray  # (3, 3) float64
    camera_height_m: float
    origin_m: tuple[float, float, float]  # camera centre in the scene frame
    up_normal: tuple[float, float, float]  # the ground's up direction in the camera optical frame


def ground_height_m(scene: Scene) -> float:
    """Height of the scene's own camera (at the origin) above its ground plane (plane 0, normal up)."""
    n, d = scene.plane_n[0].cpu().numpy(), float(scene.plane_d[0])
    if not np.allclose(n, (0.0, -1.0, 0.0), atol=1e-6):
        raise ValueError(f"plane 0 of this scene is not a level ground plane (normal {n.tolist()})")
    return -d


@torch.no_grad()
def render_view(
    synth: StereoSynthesizer, scene: Scene, origin_m=(0.0, 0.0, 0.0), K: np.ndarray | None = None
) -> View:
    """The left view of ``scene`` from camera centre ``origin_m`` (scene frame) with ``K`` (default ``synth.K``)."""
    K = synth.K.copy() if K is None else np.asarray(K, dtype=np.float64).reshape(3, 3)
    o = torch.tensor([origin_m], dtype=torch.float32, device=synth.device)
    d = synth._pixel_dirs(K) @ scene.rig_R.T
    rgb, depth = synth._render_view(scene, o, d, K)
    height = ground_height_m(scene) - float(origin_m[1])
    up = scene.rig_R.cpu().numpy().astype(np.float64).T @ np.array([0.0, -1.0, 0.0])
    origin = tuple(float(v) for v in origin_m)
    return View(rgb, depth, K.copy(), height, origin, tuple(float(v) for v in up))


def view_at_height(
    synth: StereoSynthesizer, seed: int, camera_height_m: float, K: np.ndarray | None = None
) -> View:
    """The scene of ``seed`` seen from its own position raised or lowered to ``camera_height_m``.

    ``K``: the camera (default: the synthesizer's camera of that seed).
    """
    scene = synth.scene(seed)
    K = synth.camera(seed) if K is None else K
    return render_view(synth, scene, (0.0, ground_height_m(scene) - camera_height_m, 0.0), K)


def drive(
    synth: StereoSynthesizer,
    seed: int,
    frames: int,
    step_m: float = 0.5,
    camera_height_m: float | None = None,
) -> Iterator[View]:
    """``frames`` views of the scene of ``seed`` with the camera advancing ``step_m`` along z per frame."""
    if frames < 1 or step_m < 0:
        raise ValueError(f"need frames >= 1 and step_m >= 0, got {frames}, {step_m}")
    scene, K = synth.scene(seed), synth.camera(seed)
    dy = 0.0 if camera_height_m is None else ground_height_m(scene) - camera_height_m
    for i in range(frames):
        yield render_view(synth, scene, (0.0, dy, i * step_m), K)


def wall_view(synth: StereoSynthesizer, distance_m: float, camera_height_m: float = 1.6) -> View:
    """A level camera facing a brick wall ``distance_m`` ahead (ground below it): no ground in view when close."""
    b = SceneBuilder(np.random.default_rng(0))
    b.plane((0.0, -1.0, 0.0), -camera_height_m, (1.0, 0.0, 0.0), (0.0, 0.0, 1.0), "gravel", (0.4,) * 3, 3.0)
    b.plane((0.0, 0.0, 1.0), distance_m, (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), "brick", (0.8, 0.7, 0.6), 2.0)
    scene = b.build(
        synth.device,
        sun=np.array([0.3, -1.0, 0.5]),
        ambient=0.4,
        sky_zenith=(0.3, 0.5, 0.9),
        sky_horizon=(0.8, 0.8, 0.9),
        markings=None,
        rig_R=np.eye(3),
    )
    return render_view(synth, scene)
