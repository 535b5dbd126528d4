"""Synthetic stereo generator throughput (frames/s) on this machine's CPU.

    python benchmarks/bench_synth.py                              # 192x640, street and room, table
    python benchmarks/bench_synth.py --frames 20 --threads 2 --json bench_synth.json

A frame is a full stereo render (left + right image and depth, plus the 64-beam LiDAR for the
"+lidar" rows), from a fresh seed each time, after one warm-up frame that also loads textures.
Reported: frames/s from the median frame time, and the median / min time per frame in ms.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch
from tqdm import tqdm

from adu_depth_core.checkpoint import atomic_write_bytes
from adu_depth_core.data.synthetic import StereoSynthesizer, SynthConfig

CASES = (("street", False), ("street", True), ("room", False))


def time_frames(config: SynthConfig, frames: int, device: str) -> list[float]:
    """Wall time (ms) of `frames` renders with distinct seeds, after one warm-up render."""
    synth = StereoSynthesizer(config, device)
    synth.render(0)
    times = []
    for seed in tqdm(
        range(1, frames + 1), desc=f"{config.layout}{'+lidar' if config.lidar else ''}", leave=False
    ):
        t0 = time.perf_counter()
        synth.render(seed)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="192x640", help="HxW render size (default 192x640)")
    parser.add_argument("--frames", type=int, default=10, help="timed frames per case (default 10)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    h, w = (int(x) for x in args.size.lower().split("x"))
    rows = []
    for layout, lidar in CASES:
        times = time_frames(
            SynthConfig(height=h, width=w, layout=layout, lidar=lidar), args.frames, args.device
        )
        med = statistics.median(times)
        rows.append(
            {
                "layout": layout,
                "lidar": lidar,
                "height": h,
                "width": w,
                "frames": args.frames,
                "fps": 1e3 / med,
                "median_ms": med,
                "min_ms": min(times),
            }
        )
    print(
        f"synthetic stereo generator, {h}x{w}, device={args.device}, torch threads={args.threads}, "
        f"{platform.processor() or platform.machine()}"
    )
    print(f"{'case':<14} {'frames/s':>9} {'median ms':>10} {'min ms':>8}")
    for r in rows:
        name = r["layout"] + ("+lidar" if r["lidar"] else "")
        print(f"{name:<14} {r['fps']:>9.2f} {r['median_ms']:>10.1f} {r['min_ms']:>8.1f}")
    if args.json:
        meta = {"device": args.device, "threads": args.threads, "machine": platform.machine(), "rows": rows}
        atomic_write_bytes(args.json, lambda f: f.write(json.dumps(meta, indent=2).encode()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
