"""Synthetic rectified stereo frames with exact dense depth, rendered by ray casting in torch.

    synth = StereoSynthesizer(SynthConfig(height=192, width=640, lidar=True), device="cpu")
    frame = synth.render(seed=7)          # SynthFrame: left/right uint8, depth_m (NaN = sky), lidar_m
    reader = SyntheticStereo(n=1000, size=(192, 640), seed=0)   # sample i is rendered from seed + i

Geometry: KITTI-like intrinsics scaled to the render size, or (``hfov_deg=(lo, hi)``) a random
pinhole camera per seed whose horizontal field of view is drawn from that range; the right camera
sits at +baseline_m along the left camera's x axis, so disparity_px = fx * baseline_m / depth_m exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from adu_depth_core.data import raycast, shading
from adu_depth_core.data.layouts import LAYOUTS
from adu_depth_core.data.sample import StereoSample
from adu_depth_core.data.scene import Scene
from adu_depth_core.data.textures import TextureAtlas
from adu_depth_core.projection import project_to_depth

# KITTI raw, 2011_09_26, P_rect_02: fx = fy = 721.5377 at 1242 x 375, principal point (609.5593, 172.854).
KITTI_FX, KITTI_CX, KITTI_CY, KITTI_W, KITTI_H = 721.5377, 609.5593, 172.854, 1242, 375
KITTI_BASELINE_M = 0.54
# HDL-64E (KITTI's scanner): an upper block of 32 beams from +2.0 to -8.33 deg (1/3 deg apart) and a
# lower block of 32 from -8.83 to -24.33 deg (1/2 deg apart). A KITTI scan holds ~120k points, i.e.
# ~1900 per beam per turn: one firing every ~0.19 deg of azimuth.
LIDAR_BLOCKS_DEG = ((2.0, -8.33), (-8.83, -24.33))
LIDAR_AZIMUTH_STEP_DEG = 0.19
TILE_PX = 16  # culling granularity of the ray caster


def kitti_intrinsics(height: int, width: int) -> np.ndarray:
    """KITTI's rectified camera matrix scaled to an image of height x width (pixel centres at integers)."""
    sx, sy = width / KITTI_W, height / KITTI_H
    return np.array(
        [
            [KITTI_FX * sx, 0.0, (KITTI_CX + 0.5) * sx - 0.5],
            [0.0, KITTI_FX * sy, (KITTI_CY + 0.5) * sy - 0.5],
            [0.0, 0.0, 1.0],
        ]
    )


def lidar_elevations_deg(beams: int) -> np.ndarray:
    """Beam elevations: the HDL-64E's two blocks for 64 beams, else evenly over its +2 to -24.33 deg."""
    if beams == 64:
        return np.concatenate([np.linspace(*LIDAR_BLOCKS_DEG[0], 32), np.linspace(*LIDAR_BLOCKS_DEG[1], 32)])
    return np.linspace(LIDAR_BLOCKS_DEG[0][0], LIDAR_BLOCKS_DEG[1][1], beams)


@dataclass(frozen=True)
class SynthConfig:
    """What to render; the seed passed to render() picks the scene."""

    height: int = 192
    width: int = 640
    layout: str = "street"  # a name in layouts.LAYOUTS: "street", "room" or "workshop"
    baseline_m: float = KITTI_BASELINE_M
    lidar: bool = False  # also render a 64-beam LiDAR-like sparse depth
    lidar_beams: int = 64
    lidar_offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)  # LiDAR origin in the left camera frame
    max_depth_m: float = 250.0  # hits farther than this count as invalid (NaN), like the sky
    # random camera per seed: horizontal field of view drawn from (lo, hi) degrees, fx = fy, principal
    # point within 3 % of the image centre; None = KITTI's camera scaled to the render size
    hfov_deg: tuple[float, float] | None = None
    # camera height above the road/floor drawn from (lo, hi) metres; None = the layout's own range
    camera_height_m: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if (
            self.camera_height_m is not None
            and not 0.05 <= self.camera_height_m[0] <= self.camera_height_m[1]
        ):
            raise ValueError(
                f"camera_height_m must be (lo, hi) metres with 0.05 <= lo <= hi, got {self.camera_height_m}"
            )
        if self.hfov_deg is not None and not 1.0 <= self.hfov_deg[0] <= self.hfov_deg[1] < 179.0:
            raise ValueError(
                f"hfov_deg must be (lo, hi) degrees with 1 <= lo <= hi < 179, got {self.hfov_deg}"
            )


@dataclass
class SynthFrame:
    """One rendered stereo frame; depth maps are float32 metres with NaN where invalid (sky)."""

    left: np.ndarray  # (H, W, 3) uint8
    right: np.ndarray  # (H, W, 3) uint8
    depth_m: np.ndarray  # (H, W) left-view z-depth
    depth_right_m: np.ndarray  # (H, W) right-view z-depth
    lidar_m: np.ndarray | None  # (H, W) sparse LiDAR depth in the left view, NaN without a return
    K: np.ndarray  # (3, 3) float64, both views
    baseline_m: float
    seed: int

    def to_sample(self, depth: str = "dense") -> StereoSample:
        """As a StereoSample whose depth is the dense map ("dense") or the sparse LiDAR one ("lidar")."""
        if depth not in ("dense", "lidar"):
            raise ValueError(f"depth must be 'dense' or 'lidar', got {depth!r}")
        if depth == "lidar" and self.lidar_m is None:
            raise ValueError("this frame has no LiDAR depth; render with SynthConfig(lidar=True)")
        d = self.depth_m if depth == "dense" else self.lidar_m
        return StereoSample(
            self.left, self.right, d, np.isfinite(d), self.K.copy(), self.baseline_m, f"synthetic:{self.seed}"
        )


def random_intrinsics(height: int, width: int, hfov_deg: tuple[float, float], seed: int) -> np.ndarray:
    """The random pinhole camera of ``seed`` (its own random stream: the scene of a seed does not change)."""
    rng = np.random.default_rng([int(seed), 0x4B])
    fx = 0.5 * width / np.tan(np.deg2rad(rng.uniform(*hfov_deg)) / 2.0)
    cx, cy = (np.array([width, height]) - 1) / 2.0 + rng.uniform(-0.03, 0.03, size=2) * (width, height)
    return np.array([[fx, 0.0, cx], [0.0, fx, cy], [0.0, 0.0, 1.0]])


class StereoSynthesizer:
    """Renders SynthFrames on the caller's device; textures are loaded once per instance."""

    def __init__(self, config: SynthConfig = SynthConfig(), device: torch.device | str = "cpu") -> None:
        LAYOUTS.get(config.layout)  # fail early on an unknown layout
        self.config = config
        self.device = torch.device(device)
        self.K = kitti_intrinsics(config.height, config.width)  # the camera when hfov_deg is None
        self._atlas: TextureAtlas | None = None
        self._dirs: dict[bytes, torch.Tensor] = {}
        self._tiles = raycast.tile_bundles(config.height, config.width, TILE_PX, self.device)

    @property
    def atlas(self) -> TextureAtlas:
        if self._atlas is None:
            self._atlas = TextureAtlas.build(self.device)
        return self._atlas

    def camera(self, seed: int) -> np.ndarray:
        """K (3x3 float64) of the frame rendered from ``seed``."""
        cfg = self.config
        if cfg.hfov_deg is None:
            return self.K.copy()
        return random_intrinsics(cfg.height, cfg.width, cfg.hfov_deg, seed)

    def scene(self, seed: int) -> Scene:
        """The random scene of this seed."""
        layout = LAYOUTS.get(self.config.layout)
        builder, look = layout(np.random.default_rng(seed), self.config.camera_height_m)
        return builder.build(self.device, **look)

    @torch.no_grad()
    def render(self, seed: int) -> SynthFrame:
        """Render the scene of `seed` from both cameras (and the LiDAR if configured)."""
        cfg, s, K = self.config, self.scene(seed), self.camera(seed)
        d = self._pixel_dirs(K) @ s.rig_R.T
        o_left = torch.zeros(1, 3, device=self.device)
        o_right = (s.rig_R @ torch.tensor([cfg.baseline_m, 0.0, 0.0], device=self.device))[None]
        views = [self._render_view(s, o, d, K) for o in (o_left, o_right)]
        lidar = self._lidar(s, K) if cfg.lidar else None
        (left, depth_l), (right, depth_r) = views
        return SynthFrame(left, right, depth_l, depth_r, lidar, K, float(cfg.baseline_m), int(seed))

    def _pixel_dirs(self, K: np.ndarray) -> torch.Tensor:
        """(H*W, 3) camera-frame ray directions with z = 1, row-major (cached per camera)."""
        key = K.tobytes()
        if key not in self._dirs:
            h, w = self.config.height, self.config.width
            v, u = torch.meshgrid(
                torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij"
            )
            dirs = torch.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], torch.ones_like(u)], -1)
            if len(self._dirs) >= 4:  # random cameras: keep the cache small
                self._dirs.clear()
            self._dirs[key] = dirs.reshape(-1, 3).to(torch.float32).to(self.device)
        return self._dirs[key]

    def _render_view(
        self, s: Scene, o: torch.Tensor, d: torch.Tensor, K: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        hit = raycast.intersect(s, o, d, self._tiles)
        hit.t = torch.where(hit.t <= self.config.max_depth_m, hit.t, torch.full_like(hit.t, float("inf")))
        hit.kind = torch.where(torch.isfinite(hit.t), hit.kind, torch.full_like(hit.kind, -1))
        rgb = shading.shade(s, self.atlas, o, d, hit, 1.0 / float(K[0, 0]), self._tiles)
        h, w = self.config.height, self.config.width
        img = (rgb * 255.0 + 0.5).clamp(0, 255).to(torch.uint8).reshape(h, w, 3).cpu().numpy()
        depth = torch.where(torch.isfinite(hit.t), hit.t, torch.full_like(hit.t, float("nan")))
        return img, depth.reshape(h, w).cpu().numpy().astype(np.float32)

    def _lidar(self, s: Scene, K: np.ndarray) -> np.ndarray:
        """Sparse depth from a 64-beam spinning LiDAR, projected into the left view, nearest point per pixel."""
        cfg = self.config
        h, w = cfg.height, cfg.width
        half_fov = np.arctan(max(K[0, 2] + 1, w - K[0, 2]) / K[0, 0])
        step_deg = max(LIDAR_AZIMUTH_STEP_DEG, 0.5 * np.rad2deg(1.0 / K[0, 0]))  # <= 2 points per pixel
        az = np.deg2rad(np.arange(-np.rad2deg(half_fov), np.rad2deg(half_fov), step_deg))
        el = np.deg2rad(lidar_elevations_deg(cfg.lidar_beams))
        A, E = np.meshgrid(az, el)
        dirs = np.stack([np.tan(A), -np.tan(E) / np.cos(A), np.ones_like(A)], -1).reshape(-1, 3)
        off = np.asarray(cfg.lidar_offset_m, dtype=np.float64)
        pts_dir = off[None] + dirs  # keep rays whose direction lands in the image (with margin)
        u = K[0, 0] * pts_dir[:, 0] / pts_dir[:, 2] + K[0, 2]
        v = K[1, 1] * pts_dir[:, 1] / pts_dir[:, 2] + K[1, 2]
        dirs = dirs[(u > -2) & (u < w + 1) & (v > -2) & (v < h + 1)]
        R = s.rig_R
        d = torch.from_numpy(dirs).to(torch.float32).to(self.device) @ R.T
        o = (R @ torch.from_numpy(off).to(torch.float32).to(self.device))[None]
        hit = raycast.intersect(s, o, d, raycast.chunk_bundles(len(d), 64, self.device))
        t = hit.t.cpu().numpy().astype(np.float64)
        ok = np.isfinite(t) & (t <= cfg.max_depth_m)
        pts = off[None] + t[ok, None] * dirs[ok]  # left-camera frame
        return project_to_depth(pts, np.eye(4), K, h, w)


class SyntheticStereo:
    """A reader of n synthetic samples; sample i is rendered from seed + i (picklable for DataLoader workers).

    depth: "dense" (exact depth, NaN sky) or "lidar" (64-beam sparse depth) as the sample's depth_m.
    hfov_deg: (lo, hi) for a random camera per sample (see SynthConfig), None for KITTI's camera.
    camera_height_m: (lo, hi) camera height above the road/floor, None for the layout's own range.
    """

    def __init__(
        self,
        n: int,
        size: tuple[int, int] = (192, 640),
        seed: int = 0,
        layout: str = "street",
        depth: str = "dense",
        baseline_m: float = KITTI_BASELINE_M,
        device: str = "cpu",
        hfov_deg: tuple[float, float] | None = None,
        camera_height_m: tuple[float, float] | None = None,
    ) -> None:
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if depth not in ("dense", "lidar"):
            raise ValueError(f"depth must be 'dense' or 'lidar', got {depth!r}")
        self.n, self.seed, self.depth, self.device = int(n), int(seed), depth, device
        self.config = SynthConfig(
            height=int(size[0]),
            width=int(size[1]),
            layout=layout,
            baseline_m=float(baseline_m),
            lidar=depth == "lidar",
            hfov_deg=None if hfov_deg is None else (float(hfov_deg[0]), float(hfov_deg[1])),
            camera_height_m=None
            if camera_height_m is None
            else (float(camera_height_m[0]), float(camera_height_m[1])),
        )
        LAYOUTS.get(layout)
        self._synth: StereoSynthesizer | None = None

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> StereoSample:
        if not -self.n <= i < self.n:
            raise IndexError(f"sample {i} out of range for {self.n} synthetic samples")
        if self._synth is None:
            self._synth = StereoSynthesizer(self.config, self.device)
        return self._synth.render(self.seed + (i % self.n)).to_sample(self.depth)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_synth"] = None  # textures are rebuilt in each worker
        return state


def render_to_folder(
    synth: StereoSynthesizer,
    out,
    seed0: int,
    n: int,
    *,
    first: int = 0,
    resume: bool = False,
    desc: str = "synth",
    **meta,
) -> int:
    """Render frames ``first .. n - 1`` (frame i from seed ``seed0 + i``) into the folder-stereo layout at
    ``out``; returns how many were written. ``resume`` keeps frames whose files all exist; ``meta`` goes
    into calib.yaml."""
    from pathlib import Path

    from tqdm import tqdm

    from adu_depth_core.data.folder import write_calib, write_frame_calib, write_sample

    out, cfg = Path(out), synth.config
    write_calib(out, synth.K, cfg.baseline_m, cfg.height, cfg.width, **meta)
    names = ("left", "right", "depth") + (("lidar",) if cfg.lidar else ())
    done = 0
    for i in tqdm(range(first, n), desc=desc, unit="frame"):
        stem = f"{i:06d}"
        if resume and all(
            (out / d / f"{stem}.{'npy' if d in ('depth', 'lidar') else 'png'}").exists() for d in names
        ):
            continue
        frame = synth.render(seed0 + i)
        if cfg.hfov_deg is not None:  # before the images: a frame whose images exist always has its K
            write_frame_calib(out, stem, frame.K, frame.baseline_m)
        write_sample(out, stem, frame.to_sample(), **({"lidar": frame.lidar_m} if cfg.lidar else {}))
        done += 1
    return done
