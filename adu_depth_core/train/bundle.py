"""Package trained models as the bundled defaults: fp16 weights, a complete card, a markdown note.

    python -m adu_depth_core.train.bundle --student runs/camera/student/model.pt \\
        --teacher runs/camera/teacher/model.pt --teacher-out adu_depth_core/assets/teacher_default.pt \\
        --sizes 96x320 128x416 192x640 --real ../shared/data/real --training "..."

The student's network input size written into its card is chosen among ``--sizes`` on a *selection*
set of synthetic scenes; the metrics in the cards and notes come from a disjoint *report* set, the
Middlebury pairs and (``--real``, evaluation only) the KITTI object frames, so neither the choice nor
anything else is tuned on the reported numbers. Synthetic scenes use a random camera per frame
(horizontal FOV 40-100 deg) for a camera-aware student and for the teacher, KITTI's camera otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

from adu_depth_core.bundled import DEFAULT_STUDENT
from adu_depth_core.checkpoint import ModelCard, load_checkpoint, save_checkpoint
from adu_depth_core.runtime.preprocess import parse_network_size
from adu_depth_core.train import report
from adu_depth_core.train.evaluate import EvalOptions, evaluate_model

SELECT_SEED, REPORT_SEED = 20_000_000, 10_000_000  # synthetic scene seeds, far from every training seed
# the selection scenes of each layout: (frames, first seed - SELECT_SEED); benchmarks/select_models.py
# scores candidates on all of them, benchmarks/select_defaults.py on a prefix of streets and rooms
SELECTION_SETS = {"street": (32, 0), "room": (16, 100), "workshop": (16, 200)}
EVAL_HW = (192, 640)  # resolution of the synthetic evaluation images
RANDOM_HFOV_DEG = (40.0, 100.0)


def synthetic_samples(n: int, seed: int, hw: tuple[int, int] = EVAL_HW, random_camera: bool = False) -> list:
    from adu_depth_core.data.synthetic import SyntheticStereo

    reader = SyntheticStereo(n=n, size=hw, seed=seed, hfov_deg=RANDOM_HFOV_DEG if random_camera else None)
    return [reader[i] for i in range(n)]


def selection_samples(
    scale: float = 1.0, layouts: list[str] | None = None, hw: tuple[int, int] = EVAL_HW
) -> dict[str, list]:
    """The selection frames of each layout in SELECTION_SETS (``layouts``: a subset; ``scale`` shrinks
    the counts for a quick look), rendered at ``hw`` with the layout's training field of view."""
    from adu_depth_core.data.layouts import TRAINING_HFOV_DEG
    from adu_depth_core.data.synthetic import SyntheticStereo

    sets = {}
    for layout in layouts or list(SELECTION_SETS):
        n, offset = SELECTION_SETS[layout]
        n = max(1, round(n * scale))
        hfov = TRAINING_HFOV_DEG[layout]
        reader = SyntheticStereo(n, hw, seed=SELECT_SEED + offset, layout=layout, hfov_deg=hfov)
        sets[layout] = [reader[i] for i in range(n)]
    return sets


def middlebury_samples() -> list:
    from adu_depth_core.data.middlebury import MiddleburyMotorcycle

    return [MiddleburyMotorcycle()[0]]


def score(
    model, card: ModelCard, samples: list, hw: tuple[int, int] | None, median: bool = False
) -> dict[str, float]:
    opts = EvalOptions(
        input_hw=hw,
        min_depth_m=card.min_depth_m,
        max_depth_m=card.max_depth_m,
        median_scaling=median,
        figures=0,
    )
    return evaluate_model(model, card, samples, opts, progress=False).mean


def camera_aware(card: ModelCard) -> bool:
    return card.canonical_focal_px is not None


def choose_size(model, card: ModelCard, sizes: list[tuple[int, int]], n: int) -> tuple[tuple[int, int], dict]:
    """The candidate input size with the lowest AbsRel on the selection scenes."""
    samples = synthetic_samples(n, SELECT_SEED, random_camera=camera_aware(card))
    scores = {hw: score(model, card, samples, hw) for hw in sizes}
    best = min(scores, key=lambda hw: scores[hw]["abs_rel"])
    return best, scores


def _fp16(state: dict) -> dict:
    return {k: v.half() if torch.is_floating_point(v) else v for k, v in state.items()}


def _save(out: Path, state: dict, card: ModelCard, note: str) -> Path:
    save_checkpoint(out, _fp16(state), card)
    os.chmod(out, 0o644)  # installed package data must be world-readable
    report.write_text(out.with_suffix(".md"), note)
    os.chmod(out.with_suffix(".md"), 0o644)
    return out


def _metrics_into(card: ModelCard, prefix: str, metrics: dict[str, float]) -> None:
    card.metrics.update({f"{prefix}{k}": float(v) for k, v in metrics.items() if k in report.COLUMNS})


def bundle_student(student: Path, out: Path, sizes: list, n: int, real: Path | None, how: list[str]) -> Path:
    """Evaluate, pick the input size, write ``out`` (fp16 + card) and ``out.with_suffix('.md')``."""
    from adu_depth_core.models import load_model

    model, card = load_model(student)
    hw, selection = choose_size(model, card, sizes, n)
    rows = [(f"synthetic, {n} scenes (seeds {REPORT_SEED}+)", _report_synthetic(model, card, hw, n), None)]
    mb = middlebury_samples()
    rows += [
        ("Middlebury Motorcycle (metric, f = 995 px)", score(model, card, mb, hw), None),
        ("Middlebury Motorcycle (median-scaled)", score(model, card, mb, hw, median=True), None),
    ]
    if real is not None:
        from adu_depth_core.data.kitti_object import KittiObject

        kitti = list(KittiObject(real / "kitti_object"))
        rows.append(
            (
                f"KITTI object frames ({len(kitti)}, LiDAR, metric, true fx)",
                score(model, card, kitti, hw),
                None,
            )
        )
    card.input_height, card.input_width = hw
    card.metrics = {}
    for (_, metrics, _), prefix in zip(
        rows, ("", "middlebury.", "middlebury_median_scaled.", "kitti_object.")
    ):
        _metrics_into(card, prefix, metrics)
    card.train_config = load_checkpoint(student).get("config", card.train_config)
    card.notes = (
        f"bundled default student (adu-depth); metrics and how it was trained: {out.with_suffix('.md').name}"
    )
    table = report.markdown_table(
        [(f"{h}x{w}", m, None) for (h, w), m in selection.items()], report.COLUMNS, "input"
    )
    note = [
        "# Bundled default student (`student_default.pt`)",
        "",
        *_summary(card, out),
        "",
        "## How it was trained",
        "",
        *how,
        "",
        "## Choice of the network input size",
        "",
        f"AbsRel on {n} selection scenes (seeds {SELECT_SEED}+, {EVAL_HW[0]}x{EVAL_HW[1]} images"
        f"{', random cameras' if camera_aware(card) else ''}) at each candidate input size; the lowest wins:",
        "",
        table,
        "",
        f"Chosen: {hw[0]}x{hw[1]}.",
        "",
        "## Held-out metrics",
        "",
        report.markdown_table(rows, report.COLUMNS, "set"),
        "",
        "Real frames are evaluation only: nothing was trained, selected or tuned on them.",
        "",
    ]
    state = load_checkpoint(student)["model"]
    return _save(out, state, card, "\n".join(note))


def _report_synthetic(model, card: ModelCard, hw: tuple[int, int], n: int) -> dict[str, float]:
    return score(model, card, synthetic_samples(n, REPORT_SEED, random_camera=camera_aware(card)), hw)


def bundle_teacher(teacher: Path, out: Path, n: int, real: Path | None, how: list[str]) -> Path:
    """Score the stereo teacher (synthetic depth, real disparity vs SGBM) and write it as the default."""
    from adu_depth_core.models import load_model
    from adu_depth_core.stereo import compare_with_sgbm, real_pairs

    model, card = load_model(teacher)
    synth = synthetic_samples(n, REPORT_SEED, random_camera=True)
    rows = [
        (
            f"synthetic, {n} scenes (seeds {REPORT_SEED}+, {EVAL_HW[0]}x{EVAL_HW[1]}, random cameras; "
            f"teacher input {card.input_height}x{card.input_width})",
            score(model, card, synth, None),
            None,
        )
    ]
    card.metrics = {}
    _metrics_into(card, "", rows[0][1])
    stereo = compare_with_sgbm(model, real_pairs(real), card.input_width)
    prefix = {"teacher": "", "teacher + refine": "refine."}
    for row in stereo:
        if row["method"] in prefix:
            card.metrics.update(
                {
                    f"{row['pair'].lower()}.{prefix[row['method']]}{k}": v
                    for k, v in row.items()
                    if k not in ("pair", "method")
                }
            )
    card.train_config = load_checkpoint(teacher).get("config", card.train_config)
    card.notes = f"bundled stereo teacher (adu-depth), for labelling stereo recordings; see {out.with_suffix('.md').name}"
    lines = [
        "# Bundled stereo teacher (`teacher_default.pt`)",
        "",
        *_summary(card, out),
        "- call: `teacher(left, right, fx * baseline_m)`; disparity from the cost volume, depth = fx * B / d",
        f"- run it at about its training width ({card.input_width} px, aspect ratio kept; the labeller and the "
        "evaluation do): on held-out synthetic scenes it is about 3x less accurate at twice that width",
        "- refinement (optional, `bag-to-dataset --refine`, the 'teacher + refine' rows below): a local matching "
        "search at the image's resolution around the upsampled disparity (adu_depth_core/stereo_refine.py; "
        "settings chosen on synthetic pairs only)",
        "",
        "## How it was trained",
        "",
        *how,
        "",
        "## Held-out depth",
        "",
        report.markdown_table(rows, report.COLUMNS, "set"),
        "",
        "## Real stereo pairs against OpenCV SGBM (same run)",
        "",
        "| pair | method | EPE px | bad-1 | bad-3 (all GT px, holes bad) | density |",
        "|---|---|---|---|---|---|",
        *[
            f"| {m['pair']} | {m['method']} | {m['epe_px']:.2f} | {m['bad1']:.3f} | {m['bad3']:.3f} | "
            f"{m['density']:.3f} |"
            for m in stereo
        ],
        "",
        "Real frames are evaluation only: nothing was trained, selected or tuned on them.",
        "",
    ]
    return _save(out, load_checkpoint(teacher)["model"], card, "\n".join(lines))


def _summary(card: ModelCard, out: Path) -> list[str]:
    size_mb = out.stat().st_size / 2**20 if out.exists() else float("nan")
    camera = (
        f"canonical camera: network depth is for fx = {card.canonical_focal_px:g} px at its input; "
        "metric depth = output * fx_input / that (fx from camera_info, --fx, K)"
        if card.canonical_focal_px is not None
        else "camera model: none (depth is taken as metric for any camera)"
    )
    return [
        f"- architecture: {card.arch}, encoder `{card.encoder}` (ImageNet init), model kwargs `{card.model_kwargs}`",
        f"- network input: {card.input_height}x{card.input_width} RGB in [0, 1], ImageNet mean/std inside the "
        f"model; metric depth range {card.min_depth_m}-{card.max_depth_m} m",
        f"- {camera}"
        if card.arch == "student"
        else "- geometry: disparity, then depth from each pair's calibration",
        f"- uncertainty: {card.uncertainty}",
        f"- file: fp16 state dict + card, {size_mb:.1f} MiB",
    ]


def _without_training_text(argv: list[str] | None) -> list[str]:
    """The command line as typed, each --training text (already in the note) shown as '...'."""
    args, out = list(sys.argv[1:] if argv is None else argv), []
    for i, a in enumerate(args):
        if i and args[i - 1] == "--training":
            a = '"..."'
        elif a.startswith("--training="):
            a = '--training="..."'
        out.append(a)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--student", type=Path, help="the trained student (model.pt)")
    p.add_argument("--teacher", type=Path, help="the trained teacher (model.pt)")
    p.add_argument("--out", type=Path, default=DEFAULT_STUDENT)
    p.add_argument("--teacher-out", type=Path, default=None, help="also bundle the teacher here")
    p.add_argument("--sizes", nargs="+", default=["96x320", "128x416", "192x640"])
    p.add_argument("--n", type=int, default=32, help="synthetic scenes per set")
    p.add_argument("--real", type=Path, default=None, help="real evaluation frames (KITTI object, Cones)")
    p.add_argument(
        "--training", action="append", default=[], help="a line for the note's 'How it was trained' (repeat)"
    )
    args = p.parse_args(argv)
    command = "python -m adu_depth_core.train.bundle " + " ".join(_without_training_text(argv))
    how = [
        *args.training,
        f"- packaging: `{command}`",
        "- the resolved training config is in the card (`train_config`)",
    ]
    torch.set_num_threads(2)
    if args.student:
        out = bundle_student(
            args.student, args.out, [parse_network_size(s) for s in args.sizes], args.n, args.real, how
        )
        print(out.with_suffix(".md").read_text())
    if args.teacher and args.teacher_out:
        out = bundle_teacher(args.teacher, args.teacher_out, args.n, args.real, how)
        print(out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
