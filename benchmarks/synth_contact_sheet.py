"""Contact sheet of the synthetic generator: street, room and workshop samples, each as RGB over its depth map.

    python benchmarks/synth_contact_sheet.py                          # docs/images/synth_contact_sheet.jpg
    python benchmarks/synth_contact_sheet.py --n 12 --size 128x384 --seed 0 --out sheet.jpg

Each sample is rendered from its own seed with a random camera (field of view 40-100 degrees) and the
camera effects of data/augment.py (exposure, white balance, vignetting, blur, noise, JPEG); depth is
the exact ray-cast depth, colour-mapped on a log scale (black = sky, no depth).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from adu_depth_core.data.augment import AugmentConfig, camera_effects
from adu_depth_core.data.synthetic import StereoSynthesizer, SynthConfig
from adu_depth_core.train.visualize import colorize

EFFECTS = AugmentConfig(
    camera_effects_prob=1.0,
    exposure_ev=0.7,
    white_balance=0.12,
    vignette=0.35,
    blur_sigma_px=1.0,
    noise_std=4.0,
    jpeg_quality_min=50,
)

DEPTH_MAX_M = {"street": 80.0, "room": 30.0, "workshop": 8.0}  # far end of each layout's colour scale


def tile(layout: str, seed: int, size: tuple[int, int]) -> np.ndarray:
    """One sample: the left image with camera effects above its depth map, (2H, W, 3) uint8."""
    synth = StereoSynthesizer(
        SynthConfig(height=size[0], width=size[1], layout=layout, hfov_deg=(40.0, 100.0))
    )
    sample = synth.render(seed).to_sample()
    sample = camera_effects(sample, EFFECTS, np.random.default_rng(seed))
    depth = colorize(sample.depth_m, 0.5, DEPTH_MAX_M[layout], log=True)
    return np.concatenate([sample.left, depth], axis=0)


def contact_sheet(n: int, size: tuple[int, int], seed: int, columns: int = 3) -> np.ndarray:
    """n samples, a street, a room and a workshop in turn, in a grid with `columns` columns."""
    layouts = list(DEPTH_MAX_M)
    tiles = [tile(layouts[i % len(layouts)], seed + i, size) for i in range(n)]
    tiles += [np.zeros_like(tiles[0])] * (-n % columns)
    pad = lambda t: cv2.copyMakeBorder(t, 2, 2, 2, 2, cv2.BORDER_CONSTANT, value=(255, 255, 255))  # noqa: E731
    rows = [
        np.concatenate([pad(t) for t in tiles[r : r + columns]], 1) for r in range(0, len(tiles), columns)
    ]
    return np.concatenate(rows, 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=12, help="number of samples (default 12)")
    parser.add_argument("--size", default="128x384", help="HxW of each render (default 128x384)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first sample (default 0)")
    parser.add_argument("--quality", type=int, default=80, help="JPEG quality (default 80)")
    parser.add_argument("--out", default="docs/images/synth_contact_sheet.jpg", help="output JPEG")
    args = parser.parse_args(argv)
    h, w = (int(x) for x in args.size.lower().split("x"))
    sheet = contact_sheet(args.n, (h, w), args.seed)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(args.out, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, args.quality])
    print(
        f"wrote {args.out}: {sheet.shape[1]}x{sheet.shape[0]}, {Path(args.out).stat().st_size / 1024:.0f} KB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
