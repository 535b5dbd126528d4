"""``adu-depth bench``: end-to-end latency (p50/p90/p99), FPS and GFLOP/s per backend x precision x resolution."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

COMMAND = "bench"
HELP = "Benchmark infer() latency per backend x precision x resolution (pre/post-processing included)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from adu_depth_core.runtime.cli_args import parse_hw, thread_count

    parser.add_argument(
        "--model", default="default", help="checkpoint (any size), .onnx / .engine (its own size), 'default'"
    )
    parser.add_argument(
        "--backends", default="torch,onnxruntime", help="comma list: torch, onnxruntime, tensorrt"
    )
    parser.add_argument("--precisions", default="fp32", help="comma list: fp32, fp16, int8")
    parser.add_argument("--resolutions", default="192x640,352x1216", help="comma list of network sizes HxW")
    parser.add_argument(
        "--image-size", type=parse_hw, default=(375, 1242), help="camera image size fed to infer"
    )
    parser.add_argument("--iters", type=int, default=50, help="timed calls per case")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls per case first")
    parser.add_argument("--rounds", type=int, default=5, help="interleave cases in this many rounds")
    parser.add_argument(
        "--threads",
        type=thread_count,
        default=None,
        help="CPU threads for torch / ONNX Runtime (at most 4 per CPU)",
    )
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N")
    parser.add_argument("--cache-dir", default=None, help="where exported ONNX / engines are cached")
    parser.add_argument("--json", default=None, help="also write the rows as JSON here")


def run(args: argparse.Namespace) -> int:
    import os
    import platform

    from adu_depth_core.runtime.bench import BenchConfig, format_table, ratios, run_bench
    from adu_depth_core.runtime.cache import write_atomic
    from adu_depth_core.runtime.cli_args import parse_hw

    try:
        cfg = BenchConfig(
            model=args.model,
            backends=tuple(b.strip() for b in args.backends.split(",") if b.strip()),
            precisions=tuple(p.strip() for p in args.precisions.split(",") if p.strip()),
            resolutions=tuple(parse_hw(r) for r in args.resolutions.split(",") if r.strip()),
            image_hw=args.image_size,
            iters=args.iters,
            warmup=args.warmup,
            rounds=max(1, min(args.rounds, args.iters)),
            num_threads=args.threads,
            device=args.device,
            cache_dir=None if args.cache_dir is None else Path(args.cache_dir),
        )
        rows = run_bench(cfg)
    except (ValueError, RuntimeError, argparse.ArgumentTypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, threads={args.threads or 'library default'}"
    print(
        f"model {args.model}; {machine}; latency of whole infer() calls, image {cfg.image_hw[0]}x{cfg.image_hw[1]}"
    )
    print(format_table(rows))
    for key, value in ratios(rows).items():
        print(f"onnxruntime vs torch, {key}: {value:.2f}x faster (p50, same run)")
    if args.json:
        payload = {
            "config": {**vars(cfg), "cache_dir": str(cfg.cache_dir)},
            "machine": machine,
            "rows": [r.to_dict() for r in rows],
        }
        write_atomic(args.json, json.dumps(payload, indent=2).encode())
        print(f"wrote {args.json}")
    return 0 if any(r.status == "ok" for r in rows) else 1
