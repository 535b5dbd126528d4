"""Stereo evaluation: the teacher's disparity on a real pair, OpenCV's SGBM as the classical baseline,
and the disparity metrics (end-point error, bad-N px) of the stereo literature.

Conventions: disparities are in pixels of the left image, invalid = NaN. Metrics are taken over
every ground-truth pixel; a prediction hole (NaN) counts as bad and is left out of the EPE (whose
density is reported next to it), as the Middlebury and KITTI benchmarks do for "all pixels".
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from adu_depth_core.stereo_refine import RefineConfig, refine_disparity

BAD_THRESHOLDS_PX = (1.0, 2.0, 3.0)


def disparity_metrics(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> dict[str, float]:
    """EPE (over predicted pixels), bad-1/2/3 px (holes bad) and density, over ``gt > 0`` (& mask)."""
    gt = np.asarray(gt, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    valid = np.isfinite(gt) & (gt > 0)
    if mask is not None:
        valid &= mask
    n = int(valid.sum())
    if n == 0:
        raise ValueError("no ground-truth pixels to evaluate")
    p, g = pred[valid], gt[valid]
    has = np.isfinite(p)
    err = np.abs(p - g)
    out = {"epe_px": float(err[has].mean()) if has.any() else math.nan, "density": float(has.mean())}
    for t in BAD_THRESHOLDS_PX:
        out[f"bad{t:g}"] = float(np.mean(~has | (err > t)))
    return out


def sgbm_disparity(
    left: np.ndarray, right: np.ndarray, max_disparity_px: float, block: int = 5
) -> np.ndarray:
    """OpenCV semi-global matching with a left-right check; (H, W) float32 pixels, NaN where rejected.

    Parameters are OpenCV's recommended ones for colour images (P1 = 8·3·b², P2 = 32·3·b²,
    uniqueness 10, speckle filtering, 3-way mode); the search covers ``max_disparity_px``.
    """
    num = int(math.ceil(max(16.0, max_disparity_px) / 16.0)) * 16
    sgbm = cv2.StereoSGBM_create(
        minDisparity=0,
        numDisparities=num,
        blockSize=block,
        P1=8 * 3 * block * block,
        P2=32 * 3 * block * block,
        disp12MaxDiff=1,
        uniquenessRatio=10,
        speckleWindowSize=100,
        speckleRange=2,
        mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY,
    )
    bgr = [cv2.cvtColor(np.ascontiguousarray(im), cv2.COLOR_RGB2BGR) for im in (left, right)]
    disp = sgbm.compute(*bgr).astype(np.float32) / 16.0  # fixed point, 4 fractional bits
    disp[disp < 0] = np.nan  # OpenCV marks rejected pixels with minDisparity - 1
    return disp


def network_size(
    image_hw: tuple[int, int], multiple: int = 32, max_width: int | None = None
) -> tuple[int, int]:
    """The image size (scaled down to ``max_width`` if wider) rounded to multiples of ``multiple``."""
    h, w = image_hw
    if max_width is not None and w > max_width:
        h, w = h * max_width / w, max_width
    return tuple(max(multiple, int(round(v / multiple)) * multiple) for v in (h, w))


def aspect_input_size(card_hw: tuple[int, int], image_hw: tuple[int, int]) -> tuple[int, int]:
    """A network input of about the card's pixel count with the image's aspect ratio (multiples of 32)."""
    pixels = card_hw[0] * card_hw[1]
    h = (pixels * image_hw[0] / image_hw[1]) ** 0.5
    return network_size((h, h * image_hw[1] / image_hw[0]))


def teacher_disparity(
    model,
    left: np.ndarray,
    right: np.ndarray,
    fx_px: float,
    baseline_m: float,
    input_hw: tuple[int, int] | None = None,
    max_width: int | None = None,
    refine: RefineConfig | None = None,
) -> dict[str, np.ndarray]:
    """A stereo teacher on a rectified uint8 RGB pair -> disparity (px of the image), depth (m), sigma (m)
    and confidence exp(-b) (the distillation's c_T before normalisation), each (H, W) float32.

    It runs at ``input_hw``, by default the image size scaled down to ``max_width`` and rounded to
    multiples of 32. Give the teacher's training width: on held-out synthetic scenes it is about 3x less
    accurate at twice that width. With ``refine``, the upsampled disparity is refined by local matching at
    the image's resolution (adu_depth_core.stereo_refine) and depth follows it; the network's own
    disparity stays as "network_disparity", and sigma and confidence stay the network's.
    """
    import torch

    from adu_depth_core.runtime.intrinsics import network_focal_px
    from adu_depth_core.runtime.preprocess import preprocess, resize_map

    h, w = left.shape[:2]
    net_hw = input_hw or network_size((h, w), max_width=max_width)
    device = next(model.parameters()).device
    fx_net = network_focal_px(fx_px, w, net_hw[1])
    x = [torch.from_numpy(preprocess(im, *net_hw)).to(device) for im in (left, right)]
    with torch.no_grad():
        out = model(*x, fx_net * float(baseline_m))
    disp = out["disparity"][0, 0].float().cpu().numpy() * (w / net_hw[1])  # back to image pixels
    depth = out["depth"][0, 0].float().cpu().numpy()
    b = torch.exp(out["log_b"][0, 0].float()).cpu().numpy()
    maps = {"disparity": disp, "depth": depth, "sigma": math.sqrt(2.0) * b * depth, "confidence": np.exp(-b)}
    maps = {k: resize_map(v, h, w) for k, v in maps.items()}
    if refine is not None:
        maps["network_disparity"] = maps["disparity"]
        maps["disparity"] = refine_disparity(left, right, maps["disparity"], w / net_hw[1], refine)
        depth = float(fx_px) * float(baseline_m) / np.maximum(maps["disparity"], 1e-6)
        maps["depth"] = np.clip(depth, model.min_depth, model.max_depth).astype(np.float32)
    return maps


@dataclass
class StereoPair:
    """A rectified real pair with ground-truth disparity (0 = unknown) for scoring a stereo method."""

    name: str
    left: np.ndarray
    right: np.ndarray
    disparity: np.ndarray
    fx_px: float  # any positive value when the pair has no published calibration (disparity is scored)
    baseline_m: float
    nonoccluded: np.ndarray | None = None
    depth_m: np.ndarray | None = None  # metric ground truth, when the calibration is known


def real_pairs(real_root: str | os.PathLike | None = None) -> list[StereoPair]:
    """Middlebury Motorcycle (ships with scikit-image) and, from ``real_root``, Middlebury Cones."""
    from adu_depth_core.data.middlebury import (
        CONES_NOMINAL_FB_PX_M,
        CONES_NOMINAL_FX_PX,
        MiddleburyMotorcycle,
        read_cones,
    )

    s = MiddleburyMotorcycle()[0]  # aligned pair: disparity = f B / z
    fb = s.K[0, 0] * s.baseline_m
    pairs = [
        StereoPair(
            "Motorcycle",
            s.left,
            s.right,
            np.nan_to_num(fb / s.depth_m),
            s.K[0, 0],
            s.baseline_m,
            None,
            s.depth_m,
        )
    ]
    if real_root is not None:
        c = read_cones(Path(real_root) / "middlebury2003_cones")
        fx, baseline_m = CONES_NOMINAL_FX_PX, CONES_NOMINAL_FB_PX_M / CONES_NOMINAL_FX_PX  # no calibration
        pairs.append(
            StereoPair("Cones", c["left"], c["right"], c["disparity"], fx, baseline_m, c["nonoccluded"])
        )
    return pairs


def score_disparity(disparity: np.ndarray, pair: StereoPair) -> dict[str, float]:
    """Disparity metrics over every ground-truth pixel (+ bad-3 on non-occluded pixels, + depth AbsRel
    with holes filled by the median depth when the pair is calibrated)."""
    from adu_depth_core.metrics import depth_metrics

    row = disparity_metrics(disparity, pair.disparity)
    if pair.nonoccluded is not None:
        row["bad3_nonocc"] = disparity_metrics(disparity, pair.disparity, pair.nonoccluded)["bad3"]
    if pair.depth_m is not None:
        ok = np.isfinite(disparity) & (disparity > 0)
        depth = np.where(ok, pair.fx_px * pair.baseline_m / np.maximum(disparity, 1e-6), np.nan)
        filled = np.where(np.isfinite(depth), depth, np.nanmedian(depth))
        row["abs_rel"] = depth_metrics(filled, pair.depth_m, max_depth=80.0)["abs_rel"]
    return row


def compare_with_sgbm(model, pairs: list[StereoPair], max_width: int | None) -> list[dict]:
    """Rows {pair, method, score_disparity(...)} for the teacher, the teacher refined at the image's
    resolution (default RefineConfig) and SGBM (search to 1.2x the largest true disparity) on each pair."""
    rows = []
    for p in pairs:
        teacher = teacher_disparity(
            model, p.left, p.right, p.fx_px, p.baseline_m, max_width=max_width, refine=RefineConfig()
        )
        preds = {
            "teacher": teacher["network_disparity"],
            "teacher + refine": teacher["disparity"],
            "SGBM": sgbm_disparity(p.left, p.right, float(np.max(p.disparity)) * 1.2),
        }
        rows += [{"pair": p.name, "method": m, **score_disparity(d, p)} for m, d in preds.items()]
    return rows
