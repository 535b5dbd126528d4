"""How the models transfer across cameras: students at several input sizes with random intrinsics, students on
real KITTI and Middlebury frames with their true focal length, and the stereo teacher against OpenCV's SGBM.

    python benchmarks/eval_camera.py --student new=default --student old=runs/old_student.pt \\
        --teacher runs/camera/teacher/model.pt --json out/eval_camera.json --markdown out/eval_camera.md

Sections (each printed as a table):
- synthetic: held-out street scenes rendered with a random camera per frame (horizontal FOV 40-100 deg)
  at each --sizes, the student run at that input size with the true fx; metric AbsRel / delta1.
- kitti: the KITTI object frames of --real (LiDAR ground truth, true fx from P2), metric, 80 m cap,
  at the card's input size (what the runtime and node do).
- point_filter: per KITTI frame, and averaged over held-out synthetic streets, the student's AbsRel, its
  median sigma / depth and the share of ground-truth pixels the node's point-cloud filter keeps
  (sigma / depth <= 0.25, its default).
- motorcycle: Middlebury 2014 Motorcycle (f = 995 px), metric and median-scaled, at the card's input size
  and at an aspect-preserving input of about the same pixel count.
- cones: Middlebury 2003 Cones (no calibration): the student's scale-invariant log error against 1/disparity.
- stereo: the teacher, the teacher refined at the image resolution (adu_depth_core/stereo_refine.py) and SGBM on
  Cones (disparity EPE, bad-3 px over all ground-truth pixels, holes bad) and on
  Motorcycle (bad-3 px and depth AbsRel).
The real frames are for evaluation only (never training or tuning); the folder is skipped when absent.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

import numpy as np
import torch
from real_frames import REAL_DIR

from adu_depth_core.data.middlebury import MiddleburyCones, MiddleburyMotorcycle
from adu_depth_core.data.synthetic import SyntheticStereo
from adu_depth_core.metrics import depth_metrics, valid_pixels
from adu_depth_core.models import load_model
from adu_depth_core.models.loading import bundled_or_path
from adu_depth_core.recipe.outputs import RecipeConfig
from adu_depth_core.runtime.cli_args import parse_hw
from adu_depth_core.stereo import aspect_input_size, compare_with_sgbm, real_pairs
from adu_depth_core.train.evaluate import EvalOptions, evaluate_model, predict

HELD_OUT_SEED = 30_000_000  # far from every training, validation and selection seed


def load(path: str, role: str = "student"):
    return load_model(bundled_or_path(path, role))


@functools.cache
def held_out_streets(n: int, size: tuple[int, int]) -> tuple:
    """n held-out synthetic streets at size, a random camera each (rendered once per run)."""
    reader = SyntheticStereo(n, size, seed=HELD_OUT_SEED, hfov_deg=(40.0, 100.0))
    return tuple(reader[i] for i in range(n))


def synthetic_rows(students: dict, sizes: list, n: int) -> list[dict]:
    rows = []
    for size in sizes:
        samples = list(held_out_streets(n, tuple(size)))
        for name, (model, card) in students.items():
            res = evaluate_model(model, card, samples, EvalOptions(input_hw=size, figures=0), progress=False)
            rows.append({"section": "synthetic", "model": name, "size": f"{size[0]}x{size[1]}", **res.mean})
    return rows


def kitti_rows(students: dict, real: Path) -> list[dict]:
    from adu_depth_core.data.kitti_object import KittiObject

    samples = list(KittiObject(real / "kitti_object"))
    rows = []
    for name, (model, card) in students.items():
        for crop in (None, "garg"):
            res = evaluate_model(model, card, samples, EvalOptions(crop=crop, figures=0), progress=False)
            rows.append({"section": "kitti", "model": name, "crop": crop or "none", **res.mean})
    return rows


def _filter_stats(model, card, s) -> dict[str, float]:
    """One frame at the card's input size: metric AbsRel, the median relative uncertainty sigma / depth on
    its ground-truth pixels, and the share of them the node's point-cloud filter keeps (sigma / depth <=
    max_relative_sigma, default 0.25), with their AbsRel."""
    pred, sigma = predict(model, card, s.left, None, (card.input_height, card.input_width), s.K)
    p, g, mask = valid_pixels(pred, np.where(s.valid, s.depth_m, np.nan), max_depth=80.0)
    rel, err = sigma[mask] / p, np.abs(p - g) / g
    kept = rel <= RecipeConfig().max_relative_sigma
    return {
        "abs_rel": float(err.mean()),
        "rel_sigma_median": float(np.median(rel)),
        "points_kept": float(kept.mean()),
        "abs_rel_kept": float(err[kept].mean()) if kept.any() else float("nan"),
    }


def point_filter_rows(students: dict, real: Path | None, n: int) -> list[dict]:
    """_filter_stats per KITTI frame, and averaged over n held-out synthetic streets (192x640) for scale."""
    from adu_depth_core.data.kitti_object import KittiObject

    synthetic = held_out_streets(n, (192, 640))
    kitti = list(KittiObject(real / "kitti_object")) if real is not None else []
    rows = []
    for name, (model, card) in students.items():
        for s in kitti:
            rows.append(
                {"section": "point_filter", "model": name, "frames": f"KITTI {Path(s.source_id).stem}"}
            )
            rows[-1].update(_filter_stats(model, card, s))
        stats = [_filter_stats(model, card, s) for s in synthetic]
        rows.append({"section": "point_filter", "model": name, "frames": f"synthetic streets ({n}, mean)"})
        rows[-1].update({k: float(np.nanmean([st[k] for st in stats])) for k in stats[0]})
    return rows


def motorcycle_rows(students: dict) -> list[dict]:
    sample = MiddleburyMotorcycle()[0]
    rows = []
    for name, (model, card) in students.items():
        card_hw = (card.input_height, card.input_width)
        aspect_hw = aspect_input_size(card_hw, sample.left.shape[:2])
        for label, hw in (("card size", card_hw), ("aspect kept", aspect_hw)):
            for scaled in (False, True):
                opts = EvalOptions(input_hw=hw, median_scaling=scaled, figures=0)
                res = evaluate_model(model, card, [sample], opts, progress=False)
                rows.append(
                    {
                        "section": "motorcycle",
                        "model": name,
                        "input": f"{label} {hw[0]}x{hw[1]}",
                        "scaling": "median" if scaled else "metric",
                        **res.mean,
                    }
                )
    return rows


def cones_rows(students: dict, real: Path) -> list[dict]:
    cones = MiddleburyCones(str(real / "middlebury2003_cones"))[0]
    gt = cones.depth_m  # relative depth (a nominal camera): scored median-scaled
    rows = []
    for name, (model, card) in students.items():
        hw = aspect_input_size((card.input_height, card.input_width), gt.shape)
        pred, _ = predict(model, card, cones.left, None, hw)
        scale = np.nanmedian(gt) / np.median(pred[np.isfinite(gt)])
        m = depth_metrics(pred * scale, gt, min_depth=1e-6, max_depth=1e6)
        rows.append({"section": "cones", "model": name, "input": f"{hw[0]}x{hw[1]}", **m})
    return rows


def stereo_rows(teacher, real: Path | None) -> list[dict]:
    model, card = teacher
    rows = compare_with_sgbm(model, real_pairs(real), max_width=card.input_width)
    return [{"section": "stereo", **r} for r in rows]


COLUMNS = {
    "synthetic": ("model", "size", "abs_rel", "rmse", "a1", "silog"),
    "kitti": ("model", "crop", "abs_rel", "rmse", "a1", "silog"),
    "point_filter": ("model", "frames", "abs_rel", "rel_sigma_median", "points_kept", "abs_rel_kept"),
    "motorcycle": ("model", "input", "scaling", "abs_rel", "rmse", "a1"),
    "cones": ("model", "input", "silog", "abs_rel", "a1"),
    "stereo": ("pair", "method", "epe_px", "bad1", "bad3", "density", "bad3_nonocc", "abs_rel"),
}


def markdown(rows: list[dict]) -> str:
    parts = []
    for section, cols in COLUMNS.items():
        sec = [r for r in rows if r["section"] == section]
        if not sec:
            continue
        lines = [f"### {section}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for r in sec:
            cells = [_fmt(r.get(c, "")) for c in cols]
            lines.append("| " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _fmt(v) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--student", action="append", default=[], metavar="NAME=CKPT", help="a student (repeat)")
    p.add_argument("--teacher", default=None, help="stereo teacher checkpoint (stereo section)")
    p.add_argument("--sizes", nargs="+", type=parse_hw, default=[(64, 192), (128, 416), (192, 640)])
    p.add_argument("--n", type=int, default=24, help="synthetic scenes per size")
    p.add_argument("--real", type=Path, default=REAL_DIR, help="the real evaluation frames")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--markdown", type=Path, default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    students = {}
    for item in args.student:
        name, _, path = item.partition("=")
        students[name] = load(path or name)
    real = args.real if (args.real / "kitti_object").is_dir() else None
    if real is None:
        print(f"note: {args.real} not found: the KITTI and Cones sections are skipped", file=sys.stderr)
    rows = []
    if students:
        rows += synthetic_rows(students, args.sizes, args.n)
        rows += motorcycle_rows(students)
        if real is not None:
            rows += kitti_rows(students, real) + cones_rows(students, real)
        rows += point_filter_rows(students, real, args.n)
    if args.teacher:
        rows += stereo_rows(load(args.teacher, "teacher"), real)
    text = markdown(rows)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1))
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
