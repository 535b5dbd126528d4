"""The one sample layout every reader yields, and the error bad data raises."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


class DataError(RuntimeError):
    """A data file is missing, unreadable, truncated or of the wrong size; the message names it."""


@dataclass
class StereoSample:
    """One rectified stereo sample (the training batch contract).

    left:      (H, W, 3) uint8 RGB, the reference view.
    right:     (H, W, 3) uint8 RGB of the camera at +baseline_m along the left camera's x axis, or None.
    depth_m:   (H, W) float32 z-depth in metres for the left view, NaN where invalid, or None.
    valid:     (H, W) bool, True where depth_m is usable, or None (when depth_m is None).
    K:         (3, 3) float64 pinhole intrinsics of the left view (the right view has the same K).
    baseline_m: stereo baseline in metres (disparity_px = K[0, 0] * baseline_m / depth_m).
    source_id: where the sample came from (file path, bag stamp, seed), for logs and error messages.
    """

    left: np.ndarray
    right: np.ndarray | None
    depth_m: np.ndarray | None
    valid: np.ndarray | None
    K: np.ndarray
    baseline_m: float
    source_id: str

    @property
    def height(self) -> int:
        return int(self.left.shape[0])

    @property
    def width(self) -> int:
        return int(self.left.shape[1])

    def replace(self, **changes) -> StereoSample:
        """A copy with some fields changed (dataclasses.replace)."""
        return replace(self, **changes)

    def validate(self) -> StereoSample:
        """Check shapes and dtypes against the contract; raise DataError naming the source if wrong."""
        h, w = self.left.shape[:2]
        _expect(
            self.left.ndim == 3 and self.left.shape[2] == 3 and self.left.dtype == np.uint8,
            self.source_id,
            "left",
            f"(H, W, 3) uint8, got {self.left.shape} {self.left.dtype}",
        )
        if self.right is not None:
            _expect(
                self.right.shape == self.left.shape and self.right.dtype == np.uint8,
                self.source_id,
                "right",
                f"{self.left.shape} uint8 like left, got {self.right.shape} {self.right.dtype}",
            )
        if self.depth_m is not None:
            _expect(
                self.depth_m.shape == (h, w) and self.depth_m.dtype == np.float32,
                self.source_id,
                "depth_m",
                f"({h}, {w}) float32, got {self.depth_m.shape} {self.depth_m.dtype}",
            )
            _expect(
                self.valid is not None and self.valid.shape == (h, w) and self.valid.dtype == np.bool_,
                self.source_id,
                "valid",
                f"({h}, {w}) bool mask alongside depth_m",
            )
        _expect(
            np.shape(self.K) == (3, 3)
            and np.isfinite(self.K).all()
            and self.K[0, 0] > 0
            and self.K[1, 1] > 0,
            self.source_id,
            "K",
            f"a finite 3x3 matrix with positive focal lengths, got {self.K!r}",
        )
        _expect(np.isfinite(self.baseline_m), self.source_id, "baseline_m", "a finite number")
        return self


def _expect(ok: bool, source_id: str, field: str, what: str) -> None:
    if not ok:
        raise DataError(f"{source_id}: {field} should be {what}")


def make_valid(depth_m: np.ndarray) -> np.ndarray:
    """Valid mask of a NaN-invalid depth map: finite and positive."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(depth_m) & (depth_m > 0)


def crop_sample(sample: StereoSample, y0: int, x0: int, h: int, w: int) -> StereoSample:
    """Crop both views and the depth at the same window; the principal point moves with it."""
    H, W = sample.height, sample.width
    if min(y0, x0) < 0 or y0 + h > H or x0 + w > W:
        raise DataError(f"{sample.source_id}: crop {h}x{w} at ({y0}, {x0}) does not fit in {H}x{W}")
    win = (slice(y0, y0 + h), slice(x0, x0 + w))
    K = np.array(sample.K, dtype=np.float64, copy=True)
    K[0, 2] -= x0
    K[1, 2] -= y0
    return sample.replace(
        left=np.ascontiguousarray(sample.left[win]),
        right=None if sample.right is None else np.ascontiguousarray(sample.right[win]),
        depth_m=None if sample.depth_m is None else np.ascontiguousarray(sample.depth_m[win]),
        valid=None if sample.valid is None else np.ascontiguousarray(sample.valid[win]),
        K=K,
    )
