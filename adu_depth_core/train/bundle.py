"""Package a trained student as the bundled default: fp16 weights, a complete card, a markdown note.

    python -m adu_depth_core.train.bundle --student runs/bundled/student/model.pt \\
        --teacher runs/bundled/teacher/model.pt --sizes 64x192 96x320 192x640

The network input size written into the card is chosen among ``--sizes`` on a *selection* set of
synthetic scenes; the metrics in the card and the note come from a disjoint *report* set and
the Middlebury pair, so the choice does not flatter the reported numbers.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

from adu_depth_core.checkpoint import ModelCard, load_checkpoint, save_checkpoint
from adu_depth_core.train import report
from adu_depth_core.train.evaluate import EvalOptions, evaluate_model, parse_hw

ASSETS = Path(__file__).resolve().parents[1] / "assets"
SELECT_SEED, REPORT_SEED = 20_000_000, 10_000_000  # synthetic scene seeds, far from every training seed
EVAL_HW = (192, 640)  # resolution of the synthetic evaluation images (a KITTI-like camera)


def synthetic_samples(n: int, seed: int, hw: tuple[int, int] = EVAL_HW) -> list:
    from adu_depth_core.data.synthetic import SyntheticStereo

    reader = SyntheticStereo(n=n, size=hw, seed=seed)
    return [reader[i] for i in range(n)]


def middlebury_samples() -> list:
    from adu_depth_core.data.middlebury import MiddleburyMotorcycle

    return [MiddleburyMotorcycle()[0]]


def score(
    model, card: ModelCard, samples: list, hw: tuple[int, int], median: bool = False
) -> dict[str, float]:
    opts = EvalOptions(
        input_hw=hw,
        min_depth_m=card.min_depth_m,
        max_depth_m=card.max_depth_m,
        median_scaling=median,
        figures=0,
    )
    return evaluate_model(model, card, samples, opts, progress=False).mean


def choose_size(model, card: ModelCard, sizes: list[tuple[int, int]], n: int) -> tuple[tuple[int, int], dict]:
    """The candidate input size with the lowest AbsRel on the selection scenes."""
    samples = synthetic_samples(n, SELECT_SEED)
    scores = {hw: score(model, card, samples, hw) for hw in sizes}
    best = min(scores, key=lambda hw: scores[hw]["abs_rel"])
    return best, scores


def bundle(
    student: Path, teacher: Path | None, out: Path, sizes: list[tuple[int, int]], n: int, command: str
) -> Path:
    """Evaluate, pick the input size, write ``out`` (fp16 + card) and ``out.with_suffix('.md')``."""
    from adu_depth_core.models import load_model

    model, card = load_model(student)
    hw, selection = choose_size(model, card, sizes, n)
    held_out = score(model, card, synthetic_samples(n, REPORT_SEED), hw)
    mb = score(model, card, middlebury_samples(), hw)
    mb_med = score(model, card, middlebury_samples(), hw, median=True)
    keys = [k for k in report.COLUMNS if k in held_out]
    card.input_height, card.input_width = hw
    card.metrics = {k: held_out[k] for k in keys}
    card.metrics.update({f"middlebury.{k}": mb[k] for k in keys})
    card.metrics.update({f"middlebury_median_scaled.{k}": mb_med[k] for k in keys})
    payload = load_checkpoint(student)
    teacher_cfg = load_checkpoint(teacher).get("config", {}) if teacher else {}
    card.train_config = {"student": payload.get("config", card.train_config), "teacher": teacher_cfg}
    card.notes = (
        f"bundled default student (adu-depth): full ADU-Depth distillation on synthetic street scenes; "
        f"metrics: {n} held-out synthetic scenes (seeds {REPORT_SEED}+, {EVAL_HW[0]}x{EVAL_HW[1]} images, "
        f"network at {hw[0]}x{hw[1]}); 'middlebury.*' on the Middlebury 2014 Motorcycle pair "
        f"(raw metric and median-scaled); see student_default.md"
    )
    state = {k: v.half() if torch.is_floating_point(v) else v for k, v in payload["model"].items()}
    save_checkpoint(out, state, card)
    os.chmod(out, 0o644)  # installed package data must be world-readable
    note = out.with_suffix(".md")
    report.write_text(note, render_note(card, out, selection, hw, held_out, mb, mb_med, n, command))
    os.chmod(note, 0o644)
    return out


def render_note(card, out, selection, hw, held_out, mb, mb_med, n, command) -> str:
    size_mb = out.stat().st_size / 2**20
    t, s = card.train_config.get("teacher", {}), card.train_config.get("student", {})
    lines = [
        "# Bundled default student (`student_default.pt`)",
        "",
        f"- architecture: {card.arch}, encoder `{card.encoder}` (ImageNet init), model kwargs `{card.model_kwargs}`",
        f"- network input: {card.input_height}x{card.input_width} RGB in [0, 1], ImageNet mean/std inside the "
        f"model; depth range {card.min_depth_m}-{card.max_depth_m} m",
        f"- uncertainty: {card.uncertainty}",
        f"- file: fp16 state dict + card, {size_mb:.1f} MiB",
        "",
        "## How it was trained (CPU, this repository's scripts)",
        "",
        f"1. teacher: `adu-depth train-teacher --config config/train/cpu_teacher.yaml` "
        f"({t.get('train', {}).get('steps', '?')} steps, batch {t.get('data', {}).get('batch_size', '?')}, "
        f"{t.get('data', {}).get('height', '?')}x{t.get('data', {}).get('width', '?')})",
        f"2. student: `adu-depth distill --config config/train/cpu_distill.yaml` "
        f"({s.get('train', {}).get('steps', '?')} steps, batch {s.get('data', {}).get('batch_size', '?')}, "
        f"{s.get('data', {}).get('height', '?')}x{s.get('data', {}).get('width', '?')}, full ADU-Depth loss)",
        f"3. packaging: `{command}`",
        "",
        "The full resolved configs of both stages are in the card (`train_config`).",
        "",
        "## Choice of the network input size",
        "",
        f"AbsRel on {n} selection scenes (seeds {SELECT_SEED}+) at each candidate size; the smallest wins:",
        "",
        report.markdown_table(
            [(f"{h}x{w}", m, None) for (h, w), m in selection.items()], report.COLUMNS, "input"
        ),
        "",
        f"Chosen: {hw[0]}x{hw[1]}. {size_reason(selection, hw, s)}",
        "",
        "## Held-out metrics",
        "",
        report.markdown_table(
            [
                (f"synthetic, {n} scenes (seeds {REPORT_SEED}+)", held_out, None),
                ("Middlebury Motorcycle (metric)", mb, None),
                ("Middlebury Motorcycle (median-scaled)", mb_med, None),
            ],
            report.COLUMNS,
            "set",
        ),
        "",
        "Synthetic scenes are rendered at 192x640 with KITTI-like intrinsics; the runtime resizes them to the "
        "network input. Middlebury is an indoor scene at 2-5 m seen by a different camera (f = 995 px at "
        "741 px width): a street-trained monocular model has no way to know its metric scale, hence the "
        "median-scaled row.",
        "",
    ]
    return "\n".join(lines)


def size_reason(selection: dict, hw: tuple[int, int], student_cfg: dict) -> str:
    """One sentence on why the chosen size wins (or that it is the training size)."""
    data = student_cfg.get("data", {})
    train_hw = (data.get("height"), data.get("width"))
    largest = max(selection, key=lambda x: x[0] * x[1])
    if hw != train_hw or largest == hw:
        return ""
    return (
        f"It is the training resolution: at larger inputs of the same field of view objects cover more pixels "
        f"than the network ever saw, and its metric cues do not carry over (AbsRel "
        f"{selection[hw]['abs_rel']:.3f} at {hw[0]}x{hw[1]} vs {selection[largest]['abs_rel']:.3f} at "
        f"{largest[0]}x{largest[1]}). The runtime and the node resize any camera image to the card's size."
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--student", required=True, type=Path)
    p.add_argument("--teacher", type=Path)
    p.add_argument("--out", type=Path, default=ASSETS / "student_default.pt")
    p.add_argument("--sizes", nargs="+", default=["64x192", "96x320", "192x640"])
    p.add_argument("--n", type=int, default=32, help="synthetic scenes per set")
    args = p.parse_args(argv)
    command = "python -m adu_depth_core.train.bundle " + " ".join(argv if argv is not None else sys.argv[1:])
    torch.set_num_threads(1)
    out = bundle(args.student, args.teacher, args.out, [parse_hw(s) for s in args.sizes], args.n, command)
    print(out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
