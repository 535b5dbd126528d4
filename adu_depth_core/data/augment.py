"""Training augmentation that keeps the stereo geometry right.

- hflip: mirrors both views AND swaps them (the mirrored right view becomes the new left), so the
  new right camera is still at +baseline; the depth is re-projected into the old right view first.
- random crop: same window in both views and the depth; the principal point moves with it.
- photometric jitter: one draw of gamma/brightness/contrast/saturation/hue applied to both views.
- camera effects (off by default): exposure, white balance, vignetting, defocus blur, sensor noise and
  JPEG compression, as a real camera adds them; one draw for both views (noise drawn per view), so
  synthetic frames look less clean. Geometry is untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from adu_depth_core.data.sample import StereoSample, crop_sample, make_valid


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation; every field has a 'no-op' value (0, 1 or False)."""

    flip_prob: float = 0.5
    random_crop: bool = True  # random crop window in StereoDataset (else centred)
    scale_range: tuple[float, float] = (1.0, 1.0)  # extra zoom before cropping (>= 1)
    gamma: tuple[float, float] = (0.9, 1.1)
    brightness: float = 0.2  # factor in [1 - b, 1 + b]
    contrast: float = 0.2
    saturation: float = 0.2
    hue_deg: float = 5.0
    # camera effects, applied with probability camera_effects_prob (each 0 = off)
    camera_effects_prob: float = 0.0
    exposure_ev: float = 0.0  # exposure change drawn in [-ev, +ev] stops
    white_balance: float = 0.0  # per-channel gain in [1 - wb, 1 + wb]
    vignette: float = 0.0  # corner darkening up to this fraction
    blur_sigma_px: float = 0.0  # Gaussian defocus sigma drawn in [0, this]
    noise_std: float = 0.0  # sensor noise std drawn in [0, this] grey levels (shot + read)
    jpeg_quality_min: int = 100  # JPEG quality drawn in [this, 100]; 100 = no compression

    def __post_init__(self) -> None:
        if not 0.0 <= self.flip_prob <= 1.0:
            raise ValueError(f"flip_prob must be in [0, 1], got {self.flip_prob}")
        if min(self.scale_range) < 1.0 or self.scale_range[0] > self.scale_range[1]:
            raise ValueError(f"scale_range must be (lo, hi) with 1 <= lo <= hi, got {self.scale_range}")


def reproject_to_right(
    depth_m: np.ndarray, valid: np.ndarray, K: np.ndarray, baseline_m: float
) -> np.ndarray:
    """Left-view depth splatted into the right view (nearest surface wins, holes = NaN)."""
    h, w = depth_m.shape
    v, u = np.nonzero(valid)
    z = depth_m[v, u].astype(np.float64)
    ur = u - K[0, 0] * baseline_m / z
    out = np.full(h * w, np.inf)
    for col in (np.floor(ur), np.floor(ur) + 1):  # both neighbours: no cracks on slanted surfaces
        ok = (col >= 0) & (col < w) & (np.abs(col - ur) < 1.0)
        np.minimum.at(out, v[ok] * w + col[ok].astype(np.int64), z[ok])
    out[np.isinf(out)] = np.nan
    return out.reshape(h, w).astype(np.float32)


def hflip(sample: StereoSample) -> StereoSample:
    """Mirror the sample; a stereo pair is also swapped so the right camera stays at +baseline."""
    K = np.array(sample.K, dtype=np.float64, copy=True)
    K[0, 2] = sample.width - 1 - K[0, 2]
    depth, valid = sample.depth_m, sample.valid
    if sample.right is None:
        left, right = sample.left[:, ::-1], None
    else:
        left, right = sample.right[:, ::-1], sample.left[:, ::-1]
        if depth is not None:
            depth = reproject_to_right(depth, valid, sample.K, sample.baseline_m)
            valid = make_valid(depth)
    return sample.replace(
        left=np.ascontiguousarray(left),
        right=None if right is None else np.ascontiguousarray(right),
        depth_m=None if depth is None else np.ascontiguousarray(depth[:, ::-1]),
        valid=None if valid is None else np.ascontiguousarray(valid[:, ::-1]),
        K=K,
    )


def random_crop(sample: StereoSample, size: tuple[int, int], rng: np.random.Generator) -> StereoSample:
    """A random size=(h, w) window, the same in both views."""
    h, w = size
    y0 = int(rng.integers(0, sample.height - h + 1))
    x0 = int(rng.integers(0, sample.width - w + 1))
    return crop_sample(sample, y0, x0, h, w)


@dataclass(frozen=True)
class Photometric:
    """One draw of photometric parameters, applied identically to every view."""

    gamma: float = 1.0
    brightness: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0
    hue_deg: float = 0.0

    @classmethod
    def draw(cls, cfg: AugmentConfig, rng: np.random.Generator) -> Photometric:
        return cls(
            gamma=float(rng.uniform(*cfg.gamma)),
            brightness=float(rng.uniform(1 - cfg.brightness, 1 + cfg.brightness)),
            contrast=float(rng.uniform(1 - cfg.contrast, 1 + cfg.contrast)),
            saturation=float(rng.uniform(1 - cfg.saturation, 1 + cfg.saturation)),
            hue_deg=float(rng.uniform(-cfg.hue_deg, cfg.hue_deg)),
        )

    def apply(self, rgb: np.ndarray, mean_grey: float) -> np.ndarray:
        """(H, W, 3) uint8 -> uint8; mean_grey is shared by the views so contrast acts the same on both."""
        x = (rgb.astype(np.float32) / 255.0) ** self.gamma * self.brightness
        x = (x - mean_grey) * self.contrast + mean_grey
        if self.hue_deg:
            x = _rotate_hue(x, self.hue_deg)
        grey = x @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        x = grey[..., None] + (x - grey[..., None]) * self.saturation
        return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _rotate_hue(x: np.ndarray, deg: float) -> np.ndarray:
    """Rotate chroma in YIQ space by deg degrees."""
    to_yiq = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32)
    c, s = np.cos(np.deg2rad(deg)), np.sin(np.deg2rad(deg))
    rot = np.array([[1, 0, 0], [0, c, -s], [0, s, c]], np.float32)
    m = np.linalg.inv(to_yiq) @ rot @ to_yiq
    return x @ m.T.astype(np.float32)


def photometric(sample: StereoSample, params: Photometric) -> StereoSample:
    """Apply the same photometric change to both views."""
    mean_grey = float(cv2.cvtColor(sample.left, cv2.COLOR_RGB2GRAY).mean() / 255.0) ** params.gamma
    mean_grey *= params.brightness
    return sample.replace(
        left=params.apply(sample.left, mean_grey),
        right=None if sample.right is None else params.apply(sample.right, mean_grey),
    )


def camera_effects(sample: StereoSample, cfg: AugmentConfig, rng: np.random.Generator) -> StereoSample:
    """Exposure, white balance, vignetting, blur, noise and JPEG, one draw for both views."""
    h, w = sample.height, sample.width
    gain = 2.0 ** rng.uniform(-cfg.exposure_ev, cfg.exposure_ev) * rng.uniform(
        1 - cfg.white_balance, 1 + cfg.white_balance, size=3
    )
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - (w - 1) / 2) ** 2 + (yy - (h - 1) / 2) ** 2) / (((w - 1) / 2) ** 2 + ((h - 1) / 2) ** 2)
    shade = (1.0 - rng.uniform(0, cfg.vignette) * r2)[..., None] * gain.astype(np.float32)
    sigma = rng.uniform(0, cfg.blur_sigma_px)
    noise = rng.uniform(0, cfg.noise_std)
    quality = int(rng.integers(min(cfg.jpeg_quality_min, 100), 101))

    def one(rgb: np.ndarray) -> np.ndarray:
        x = rgb.astype(np.float32) * shade
        if sigma > 0.3:
            x = cv2.GaussianBlur(x, (0, 0), sigma)
        if noise > 0:
            x += rng.normal(0.0, 1.0, x.shape).astype(np.float32) * np.sqrt(noise**2 + 0.05 * noise * x)
        out = np.clip(x + 0.5, 0, 255).astype(np.uint8)
        if quality < 100:
            ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
            out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if ok else out
        return out

    return sample.replace(left=one(sample.left), right=None if sample.right is None else one(sample.right))


def augment(sample: StereoSample, cfg: AugmentConfig, rng: np.random.Generator) -> StereoSample:
    """Flip (with stereo swap), photometric jitter and camera effects; cropping is done by StereoDataset."""
    if rng.random() < cfg.flip_prob:
        sample = hflip(sample)
    sample = photometric(sample, Photometric.draw(cfg, rng))
    if cfg.camera_effects_prob > 0 and rng.random() < cfg.camera_effects_prob:
        sample = camera_effects(sample, cfg, rng)
    return sample
