"""Choose the teacher's full-resolution refinement settings on synthetic stereo pairs only.

    python benchmarks/select_stereo_refine.py --json docs/results/camera/select_stereo_refine.json \\
        --figure docs/results/camera/stereo_refine.jpg

Renders the selection scenes (streets, rooms, workshops; seeds 20,000,000+) at ``--size`` (default
224x736: the teacher at 320 px then sees 2.3 image pixels per network pixel, as on a 741-px-wide pair),
applies one draw of camera effects per pair (gain, white balance, vignette, blur, independent noise per
view, JPEG), runs the teacher at ``--teacher-width`` and scores its upsampled disparity, SGBM and each
refinement setting on every ground-truth pixel within the teacher's disparity range (closer pixels, which
no setting can fix, are left out and counted): EPE, bad-1 and bad-3 px, and seconds per pair. The selected
setting is the fastest whose mean bad-3 is within ``--tolerance`` of the lowest. A grid varies one field at a time around RefineConfig's defaults. Real frames are never
used here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from adu_depth_core.data.augment import AugmentConfig, camera_effects
from adu_depth_core.models import load_model
from adu_depth_core.models.loading import bundled_or_path
from adu_depth_core.runtime.cli_args import parse_hw
from adu_depth_core.runtime.colormap import colorize
from adu_depth_core.stereo import disparity_metrics, network_size, sgbm_disparity, teacher_disparity
from adu_depth_core.stereo_refine import RefineConfig, refine_disparity
from adu_depth_core.train.bundle import SELECT_SEED, selection_samples

EFFECTS = AugmentConfig(
    exposure_ev=0.3, white_balance=0.05, vignette=0.3, blur_sigma_px=0.8, noise_std=3.0, jpeg_quality_min=80
)
GRID = {
    "radius_net_px": (4.0, 6.0, 10.0, 12.0),
    "window": (7, 9, 15),
    "texture_grey": (2.0, 8.0),
    "prior_weight": (0.0, 0.3),
    "side_cost": (0.05,),
    "edge_bases": (False,),
    "passes": (2,),
    "median": (0, 3),
    "step_net_px": (0.5, 1.0),
}


def settings() -> dict[str, RefineConfig]:
    """The defaults and every one-field change of them in GRID."""
    base = RefineConfig()
    out = {"defaults": base}
    for field, values in GRID.items():
        out.update({f"{field}={v}": replace(base, **{field: v}) for v in values})
    return out


def pairs(scale: float, hw: tuple[int, int], max_disparity_px: float) -> list[dict]:
    """Selection pairs with camera effects and their true disparity (NaN where unknown or beyond
    ``max_disparity_px``), with the fraction of valid pixels left out as too close."""
    rng = np.random.default_rng(0)
    out = []
    for layout, samples in selection_samples(scale, hw=hw).items():
        for s in samples:
            s = camera_effects(s, EFFECTS, rng)
            gt = np.where(s.valid, s.K[0, 0] * s.baseline_m / np.maximum(s.depth_m, 1e-6), np.nan)
            near = gt > max_disparity_px
            gt = np.where(near, np.nan, gt)
            out.append({"layout": layout, "sample": s, "gt": gt, "near": near.sum() / s.valid.sum()})
    return out


def _label(rgb: np.ndarray, text: str) -> np.ndarray:
    out = rgb.copy()
    cv2.putText(out, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def figure(examples: list[tuple[dict, dict[str, np.ndarray]]]) -> np.ndarray:
    """Per example two rows: left image, true disparity, teacher, refined, SGBM; then where each
    method is more than 3 px off (red; holes grey) over the left image, dimmed."""
    rows = []
    for item, preds in examples:
        s, gt = item["sample"], item["gt"]
        lo, hi = float(np.nanpercentile(gt, 1)), float(np.nanpercentile(gt, 99))
        top = [_label(s.left, item["layout"]), _label(colorize(gt, lo, hi), "true disparity")]
        bottom = [np.zeros_like(s.left), np.zeros_like(s.left)]
        for name in ("teacher", "defaults", "SGBM"):
            d = preds[name]
            top.append(_label(colorize(d, lo, hi), "refined" if name == "defaults" else name))
            err = (s.left * 0.4).astype(np.uint8)
            err[np.isfinite(gt) & ~(np.abs(d - gt) <= 3)] = (230, 40, 40)
            err[np.isfinite(gt) & ~np.isfinite(d)] = (150, 150, 150)
            bottom.append(_label(err, f"bad-3 {disparity_metrics(d, gt)['bad3']:.3f}"))
        rows += [np.hstack(top), np.hstack(bottom)]
    return np.vstack(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher", default="default", help="'default' (the bundled teacher) or a checkpoint")
    p.add_argument("--size", type=parse_hw, default=(224, 736), help="HxW of the rendered pairs")
    p.add_argument("--teacher-width", type=int, default=320, help="the teacher's input width")
    p.add_argument("--scale", type=float, default=0.5, help="fraction of the selection frames")
    p.add_argument("--no-grid", action="store_true", help="score the defaults only (a check at another size)")
    p.add_argument("--tolerance", type=float, default=0.002, help="bad-3 margin traded for speed")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", type=Path)
    p.add_argument(
        "--figure",
        type=Path,
        help="image (.jpg, .png): the first pair of each layout, disparities and errors",
    )
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    model, _ = load_model(bundled_or_path(args.teacher, "teacher"))
    net_width = network_size(args.size, max_width=args.teacher_width)[1]
    ratio = args.size[1] / net_width
    data = pairs(args.scale, args.size, model.disparity_range_px(net_width) * ratio)  # in image pixels
    near = float(np.mean([item["near"] for item in data]))
    configs = {"defaults": RefineConfig()} if args.no_grid else settings()
    scores: dict[str, list[dict]] = {name: [] for name in ["teacher", "SGBM", *configs]}
    examples = {}
    for item in tqdm(data, desc="pairs"):
        s, gt = item["sample"], item["gt"]
        prior = teacher_disparity(
            model, s.left, s.right, s.K[0, 0], s.baseline_m, max_width=args.teacher_width
        )["disparity"]
        preds = {"teacher": prior, "SGBM": sgbm_disparity(s.left, s.right, float(np.nanmax(gt)) * 1.2)}
        seconds = dict.fromkeys(preds, 0.0)
        for name, c in configs.items():
            start = time.perf_counter()
            preds[name] = refine_disparity(s.left, s.right, prior, ratio, c)
            seconds[name] = time.perf_counter() - start
        for name, d in preds.items():
            scores[name].append({**disparity_metrics(d, gt), "seconds": seconds[name]})
        examples.setdefault(item["layout"], (item, preds))
    rows = [{"method": n, **{k: float(np.mean([r[k] for r in v])) for k in v[0]}} for n, v in scores.items()]
    print(
        f"{len(data)} pairs at {args.size[0]}x{args.size[1]}, {ratio:.2f} image px per teacher px; "
        f"{near:.1%} of ground-truth pixels closer than the teacher's range, left out"
    )
    print("| method | EPE px | bad-1 | bad-3 | density | s / pair (refinement) |\n|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['method']} | {r['epe_px']:.3f} | {r['bad1']:.4f} | {r['bad3']:.4f} | {r['density']:.3f} "
            f"| {r['seconds']:.2f} |"
        )
    refined = [r for r in rows if r["method"] in configs]
    lowest = min(r["bad3"] for r in refined)
    best = min((r for r in refined if r["bad3"] <= lowest + args.tolerance), key=lambda r: r["seconds"])
    if not args.no_grid:
        print(
            f"selected: {best['method']} (the fastest within {args.tolerance} of the lowest bad-3, {lowest:.4f})"
        )
    if args.figure:
        args.figure.parent.mkdir(parents=True, exist_ok=True)
        quality = [cv2.IMWRITE_JPEG_QUALITY, 85] if args.figure.suffix.lower() in (".jpg", ".jpeg") else []
        cv2.imwrite(
            str(args.figure), cv2.cvtColor(figure(list(examples.values())), cv2.COLOR_RGB2BGR), quality
        )
    if args.json:
        payload = {
            "selection_seed": SELECT_SEED,
            "size": list(args.size),
            "teacher": args.teacher,
            "teacher_width": args.teacher_width,
            "pairs": len(data),
            "tolerance": args.tolerance,
            "left_out_too_close": near,
            "configs": {n: asdict(c) for n, c in configs.items()},
            "rows": rows,
            "selected": best["method"],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
