"""A training run's TensorBoard scalars as one CSV (a row per logged step), for committing next to results.

    python benchmarks/tb_to_csv.py runs/camera/student_v3 docs/results/camera/student_v3_log.csv

Columns: step, then every scalar tag (train/loss, train/<term>, train/lr, val/<metric>, ...) in sorted
order; a cell is empty where that tag was not logged at that step (validation runs less often).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path


def scalars(run_dir: Path) -> dict[str, dict[int, float]]:
    """tag -> {step: value} from every event file under run_dir/tb (the last value wins on repeats)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tb = run_dir / "tb"
    if not tb.is_dir():
        raise FileNotFoundError(f"{tb} does not exist: give a run folder written by train-teacher or distill")
    acc = EventAccumulator(str(tb), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: {e.step: e.value for e in acc.Scalars(tag)} for tag in acc.Tags()["scalars"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", type=Path)
    p.add_argument("out", type=Path)
    args = p.parse_args(argv)
    try:
        data = {tag: v for tag, v in scalars(args.run_dir).items() if not tag.startswith("speed/")}
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tags = sorted(data)
    steps = sorted({s for v in data.values() for s in v})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", *tags])
        for s in steps:
            w.writerow([s, *(f"{data[t][s]:.6g}" if s in data[t] else "" for t in tags)])
    print(f"wrote {args.out}: {len(steps)} steps x {len(tags)} tags")
    return 0


if __name__ == "__main__":
    sys.exit(main())
