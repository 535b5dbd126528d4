"""Real textures from scikit-image as a mip-mapped atlas, sampled trilinearly in torch.

Grey textures (brick, grass, gravel, ...) are normalised to mean 1 so a primitive's tint sets its
colour; photos (astronaut, coffee, ...) keep their colours. Every texture tiles by mirrored repeat,
so any (u, v) in tile units is valid and seamless.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

TEXTURE_SIZE = 256
# name -> (skimage.data function, grey?)
TEXTURE_SOURCES: dict[str, tuple[str, bool]] = {
    "gravel": ("gravel", True),
    "brick": ("brick", True),
    "grass": ("grass", True),
    "camera": ("camera", True),
    "moon": ("moon", True),
    "coins": ("coins", True),
    "astronaut": ("astronaut", False),
    "coffee": ("coffee", False),
    "chelsea": ("chelsea", False),
    "rocket": ("rocket", False),
    "hubble": ("hubble_deep_field", False),
    "ihc": ("immunohistochemistry", False),
}
TEXTURE_IDS: dict[str, int] = {name: i for i, name in enumerate(TEXTURE_SOURCES)}
PHOTO_TEXTURES = tuple(n for n, (_, grey) in TEXTURE_SOURCES.items() if not grey)


def _load_texture(name: str) -> np.ndarray:
    """(S, S, 3) float32 texture: grey ones with mean 1 (contrast kept), photos in [0, 1]."""
    try:
        import skimage.data
    except ImportError as exc:  # pragma: no cover - scikit-image is in the train extra
        raise ImportError("synthetic scenes need scikit-image: pip install 'scikit-image>=0.22'") from exc
    func, grey = TEXTURE_SOURCES[name]
    img = np.asarray(getattr(skimage.data, func)(), dtype=np.float32)
    if img.max() > 1.5:
        img = img / 255.0
    h, w = img.shape[:2]
    side = min(h, w)  # centre square, then resize
    img = img[(h - side) // 2 : (h - side) // 2 + side, (w - side) // 2 : (w - side) // 2 + side]
    img = cv2.resize(img, (TEXTURE_SIZE, TEXTURE_SIZE), interpolation=cv2.INTER_AREA)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = img[:, :, :3]
    if grey:
        img = img / max(float(img.mean()), 1e-3)  # mean 1
    return np.ascontiguousarray(img, dtype=np.float32)


@dataclass
class TextureAtlas:
    """All textures at all mip levels, flattened: texel (level l, tex t, y, x) is row
    offsets[l] + (t * sizes[l] + y) * sizes[l] + x of `texels` (N, 3)."""

    texels: torch.Tensor
    offsets: torch.Tensor  # (L,) int64
    sizes: torch.Tensor  # (L,) int64
    n_levels: int

    @classmethod
    def build(cls, device: torch.device | str) -> TextureAtlas:
        base = np.stack([_load_texture(name) for name in TEXTURE_SOURCES])  # (T, S, S, 3)
        levels, offsets, sizes, total = [], [], [], 0
        level = base
        while True:
            levels.append(level.reshape(-1, 3))
            offsets.append(total)
            sizes.append(level.shape[1])
            total += levels[-1].shape[0]
            if level.shape[1] == 1:
                break
            level = 0.25 * (
                level[:, 0::2, 0::2] + level[:, 1::2, 0::2] + level[:, 0::2, 1::2] + level[:, 1::2, 1::2]
            )
        return cls(
            texels=torch.from_numpy(np.concatenate(levels)).to(device),
            offsets=torch.tensor(offsets, dtype=torch.int64, device=device),
            sizes=torch.tensor(sizes, dtype=torch.int64, device=device),
            n_levels=len(sizes),
        )

    def sample(
        self, tex: torch.Tensor, u: torch.Tensor, v: torch.Tensor, level: torch.Tensor
    ) -> torch.Tensor:
        """Trilinear sample: tex (N,) ids, (u, v) (N,) in tile units, level (N,) float mip level -> (N, 3)."""
        level = level.clamp(0.0, self.n_levels - 1.0)
        l0 = level.floor().long()
        l1 = (l0 + 1).clamp(max=self.n_levels - 1)
        w1 = (level - l0.to(level.dtype)).unsqueeze(1)
        return self._bilinear(tex, u, v, l0) * (1 - w1) + self._bilinear(tex, u, v, l1) * w1

    def _bilinear(
        self, tex: torch.Tensor, u: torch.Tensor, v: torch.Tensor, lvl: torch.Tensor
    ) -> torch.Tensor:
        size = self.sizes[lvl]
        x = u * size - 0.5
        y = v * size - 0.5
        x0f, y0f = x.floor(), y.floor()
        fx, fy = (x - x0f).unsqueeze(1), (y - y0f).unsqueeze(1)
        x0, y0 = x0f.long(), y0f.long()
        base = self.offsets[lvl] + tex * size * size
        xs = (_mirror(x0, size), _mirror(x0 + 1, size))
        ys = (_mirror(y0, size) * size, _mirror(y0 + 1, size) * size)
        t = self.texels

        def at(row: torch.Tensor, col: torch.Tensor) -> torch.Tensor:
            return t.index_select(0, base + row + col)  # much faster than advanced indexing on CPU

        top = at(ys[0], xs[0]) * (1 - fx) + at(ys[0], xs[1]) * fx
        bottom = at(ys[1], xs[0]) * (1 - fx) + at(ys[1], xs[1]) * fx
        return top * (1 - fy) + bottom * fy


def _mirror(i: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    """Mirrored-repeat texel index in [0, size)."""
    period = 2 * size
    i = torch.remainder(i, period)
    return torch.where(i >= size, period - 1 - i, i)
