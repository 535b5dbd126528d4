"""Choose the distillation defaults on synthetic validation scenes only (never on the real frames).

    python benchmarks/select_defaults.py --config config/train/ablation_camera.yaml \
        --json docs/results/ablation_camera_selection.json

Trains the full ADU-Depth row (6) of the ablation config once per candidate setting, with the ablation's
data, steps and seed 0, and scores each on validation scenes whose seeds (20,000,000+) are disjoint from
the training scenes and from the ablation's test sets. Candidates are tried in stages: the teacher
confidence temperature first (its weight exp(-b/T) is nearly flat at T = 1, docs/results/
uncertainty_calibration.md), then the attention temperature tau at the chosen T. The winner of a stage
is the lowest mean validation AbsRel over street and room frames. Finished candidates are reused.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

from adu_depth_core.config import LossConfig
from adu_depth_core.data.layouts import TRAINING_HFOV_DEG
from adu_depth_core.train.ablation import EvalSet, load_ablation_config, run_one
from adu_depth_core.train.bundle import SELECT_SEED, SELECTION_SETS  # the scenes every default is chosen on


def _validation(layout: str, n: int) -> EvalSet:
    """The first n selection scenes of a layout."""
    kwargs = {
        "n": n,
        "seed": SELECT_SEED + SELECTION_SETS[layout][1],
        "size": [192, 640],
        "hfov_deg": list(TRAINING_HFOV_DEG[layout]),
        "layout": layout,
    }
    return EvalSet(dataset="synthetic", kwargs=kwargs, num_images=n)


VALIDATION = {"val_street": _validation("street", 16), "val_room": _validation("room", 8)}
STAGES = (("conf_temperature", (1.0, 0.1)), ("tau", (1.0, 10.0)))
DEFAULTS = LossConfig()


def score(result: dict) -> float:
    """Mean validation AbsRel over all validation frames."""
    n = {k: VALIDATION[k].num_images for k in VALIDATION}
    return sum(result["eval"][k]["abs_rel"] * n[k] for k in n) / sum(n.values())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="config/train/ablation_camera.yaml")
    p.add_argument("--out-dir", default="runs/ablation_camera_select")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    base = load_ablation_config(args.config)
    base.eval, base.rows, base.seeds = dict(VALIDATION), ["6"], [0]
    chosen: dict[str, float] = {}
    rows = []
    for name, values in STAGES:
        best = None
        for v in values:
            cfg = copy.deepcopy(base)
            cfg.loss_overrides = {**base.loss_overrides, **chosen, name: v}
            # settings at their default are left out of the folder name: one run per distinct config
            tag = "_".join(f"{k}{x:g}" for k, x in cfg.loss_overrides.items() if x != getattr(DEFAULTS, k))
            tag = tag or "defaults"
            cfg.out_dir = str(Path(args.out_dir) / tag)
            result = run_one(cfg, "6", 0, str(base.teacher.checkpoint))
            s = score(result)
            rows.append(
                {
                    "stage": name,
                    **cfg.loss_overrides,
                    "val_abs_rel": s,
                    **{f"{k}_abs_rel": result["eval"][k]["abs_rel"] for k in VALIDATION},
                }
            )
            print(f"{tag}: validation AbsRel {s:.4f}", flush=True)
            if best is None or s < best[1]:
                best = (v, s)
        chosen[name] = best[0]
        print(f"chosen {name} = {best[0]:g}", flush=True)
    print("| stage | setting | street AbsRel | room AbsRel | mean |\n|---|---|---|---|---|")
    for r in rows:
        setting = ", ".join(f"{k}={r[k]:g}" for k, _ in STAGES if k in r)
        print(
            f"| {r['stage']} | {setting} | {r['val_street_abs_rel']:.4f} | {r['val_room_abs_rel']:.4f} "
            f"| {r['val_abs_rel']:.4f} |"
        )
    print(f"chosen: {chosen}")
    if args.json:
        args.json.write_text(json.dumps({"chosen": chosen, "candidates": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
