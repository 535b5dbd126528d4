"""Choose between candidate models (students, or stereo teachers) on synthetic validation scenes only.

    python benchmarks/select_models.py --model bundled=default --model finetuned=runs/camera/student_v3/model.pt \\
        --json docs/results/camera/select_v3.json

Each model runs at ``--input-size`` (default: its card's input size; give one size to compare a fresh
run, whose card holds its training card_size, with a bundled model, whose size the bundle chose) on
three validation sets rendered from seeds 20,000,000+ (the
selection seeds every bundled default is chosen on, disjoint from training, from the cards' report set and
from the tests): streets (horizontal FOV 40-100 deg), furnished rooms (50-100 deg) and close-range
workshops (40-100 deg), exact metric depth, the true fx. The winner is the lowest AbsRel averaged over
all validation frames (``--layouts street`` scores one kind of scene only, for a specialist). Real
frames are never used here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from adu_depth_core.models import load_model
from adu_depth_core.models.loading import bundled_or_path
from adu_depth_core.runtime.cli_args import parse_hw
from adu_depth_core.train.bundle import SELECT_SEED, SELECTION_SETS, selection_samples
from adu_depth_core.train.evaluate import EvalOptions, evaluate_model


def checkpoint(path: str) -> Path:
    """'default' is the bundled student, 'teacher-default' the bundled teacher, anything else a path."""
    if path == "teacher-default":
        return bundled_or_path("default", "teacher")
    return bundled_or_path(path, "student")


def score(model, card, sets: dict[str, list], input_hw: tuple[int, int] | None = None) -> dict[str, float]:
    """AbsRel and delta1 per set at input_hw (None: the card's), and the frame-weighted mean AbsRel."""
    row, total, frames = {}, 0.0, 0
    for name, samples in sets.items():
        opts = EvalOptions(
            input_hw=input_hw, min_depth_m=card.min_depth_m, max_depth_m=card.max_depth_m, figures=0
        )
        mean = evaluate_model(model, card, samples, opts, progress=False).mean
        row[f"{name}_abs_rel"], row[f"{name}_a1"] = mean["abs_rel"], mean["a1"]
        total, frames = total + mean["abs_rel"] * len(samples), frames + len(samples)
    row["mean_abs_rel"] = total / frames
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="NAME=CKPT",
        help="a candidate (repeat); CKPT 'default' or 'teacher-default' for the bundled ones",
    )
    p.add_argument(
        "--input-size", type=parse_hw, default=None, help="HxW for every model (default: each card's)"
    )
    p.add_argument("--scale", type=float, default=1.0, help="fraction of the validation frames (quick look)")
    p.add_argument(
        "--layouts",
        nargs="+",
        choices=list(SELECTION_SETS),
        default=None,
        help="score on these sets only, e.g. 'street' for a street specialist (default: all)",
    )
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    candidates = dict(item.split("=", 1) for item in args.model)
    sets = selection_samples(args.scale, args.layouts)
    rows = []
    for name, path in candidates.items():
        model, card = load_model(checkpoint(path))
        hw = args.input_size or (card.input_height, card.input_width)
        row = {"model": name, "checkpoint": str(path), "arch": card.arch, "input": f"{hw[0]}x{hw[1]}"}
        rows.append({**row, **score(model, card, sets, hw)})
    cols = [f"{s}_abs_rel" for s in sets] + ["mean_abs_rel"]
    print("| model | input | " + " | ".join(cols) + " |\n|---|---|" + "---|" * len(cols))
    for r in rows:
        print(f"| {r['model']} | {r['input']} | " + " | ".join(f"{r[c]:.4f}" for c in cols) + " |")
    best = min(rows, key=lambda r: r["mean_abs_rel"])
    print(f"selected: {best['model']} (lowest mean validation AbsRel)")
    if args.json:
        frames = {s: len(v) for s, v in sets.items()}
        payload = {"selection_seed": SELECT_SEED, "frames": frames, "rows": rows, "selected": best["model"]}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
