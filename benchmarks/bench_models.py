"""Parameters, GFLOPs and CPU forward latency of every student encoder and the teacher.

    python benchmarks/bench_models.py                       # 192x640 and 352x1216, table
    python benchmarks/bench_models.py --repeats 10 --json bench_models.json

GFLOPs are counted with ``torch.utils.flop_counter.FlopCounterMode`` (2 FLOPs per
multiply-add of conv / matmul; elementwise ops not counted), batch 1. Latency is the
median (and min) wall time of ``--repeats`` forwards under ``torch.inference_mode`` after
``--warmup`` runs, on this machine's CPU with ``--threads`` threads.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode
from tqdm import tqdm

from adu_depth_core.checkpoint import atomic_write_bytes
from adu_depth_core.models import ENCODERS, create_student, create_teacher

SIZES = ((192, 640), (352, 1216))


def _inputs(name: str, h: int, w: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    n = 2 if name.startswith("teacher") else 1
    return tuple(torch.rand(1, 3, h, w, generator=g) for _ in range(n))


def count_gflops(model: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> float:
    """Forward FLOPs / 1e9 (conv + matmul, 2 per MAC)."""
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(*inputs)
    return counter.get_total_flops() / 1e9


def latency_ms(
    model: torch.nn.Module, inputs: tuple[torch.Tensor, ...], warmup: int, repeats: int
) -> tuple[float, float]:
    """(median, min) forward wall time in milliseconds."""
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            t0 = time.perf_counter()
            model(*inputs)
            if i >= warmup:
                times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times), min(times)


def models_to_bench(teacher_encoders: list[str]) -> dict[str, callable]:
    """Name -> builder (random weights: speed does not depend on them)."""
    builders = {f"student/{e}": (lambda e=e: create_student(e, pretrained=False)) for e in ENCODERS.names()}
    for e in teacher_encoders:
        builders[f"teacher/{e}"] = lambda e=e: create_teacher(e, pretrained=False)
    return builders


def run(args: argparse.Namespace) -> list[dict]:
    torch.set_num_threads(args.threads)
    rows = []
    builders = models_to_bench(args.teacher_encoders)
    unknown = sorted(set(args.only or []) - set(builders))
    if unknown:
        raise SystemExit(f"unknown model(s) {unknown}; choose from {sorted(builders)}")
    jobs = [(n, b, s) for n, b in builders.items() for s in SIZES if not args.only or n in args.only]
    for name, build, (h, w) in tqdm(jobs, desc="bench", unit="model"):
        torch.manual_seed(0)
        model = build().eval()
        inputs = _inputs(name, h, w)
        median_ms, min_ms = latency_ms(model, inputs, args.warmup, args.repeats)
        rows.append(
            {
                "model": name,
                "height": h,
                "width": w,
                "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
                "gflops": count_gflops(model, inputs),
                "latency_ms": median_ms,
                "latency_min_ms": min_ms,
            }
        )
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"{'model':<28} {'input':>10} {'params (M)':>11} {'GFLOPs':>9} {'median ms':>10} {'min ms':>9}")
    for r in rows:
        size = f"{r['height']}x{r['width']}"
        print(
            f"{r['model']:<28} {size:>10} {r['params_m']:>11.2f} {r['gflops']:>9.2f} "
            f"{r['latency_ms']:>10.1f} {r['latency_min_ms']:>9.1f}"
        )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    p.add_argument("--warmup", type=int, default=2, help="untimed forwards per model and size")
    p.add_argument("--repeats", type=int, default=5, help="timed forwards (median reported)")
    p.add_argument(
        "--teacher-encoders", nargs="+", default=["efficientnet_lite0"], help="teacher encoders to include"
    )
    p.add_argument(
        "--only", nargs="+", metavar="NAME", help="bench only these models (e.g. student/resnet18)"
    )
    p.add_argument("--json", metavar="PATH", help="also write the rows and machine info as JSON")
    args = p.parse_args()
    rows = run(args)
    print_table(rows)
    if args.json:
        info = {
            "torch": torch.__version__,
            "cpu": platform.processor() or platform.machine(),
            "threads": args.threads,
            "warmup": args.warmup,
            "repeats": args.repeats,
        }
        text = json.dumps({"machine": info, "rows": rows}, indent=2)
        atomic_write_bytes(args.json, lambda f: f.write(text.encode()))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
