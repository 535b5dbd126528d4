"""Both training stages at full resolution on one GPU, inside a wall-clock budget (about ten minutes).

    python -m adu_depth_core.train.gpu_recipe --out runs/gpu --minutes 10          # on a CUDA machine
    python -m adu_depth_core.train.gpu_recipe --out /tmp/smoke --smoke --device cpu  # a 1-minute dry run

1. **Render** streets, furnished rooms and close-range workshops on the GPU (random camera per frame,
   exact depth and 64-beam LiDAR-like depth) into a cache under ``OUT/cache``, round-robin in chunks,
   until the render share of the budget is spent or each layout has its target count.
2. **Teacher**: ``config/train/camera_teacher_finetune.yaml`` at ``--size`` (default 192x640), batch
   ``--batch``, from the bundled teacher, time-boxed (``train.max_minutes``: the run measures its speed
   after 25 steps and plans its length so the cosine schedule ends inside its share).
3. **Student**: ``config/train/camera_student_v3.yaml`` at the same size, distilled from that teacher,
   from the bundled student, time-boxed the same way; its card records the input size.

Everything lands in ``OUT``: ``cache/<layout>``, ``teacher/`` and ``student/`` run folders (config,
TensorBoard log, checkpoints, ``model.pt``) and ``summary.json`` (device, frames, steps, wall times).
``--resume`` completes an interrupted recipe: frames already rendered are kept and each stage continues
from its ``checkpoints/last.pt``. Package the results on any machine with ``adu_depth_core.train.bundle``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEACHER_CONFIG = REPO / "config/train/camera_teacher_finetune.yaml"
STUDENT_CONFIG = REPO / "config/train/camera_student_v3.yaml"
# layout -> (first seed, share of the frames); seeds are disjoint from the CPU caches
LAYOUTS = {"street": (5_000_000, 0.6), "room": (6_000_000, 0.15), "workshop": (7_000_000, 0.25)}
SHARES = {"render": 0.2, "teacher": 0.35, "student": 0.45}  # of the budget, in this order


@dataclass
class Plan:
    out: Path
    minutes: float
    device: str
    size: tuple[int, int]
    batch: int
    frames: int  # target frames over all layouts
    workers: int
    resume: bool
    smoke: bool = False


def render_cache(plan: Plan, budget_s: float) -> dict:
    """Round-robin chunks of each layout until the budget or the targets are reached; returns counts."""
    from adu_depth_core.data.layouts import TRAINING_HFOV_DEG
    from adu_depth_core.data.synthetic import StereoSynthesizer, SynthConfig, render_to_folder

    h, w = plan.size
    synths = {
        name: StereoSynthesizer(
            SynthConfig(height=h, width=w, layout=name, hfov_deg=TRAINING_HFOV_DEG[name], lidar=True),
            plan.device,
        )
        for name in LAYOUTS
    }
    targets = {name: max(2, round(plan.frames * share)) for name, (_, share) in LAYOUTS.items()}
    counts = dict.fromkeys(LAYOUTS, 0)  # frames already on disk are kept (resume=True), not re-rendered
    chunk = 4 if plan.smoke else 64
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < budget_s and any(counts[n] < targets[n] for n in LAYOUTS):
        for name, (seed0, _) in LAYOUTS.items():
            if counts[name] >= targets[name]:
                continue
            n = min(counts[name] + chunk, targets[name])
            render_to_folder(
                synths[name],
                plan.out / "cache" / name,
                seed0,
                n,
                first=counts[name],
                resume=True,
                desc=name,
                generator={"layout": name, "seed": seed0, "lidar": True},
            )
            counts[name] = n
    return {"frames": counts, "seconds": time.perf_counter() - t0}


def train_stage(plan: Plan, config: Path, run_dir: Path, minutes: float, extra: list[str]) -> dict:
    """One time-boxed training run; returns its model path, steps and wall time."""
    import yaml

    from adu_depth_core.train.checkpoints import find_resume_checkpoint
    from adu_depth_core.train.config import load_train_config
    from adu_depth_core.train.runner import train

    h, w = plan.size
    roots = [str(plan.out / "cache" / name) for name in LAYOUTS]
    overrides = [
        f"data.kwargs.roots={json.dumps(roots)}",
        f"data.height={h}",
        f"data.width={w}",
        f"data.batch_size={plan.batch}",
        f"data.workers={plan.workers}",
        f"train.run_dir={run_dir}",
        f"train.device={plan.device}",
        f"train.max_minutes={minutes}",
        "train.steps=1000000",  # the time box plans the real length
        "train.threads=0",
        "train.ckpt_every=200",
        "train.image_every=0",
        "val.every=0",  # the final validation still runs; scoring is the bundle's job
        *extra,
    ]
    if plan.smoke:
        overrides += ["val.num_images=2", "val.kwargs.n=2", f"val.kwargs.size=[{h}, {w}]"]
    cfg = load_train_config(config, overrides)
    t0 = time.perf_counter()
    resume = None
    if plan.resume and (run_dir / "checkpoints" / "last.pt").is_file():
        resume = str(find_resume_checkpoint("auto", run_dir))
    model = train(cfg, resume=resume)
    steps = yaml.safe_load((run_dir / "config.yaml").read_text())["train"]["steps"]
    return {"model": str(model), "steps": int(steps), "seconds": time.perf_counter() - t0}


def run(plan: Plan) -> dict:
    import torch

    budget = plan.minutes * 60.0
    plan.out.mkdir(parents=True, exist_ok=True)
    device = (
        torch.cuda.get_device_name(0)
        if plan.device.startswith("cuda")
        else f"cpu ({torch.get_num_threads()} threads)"
    )
    summary = {"device": device, "size": list(plan.size), "batch": plan.batch, "minutes": plan.minutes}
    t0 = time.perf_counter()
    summary["render"] = render_cache(plan, budget * SHARES["render"])
    left = lambda: max(budget - (time.perf_counter() - t0), 60.0 * 0.1)  # noqa: E731
    teacher_min = left() * SHARES["teacher"] / (SHARES["teacher"] + SHARES["student"]) / 60.0
    summary["teacher"] = train_stage(
        plan, TEACHER_CONFIG, plan.out / "teacher", teacher_min, ["init_checkpoint=default"]
    )
    summary["student"] = train_stage(
        plan,
        STUDENT_CONFIG,
        plan.out / "student",
        left() / 60.0,
        [
            f"teacher_checkpoint={summary['teacher']['model']}",
            "init_checkpoint=default",
            f"data.card_size=[{plan.size[0]}, {plan.size[1]}]",
        ],
    )
    summary["total_seconds"] = time.perf_counter() - t0
    (plan.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="output folder (cache, runs, summary.json)")
    p.add_argument("--minutes", type=float, default=10.0, help="wall-clock budget for all three stages")
    p.add_argument("--device", default="cuda")
    p.add_argument("--size", default="192x640", help="render and training size HxW")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--frames", type=int, default=6000, help="target frames over all layouts")
    p.add_argument("--workers", type=int, default=6, help="data-loading processes")
    p.add_argument("--resume", action="store_true", help="keep rendered frames and continue each stage")
    p.add_argument(
        "--smoke", action="store_true", help="tiny everything: check the recipe runs (CPU is fine)"
    )
    args = p.parse_args(argv)
    h, w = (int(x) for x in args.size.lower().split("x"))
    if args.smoke:  # a dry run of every stage: tiny frames, few of them, a short budget
        h, w, args.frames, args.batch, args.workers = 64, 192, 12, 2, 0
        args.minutes = min(args.minutes, 1.5)
    missing = [str(c) for c in (TEACHER_CONFIG, STUDENT_CONFIG) if not c.is_file()]
    if missing:
        print(
            f"error: the recipe's configs are missing ({', '.join(missing)}): run it from a clone of the "
            "repository",
            file=sys.stderr,
        )
        return 2
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            print(
                "error: --device cuda but no CUDA device is visible; use --device cpu --smoke for a dry run",
                file=sys.stderr,
            )
            return 2
    plan = Plan(
        args.out,
        args.minutes,
        args.device,
        (h, w),
        args.batch,
        args.frames,
        args.workers,
        args.resume,
        args.smoke,
    )
    summary = run(plan)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
