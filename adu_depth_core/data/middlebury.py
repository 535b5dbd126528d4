"""The Middlebury 2014 "Motorcycle" pair shipped with scikit-image, with its calibration.

skimage.data.stereo_motorcycle() is quarter resolution (500 x 741); its docstring gives
f = 994.978 px, principal point (311.193, 254.877) px, doffs = 31.086 px (the right camera's cx is
larger by doffs) and baseline 193.001 mm; depth_m = f * B / (disparity + doffs); inf disparity = invalid.

With align_right=True (default) the right image is shifted left by doffs so that both views share
the left K, as the StereoSample contract says; disparity_px = f * baseline_m / depth_m then holds
between the images. The columns shifted in from outside the right image are black.
"""

from __future__ import annotations

import cv2
import numpy as np

from adu_depth_core.data.sample import StereoSample

FOCAL_PX = 994.978
CX_PX, CY_PX = 311.193, 254.877
DOFFS_PX = 31.086
BASELINE_M = 0.193001


def motorcycle_intrinsics() -> np.ndarray:
    """K of the left view of the quarter-resolution Motorcycle pair."""
    return np.array([[FOCAL_PX, 0.0, CX_PX], [0.0, FOCAL_PX, CY_PX], [0.0, 0.0, 1.0]])


def disparity_to_depth(disparity_px: np.ndarray) -> np.ndarray:
    """Middlebury depth in metres (float32, NaN where the disparity is not finite)."""
    d = np.asarray(disparity_px, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        depth = FOCAL_PX * BASELINE_M / (d + DOFFS_PX)
    depth[~np.isfinite(d)] = np.nan
    return depth.astype(np.float32)


class MiddleburyMotorcycle:
    """A one-sample reader of the Motorcycle pair (real images, real dense ground truth, 2.1-5.0 m)."""

    def __init__(self, align_right: bool = True) -> None:
        self.align_right = align_right

    def __len__(self) -> int:
        return 1

    def __getitem__(self, i: int) -> StereoSample:
        if i not in (0, -1):
            raise IndexError(f"the Middlebury reader has one sample, asked for {i}")
        try:
            import skimage.data
        except ImportError as exc:  # pragma: no cover - scikit-image is in the train extra
            raise ImportError(
                "the Middlebury pair ships with scikit-image: pip install 'scikit-image>=0.22'"
            ) from exc
        left, right, disparity = skimage.data.stereo_motorcycle()
        if self.align_right:
            shift = np.float32([[1.0, 0.0, DOFFS_PX], [0.0, 1.0, 0.0]])
            right = cv2.warpAffine(
                right,
                shift,
                (right.shape[1], right.shape[0]),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=0,
            )
        depth = disparity_to_depth(disparity)
        return StereoSample(
            np.ascontiguousarray(left),
            np.ascontiguousarray(right),
            depth,
            np.isfinite(depth),
            motorcycle_intrinsics(),
            BASELINE_M,
            "skimage.data.stereo_motorcycle",
        )


def read_cones(root: str) -> dict[str, np.ndarray]:
    """The Middlebury 2003 "Cones" quarter-size pair as published (no calibration is published for it).

    Returns left/right (H, W, 3) uint8 RGB, ``disparity`` (H, W) float32 ground truth of the left view in
    pixels (0 = unknown) and ``nonoccluded`` (H, W) bool.
    """
    from pathlib import Path

    from adu_depth_core.data.sample import DataError

    root = Path(root)
    arrays = {}
    for key, name in (
        ("left", "left_rgb.tif"),
        ("right", "right_rgb.tif"),
        ("disparity", "Cones_LEFT_GT.tif"),
        ("occlusion", "Occlusion_LEFT.png"),
    ):
        img = cv2.imread(str(root / name), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise DataError(f"missing or unreadable Middlebury Cones file: {root / name}")
        arrays[key] = img
    rgb = [np.clip(arrays[k][..., ::-1], 0, 255).round().astype(np.uint8) for k in ("left", "right")]
    occ = arrays["occlusion"]
    return {
        "left": np.ascontiguousarray(rgb[0]),
        "right": np.ascontiguousarray(rgb[1]),
        "disparity": arrays["disparity"].astype(np.float32),
        "nonoccluded": (occ[..., 0] if occ.ndim == 3 else occ) > 128,
    }


CONES_NOMINAL_FX_PX = 450.0  # no calibration is published: a nominal camera (fx = image width)
CONES_NOMINAL_FB_PX_M = 100.0  # nominal fx * baseline: depth 1.8-18 "m" over the 5.5-55 px disparities


class MiddleburyCones:
    """Cones as one StereoSample with a *nominal* camera (fx = 450 px, fx·B = 100 px·m): its depth
    (fx·B / disparity) is right only up to scale, so score it median-scaled or scale-invariant (SILog)."""

    def __init__(self, root: str) -> None:
        cones = read_cones(root)
        disp = cones["disparity"]
        valid = disp > 0
        depth = np.where(valid, CONES_NOMINAL_FB_PX_M / np.maximum(disp, 1e-6), np.nan).astype(np.float32)
        h, w = disp.shape
        fx = CONES_NOMINAL_FX_PX
        K = np.array([[fx, 0.0, (w - 1) / 2], [0.0, fx, (h - 1) / 2], [0.0, 0.0, 1.0]])
        self.sample = StereoSample(
            cones["left"],
            cones["right"],
            depth,
            valid,
            K,
            CONES_NOMINAL_FB_PX_M / fx,
            f"middlebury2003:cones:{root}",
        )

    def __len__(self) -> int:
        return 1

    def __getitem__(self, i: int) -> StereoSample:
        if i not in (0, -1):
            raise IndexError(f"sample {i} out of range: Cones is one pair")
        return self.sample
