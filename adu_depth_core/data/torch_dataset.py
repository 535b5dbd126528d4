"""StereoDataset: any reader of StereoSamples -> fixed-size dicts of tensors (the training batch contract).

Per item: resize so the image covers `size` (K scaled), crop to `size` (random with augmentation,
else centred; K shifted), optional flip/photometric augmentation, then tensors:
left/right (3, H, W) float [0, 1], depth (1, H, W) metres with 0 where invalid, valid (1, H, W) bool,
has_depth, has_right (bool), K (3, 3) float32, baseline_m (float), source_id (str).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import cv2
import numpy as np
import torch

from adu_depth_core.data.augment import AugmentConfig, augment
from adu_depth_core.data.sample import DataError, StereoSample, crop_sample, make_valid
from adu_depth_core.runtime.intrinsics import scale_intrinsics

log = logging.getLogger(__name__)


def resize_sample(sample: StereoSample, height: int, width: int) -> StereoSample:
    """Resize both views and the depth to height x width; K is scaled with them.

    Dense depth is resampled by nearest neighbour; sparse depth (under half valid) is re-projected
    point by point, nearest surface per target pixel, so no LiDAR point is smeared or lost to aliasing.
    """
    h, w = sample.height, sample.width
    if (h, w) == (height, width):
        return sample
    sx, sy = width / w, height / h
    interp = cv2.INTER_AREA if sx * sy < 1 else cv2.INTER_LINEAR
    img = lambda x: None if x is None else cv2.resize(x, (width, height), interpolation=interp)  # noqa: E731
    depth = valid = None
    if sample.depth_m is not None:
        d = np.where(sample.valid, sample.depth_m, np.float32(np.nan)).astype(np.float32)
        if sample.valid.mean() >= 0.5:
            depth = cv2.resize(d, (width, height), interpolation=cv2.INTER_NEAREST)
        else:
            depth = _resample_sparse(d, sample.valid, sx, sy, height, width)
        valid = make_valid(depth)
    return sample.replace(
        left=img(sample.left),
        right=img(sample.right),
        depth_m=depth,
        valid=valid,
        K=scale_intrinsics(sample.K, (h, w), (height, width)),
    )


def _resample_sparse(
    d: np.ndarray, valid: np.ndarray, sx: float, sy: float, height: int, width: int
) -> np.ndarray:
    v, u = np.nonzero(valid)
    z = d[v, u]
    tu = np.round((u + 0.5) * sx - 0.5).astype(np.int64).clip(0, width - 1)
    tv = np.round((v + 0.5) * sy - 0.5).astype(np.int64).clip(0, height - 1)
    out = np.full(height * width, np.inf, dtype=np.float32)
    np.minimum.at(out, tv * width + tu, z)
    out[np.isinf(out)] = np.nan
    return out.reshape(height, width)


def fit_to_size(
    sample: StereoSample, size: tuple[int, int], rng: np.random.Generator | None, zoom: float = 1.0
) -> StereoSample:
    """Resize (keeping the aspect ratio, times zoom) to cover size, then crop: random if rng, else centred."""
    th, tw = size
    scale = max(th / sample.height, tw / sample.width) * zoom
    h, w = max(th, int(round(sample.height * scale))), max(tw, int(round(sample.width * scale)))
    sample = resize_sample(sample, h, w)
    if rng is None:
        y0, x0 = (h - th) // 2, (w - tw) // 2
    else:
        y0, x0 = int(rng.integers(0, h - th + 1)), int(rng.integers(0, w - tw + 1))
    return crop_sample(sample, y0, x0, th, tw)


def to_tensors(sample: StereoSample) -> dict:
    """A StereoSample as the batch-contract dict of tensors."""
    h, w = sample.height, sample.width
    img = lambda x: torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))).float().div_(255.0)  # noqa: E731
    has_depth = sample.depth_m is not None
    valid = sample.valid if has_depth else np.zeros((h, w), dtype=bool)
    depth = (
        np.where(valid, sample.depth_m, 0.0).astype(np.float32) if has_depth else np.zeros((h, w), np.float32)
    )
    return {
        "left": img(sample.left),
        "right": img(sample.right) if sample.right is not None else torch.zeros(3, h, w),
        "depth": torch.from_numpy(depth)[None],
        "valid": torch.from_numpy(np.ascontiguousarray(valid))[None],
        "has_depth": has_depth,
        "has_right": sample.right is not None,
        "K": torch.from_numpy(np.asarray(sample.K, dtype=np.float32)),
        "baseline_m": float(sample.baseline_m),
        "source_id": sample.source_id,
    }


class StereoDataset(torch.utils.data.Dataset):
    """Fixed-size tensors from a reader (anything with __len__ and __getitem__ -> StereoSample).

    skip_bad: on a DataError, log a warning with the running count and use the next sample instead of dying.
    """

    def __init__(
        self,
        reader: Sequence[StereoSample],
        size: tuple[int, int] | None = None,
        augment: AugmentConfig | None = None,
        skip_bad: bool = False,
        max_skips: int = 100,
    ) -> None:
        self.reader = reader
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.augment = augment
        self.skip_bad = skip_bad
        self.max_skips = max_skips
        self.n_skipped = 0

    def __len__(self) -> int:
        return len(self.reader)

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,)).item())) if self.augment else None
        sample = self._load(index)
        if self.size is not None:
            zoom = rng.uniform(*self.augment.scale_range) if rng is not None else 1.0
            crop_rng = rng if (rng is not None and self.augment.random_crop) else None
            sample = fit_to_size(sample, self.size, crop_rng, zoom)
        if rng is not None:
            sample = augment(sample, self.augment, rng)
        return to_tensors(sample)

    def _load(self, index: int) -> StereoSample:
        n = len(self.reader)
        for attempt in range(min(n, self.max_skips + 1)):
            try:
                return self.reader[(index + attempt) % n].validate()
            except DataError as exc:
                if not self.skip_bad:
                    raise
                self.n_skipped += 1
                log.warning(
                    "skipping bad sample %d (%d skipped so far in this process): %s",
                    (index + attempt) % n,
                    self.n_skipped,
                    exc,
                )
        raise DataError(
            f"{min(n, self.max_skips + 1)} bad samples in a row from index {index}; check the data"
        )
