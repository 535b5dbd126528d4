"""Synthetic domain shift: does adapting to a new robot with unlabeled stereo pairs close the student's gap?

    python benchmarks/domain_shift.py --out runs/domain_shift --seeds 0 1 2 --json docs/results/domain_shift.json

Source domain: the bundled teacher and student (synthetic streets and rooms, cameras 1.1-1.8 m high,
baseline 0.54 m). Target domain: a small ground robot -- a street seen from 0.3-0.6 m with a 0.12 m
stereo baseline (and a random field of view, 40-100 degrees). Each seed renders its own unlabeled
training pairs (disjoint seeds); one held-out set of target frames with exact depth scores every model.

Arms, every student fine-tuned from the bundled one for the same number of steps and data:

- ``before``: the bundled student as shipped;
- ``adapted``: ``adapt-teacher`` on the target pairs (no labels), then ``distill`` from that teacher with
  no ground truth (the teacher-driven terms only) -- the whole label-free recipe;
- ``unadapted_teacher``: the same distillation from the bundled teacher (what adaptation adds);
- ``gt``: the upper reference, the target's exact depth as ground truth (ablation row 1 loss).

``gap closed = (before - adapted) / (before - gt)`` on AbsRel, per seed, then mean ± std. Finished arms
keep their ``metrics.json`` and are skipped when the script is re-run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from adu_depth_core.config import LossConfig, to_dict
from adu_depth_core.data.folder import FolderStereo
from adu_depth_core.data.synthetic import StereoSynthesizer, SynthConfig, render_to_folder
from adu_depth_core.models import load_model
from adu_depth_core.models.loading import bundled_or_path
from adu_depth_core.train.adapt_run import default_adapt_config
from adu_depth_core.train.config import load_train_config
from adu_depth_core.train.evaluate import EvalOptions, evaluate_model
from adu_depth_core.train.runner import train

REPO = Path(__file__).resolve().parents[1]
STUDENT_CONFIG = REPO / "config" / "train" / "camera_student.yaml"
TRAIN_SEED0, TEST_SEED = 800_000, 900_000  # far from every seed the bundled models were trained on


def target_config(args: argparse.Namespace) -> SynthConfig:
    """The target robot's camera and scenes."""
    return SynthConfig(
        height=192,
        width=640,
        layout=args.layout,
        baseline_m=args.baseline_m,
        hfov_deg=(40.0, 100.0),
        camera_height_m=tuple(args.camera_height),
    )


def render(root: Path, synth: StereoSynthesizer, seed0: int, n: int, desc: str) -> Path:
    """n target frames from seeds seed0.. into a folder dataset (frames already there are kept)."""
    render_to_folder(synth, root, seed0, n, resume=True, desc=desc)
    return root


def adapt_teacher(data: Path, run: Path, seed: int, args: argparse.Namespace) -> Path:
    d = default_adapt_config(str(data), args.teacher, str(run))
    d["data"].update(height=96, width=320)
    overrides = [
        f"train.steps={args.adapt_steps}",
        f"train.seed={seed}",
        "train.threads=2",
        "train.cpu_bf16=true",
        "train.channels_last=true",
        "train.image_every=0",
    ]
    return _train_once(run, load_train_config(None, overrides, **d))


def distill_student(data: Path, run: Path, teacher: str, seed: int, gt: bool, args) -> Path:
    # a depth folder that does not exist = pairs without labels (the supervised term has nothing to act on)
    augment = load_train_config(STUDENT_CONFIG).data.kwargs["augment"]  # the bundled student's recipe
    kwargs = {"root": str(data), "depth_dir": "depth" if gt else "no-labels", "augment": augment}
    overrides = [
        "data.dataset=folder",
        f"data.kwargs={json.dumps(kwargs)}",
        f"teacher_checkpoint={teacher}",
        f"init_checkpoint={args.student}",
        f"train.steps={args.student_steps}",
        f"train.seed={seed}",
        f"train.run_dir={run}",
        "train.image_every=0",
        "train.ckpt_every=50",
        "val.every=0",
        f"optim.lr={args.lr}",
        "optim.warmup_steps=20",
    ]
    if gt:  # ablation row 1: ground truth only
        overrides.append(f"loss={json.dumps(to_dict(LossConfig.ablation_row('1')))}")
    return _train_once(run, load_train_config(STUDENT_CONFIG, overrides))


def _train_once(run: Path, cfg) -> Path:
    model = run / "model.pt"
    if model.is_file():
        return model
    resume = "auto" if (run / "checkpoints" / "last.pt").is_file() else None
    return train(cfg, resume=resume)


def score(checkpoint: Path, test: list, out: Path) -> dict:
    """Metric AbsRel / δ1 / RMSE on the held-out target frames (true fx), cached in ``out``."""
    if out.is_file():
        return json.loads(out.read_text())
    model, card = load_model(checkpoint)
    res = evaluate_model(model, card, test, EvalOptions(max_depth_m=80.0, figures=0), progress=False)
    m = {k: float(res.mean[k]) for k in ("abs_rel", "rmse", "a1", "silog")}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(m, indent=2))
    return m


def run_seed(seed: int, out: Path, synth: StereoSynthesizer, test: list, args) -> dict:
    work = out / f"seed{seed}"
    data = render(work / "pairs", synth, TRAIN_SEED0 + 10_000 * seed, args.n_train, f"seed {seed} pairs")
    teacher = adapt_teacher(data, work / "teacher", seed, args)
    runs = {
        "adapted": lambda r: distill_student(data, r, str(teacher), seed, False, args),
        "unadapted_teacher": lambda r: distill_student(data, r, args.teacher, seed, False, args),
        "gt": lambda r: distill_student(data, r, args.teacher, seed, True, args),
    }
    result = {
        "teacher_before": score(bundled_or_path(args.teacher, "teacher"), test, out / "teacher_before.json")
    }
    result["teacher_after"] = score(teacher, test, work / "teacher" / "metrics_target.json")
    result["before"] = score(bundled_or_path(args.student, "student"), test, out / "student_before.json")
    for arm, fit in runs.items():
        t0 = time.time()
        ckpt = fit(work / arm)
        result[arm] = score(ckpt, test, work / arm / "metrics_target.json")
        print(f"seed {seed} {arm}: AbsRel {result[arm]['abs_rel']:.3f} ({(time.time() - t0) / 60:.1f} min)")
    b, a, g = (result[k]["abs_rel"] for k in ("before", "adapted", "gt"))
    result["gap_closed"] = (b - a) / (b - g) if b != g else float("nan")
    return result


def table(per_seed: dict[int, dict]) -> str:
    rows = ["| model | AbsRel | δ1 | RMSE (m) |", "|---|---|---|---|"]
    names = {
        "teacher_before": "teacher, bundled (stereo)",
        "teacher_after": "teacher, adapted (no labels)",
        "before": "student, bundled",
        "unadapted_teacher": "student, distilled from the bundled teacher",
        "adapted": "student, distilled from the adapted teacher",
        "gt": "student, target ground truth (upper ref.)",
    }
    for key, name in names.items():
        cells = []
        for metric in ("abs_rel", "a1", "rmse"):
            v = np.array([r[key][metric] for r in per_seed.values()])
            cells.append(f"{v.mean():.3f} ± {v.std():.3f}")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    gap = np.array([r["gap_closed"] for r in per_seed.values()])
    rows.append(
        f"\ngap closed by the label-free recipe: {gap.mean():.2f} ± {gap.std():.2f} "
        f"(per seed: {', '.join(f'{g:.2f}' for g in gap)})"
    )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs/domain_shift"))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument(
        "--teacher", default="default", help="source teacher checkpoint (default: the bundled one)"
    )
    p.add_argument(
        "--student",
        default="default",
        help="source student checkpoint, also the start of every fine-tuned arm (default: the bundled one; "
        "docs/results/domain_shift.md used the one bundled at commit cde7692)",
    )
    p.add_argument("--n-train", type=int, default=120, help="unlabeled target pairs per seed")
    p.add_argument("--n-test", type=int, default=40, help="held-out target frames (shared by all seeds)")
    p.add_argument("--adapt-steps", type=int, default=150)
    p.add_argument("--student-steps", type=int, default=150)
    p.add_argument("--lr", type=float, default=2e-4, help="student fine-tuning learning rate")
    p.add_argument("--layout", default="street")
    p.add_argument("--camera-height", type=float, nargs=2, default=(0.3, 0.6))
    p.add_argument("--baseline-m", type=float, default=0.12)
    p.add_argument("--json", type=Path, help="write every number here")
    args = p.parse_args(argv)
    synth = StereoSynthesizer(target_config(args))
    folder = FolderStereo(render(args.out / "test", synth, TEST_SEED, args.n_test, "held-out frames"))
    test = [folder[i] for i in range(len(folder))]
    t0 = time.time()
    per_seed = {s: run_seed(s, args.out, synth, test, args) for s in args.seeds}
    print(table(per_seed))
    print(f"wall time {(time.time() - t0) / 60:.1f} min")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in vars(args).items()
            if k not in ("out", "json")
        }
        args.json.write_text(json.dumps({"args": meta, "per_seed": per_seed}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
