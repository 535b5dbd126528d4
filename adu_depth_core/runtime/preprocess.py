"""Image in, network tensor out, and back: pure numpy + OpenCV (no torch).

The network takes ``1 x 3 x H x W`` float32 RGB in ``[0, 1]`` at the size in its
model card (it normalises with ImageNet mean/std internally). Any input image
is resized to that size (aspect ratio is not kept: the intrinsics helper
rescales fx and fy separately, so geometry stays exact).
"""

from __future__ import annotations

import cv2
import numpy as np


class ImageError(ValueError):
    """An input image that the runtime cannot use (wrong dtype, shape or size)."""


def check_image(image: np.ndarray) -> None:
    """Raise ImageError unless ``image`` is a non-empty H x W x 3 uint8 RGB array."""
    if not isinstance(image, np.ndarray):
        raise ImageError(f"expected a numpy array (H x W x 3 uint8 RGB), got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ImageError(
            f"expected an H x W x 3 RGB image, got shape {image.shape}; "
            "convert grey/RGBA/BGR images with cv2.cvtColor first"
        )
    if image.dtype != np.uint8:
        raise ImageError(f"expected dtype uint8 (0..255), got {image.dtype}; scale and cast the image first")
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise ImageError(f"image is too small ({image.shape[0]}x{image.shape[1]} pixels)")


def resize_image(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize an image: area averaging when shrinking (no aliasing), bilinear when enlarging."""
    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image
    shrink = height < h and width < w
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interp)


def preprocess(image: np.ndarray, height: int, width: int, dtype: type = np.float32) -> np.ndarray:
    """H x W x 3 uint8 RGB -> (1, 3, height, width) contiguous array in [0, 1] of ``dtype``."""
    check_image(image)
    resized = resize_image(image, height, width)
    chw = np.ascontiguousarray(resized.transpose(2, 0, 1))
    out = chw.astype(np.float32)
    out *= np.float32(1.0 / 255.0)
    return out[None].astype(dtype, copy=False)


def resize_map(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize an H x W float map (depth, sigma) with bilinear interpolation; NaN stays local."""
    values = np.asarray(values, dtype=np.float32)
    if values.shape == (height, width):
        return values
    return cv2.resize(values, (width, height), interpolation=cv2.INTER_LINEAR)


def postprocess(
    depth_m: np.ndarray, sigma_m: np.ndarray, out_size: tuple[int, int] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Network outputs (any of 1x1xhxw / 1xhxw / hxw) -> two H x W float32 maps at ``out_size`` (h, w).

    ``out_size=None`` keeps the network size.
    """
    depth = np.asarray(depth_m, dtype=np.float32).reshape(depth_m.shape[-2:])
    sigma = np.asarray(sigma_m, dtype=np.float32).reshape(sigma_m.shape[-2:])
    if out_size is None:
        return np.ascontiguousarray(depth), np.ascontiguousarray(sigma)
    h, w = out_size
    return resize_map(depth, h, w), resize_map(sigma, h, w)


def parse_network_size(text: str) -> tuple[int, int]:
    """``"192x640"`` -> (192, 640): a network input size, positive multiples of 32 (ValueError otherwise)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"size must look like HxW (e.g. 192x640), got '{text}'") from None
    if h <= 0 or w <= 0 or h % 32 or w % 32:
        raise ValueError(f"network input size must be positive multiples of 32, got {h}x{w}")
    return h, w
