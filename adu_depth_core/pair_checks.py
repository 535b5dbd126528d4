"""Pre-flight checks of unlabeled stereo pairs before the teacher adapts to them (or labels them).

Each check raises :class:`DataError` with what is wrong and what to do. The rectification check is a
heuristic on feature matches (documented in docs/robot_adaptation.md):

- ORB features of both views, brute-force Hamming matching with cross-check;
- in a rectified pair a match lies on the same row: the median vertical offset ``|y_r − y_l|`` of the
  matches is below ``max(2 px, 1 % of the height)`` (wrong matches are spread out and do not move the
  median while most matches are right);
- the right camera is at +baseline, so matches shift left in the right view: a median horizontal
  offset ``x_l − x_r`` below ``−tolerance`` means the views are swapped;
- with fewer than ``MIN_MATCHES`` matches (textureless, dark) the check cannot tell and says so.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from adu_depth_core.data.sample import DataError, StereoSample

LOG = logging.getLogger(__name__)
MIN_MATCHES = 30
MAX_FEATURES = 2000


@dataclass
class EpipolarCheck:
    """Feature-match statistics of one pair (pixels of the image)."""

    matches: int
    median_dy_px: float  # median |y_right − y_left|: ~0 when rectified
    median_dx_px: float  # median x_left − x_right: >= 0 with the right camera at +baseline
    tolerance_px: float

    @property
    def decided(self) -> bool:
        return self.matches >= MIN_MATCHES

    @property
    def rectified(self) -> bool:
        return not self.decided or self.median_dy_px <= self.tolerance_px

    @property
    def swapped(self) -> bool:
        return self.decided and self.median_dx_px < -self.tolerance_px


def epipolar_check(left: np.ndarray, right: np.ndarray) -> EpipolarCheck:
    """Match ORB features between the views and measure their vertical and horizontal offsets."""
    grey = [cv2.cvtColor(np.ascontiguousarray(im), cv2.COLOR_RGB2GRAY) for im in (left, right)]
    orb = cv2.ORB_create(nfeatures=MAX_FEATURES)
    (kp_l, des_l), (kp_r, des_r) = (orb.detectAndCompute(g, None) for g in grey)
    tol = max(2.0, 0.01 * left.shape[0])
    if des_l is None or des_r is None:
        return EpipolarCheck(0, math.nan, math.nan, tol)
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(des_l, des_r)
    if not matches:
        return EpipolarCheck(0, math.nan, math.nan, tol)
    pl = np.float32([kp_l[m.queryIdx].pt for m in matches])
    pr = np.float32([kp_r[m.trainIdx].pt for m in matches])
    return EpipolarCheck(
        len(matches),
        float(np.median(np.abs(pr[:, 1] - pl[:, 1]))),
        float(np.median(pl[:, 0] - pr[:, 0])),
        tol,
    )


def check_pair(sample: StereoSample, where: str = "", rectification: bool = True) -> EpipolarCheck | None:
    """Raise DataError if ``sample`` is not a usable rectified stereo pair with a calibration."""
    name = where or sample.source_id or "a pair"
    if sample.right is None:
        raise DataError(
            f"{name}: no right image; adapting the teacher needs rectified stereo pairs "
            "(folder datasets: right/<stem>.png beside each left/<stem>.png)"
        )
    if sample.right.shape != sample.left.shape:
        raise DataError(
            f"{name}: the right image is {sample.right.shape[0]}x{sample.right.shape[1]}, the left "
            f"{sample.left.shape[0]}x{sample.left.shape[1]}; rectified pairs have one size (re-export them)"
        )
    if sample.baseline_m is None or not np.isfinite(sample.baseline_m) or sample.baseline_m <= 0:
        raise DataError(
            f"{name}: baseline_m is {sample.baseline_m}; give the stereo baseline in metres "
            "(calib.yaml baseline_m, or bag-to-dataset --baseline-m)"
        )
    if not rectification:
        return None
    check = epipolar_check(sample.left, sample.right)
    if not check.rectified:
        raise DataError(
            f"{name}: the pair does not look rectified: matched features differ by {check.median_dy_px:.1f} px "
            f"vertically (median of {check.matches}; rectified pairs: under {check.tolerance_px:.1f} px). "
            "Rectify it (bag-to-dataset --rectify with calibrated camera_infos) or fix the calibration"
        )
    if check.swapped:
        raise DataError(
            f"{name}: features move right from the left to the right view (median {-check.median_dx_px:.1f} px): "
            "left and right look swapped; exchange the topics or folders"
        )
    return check


def check_pairs(reader: Sequence[StereoSample], max_pairs: int = 8, rectification: bool = True) -> dict:
    """Check up to ``max_pairs`` evenly spaced pairs of a reader; returns a summary for the user."""
    n = len(reader)
    if n == 0:
        raise DataError("the dataset holds no pairs")
    idx = sorted({int(round(v)) for v in np.linspace(0, n - 1, min(max_pairs, n))})
    checks = [check_pair(reader[i], f"pair {i}", rectification) for i in idx]
    decided = [c for c in checks if c is not None and c.decided]
    if rectification and not decided:
        LOG.warning(
            "too few feature matches to check rectification on %d pair(s); make sure they are", len(idx)
        )
    dy = [c.median_dy_px for c in decided]
    return {"pairs": n, "checked": len(idx), "median_dy_px": float(np.median(dy)) if dy else math.nan}
