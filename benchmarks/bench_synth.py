"""Synthetic stereo generator throughput (frames/s) on this machine's CPU.

    python benchmarks/bench_synth.py                          # 192x640, 1 and 2 threads, + DataLoader(2 workers)
    python benchmarks/bench_synth.py --frames 20 --threads 1 --workers 0 --json bench_synth.json

A frame is a full stereo render (left + right image and depth, plus the 64-beam LiDAR for the
"+lidar" rows) from a fresh seed, after one warm-up frame that also loads the textures.
Reported: frames/s from the median frame time, and the median / min time per frame in ms.
The "loader" row is what training sees: SyntheticStereo -> StereoDataset (flip + photometric
augmentation) -> DataLoader(batch 1, --workers processes, 1 torch thread each), samples/s over
--frames x workers samples after the first batch. On a shared machine use --threads 1: OpenMP
threads oversubscribe badly when other processes are busy.
"""

from __future__ import annotations

import argparse
import json
import os
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
    name = f"{config.layout}{'+lidar' if config.lidar else ''}"
    for seed in tqdm(range(1, frames + 1), desc=name, leave=False):
        t0 = time.perf_counter()
        synth.render(seed)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def loader_rate(h: int, w: int, frames: int, workers: int) -> float:
    """Samples/s of the training input pipeline on synthetic street scenes."""
    from adu_depth_core.data import AugmentConfig, StereoDataset
    from adu_depth_core.data.synthetic import SyntheticStereo

    n = frames * workers + 2 * workers
    ds = StereoDataset(SyntheticStereo(n=n, size=(h, w)), size=(h, w), augment=AugmentConfig())
    loader = torch.utils.data.DataLoader(ds, batch_size=1, num_workers=workers)
    it = iter(loader)
    for _ in range(workers):  # workers started, textures loaded
        next(it)
    t0 = time.perf_counter()
    count = 0
    for _ in tqdm(it, total=n - workers, desc="loader", leave=False):
        count += 1
    return count / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="192x640", help="HxW render size (default 192x640)")
    parser.add_argument("--frames", type=int, default=10, help="timed frames per case (default 10)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch CPU thread counts")
    parser.add_argument(
        "--workers", type=int, default=2, help="DataLoader workers for the loader row (0: skip)"
    )
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    h, w = (int(x) for x in args.size.lower().split("x"))
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for layout, lidar in CASES:
            t = time_frames(
                SynthConfig(height=h, width=w, layout=layout, lidar=lidar), args.frames, args.device
            )
            med = statistics.median(t)
            name = layout + ("+lidar" if lidar else "")
            rows.append(
                {"case": name, "threads": threads, "fps": 1e3 / med, "median_ms": med, "min_ms": min(t)}
            )
    if args.workers > 0:
        rate = loader_rate(h, w, args.frames, args.workers)
        rows.append(
            {"case": f"loader x{args.workers}", "threads": 1, "fps": rate, "median_ms": None, "min_ms": None}
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"synthetic stereo generator, {h}x{w}, device={args.device}, {os.cpu_count()} CPUs "
        f"({platform.machine()}), load average {load:.1f} at the end"
    )
    print(f"{'case':<14} {'threads':>7} {'frames/s':>9} {'median ms':>10} {'min ms':>8}")
    for r in rows:
        med = "" if r["median_ms"] is None else f"{r['median_ms']:.1f}"
        low = "" if r["min_ms"] is None else f"{r['min_ms']:.1f}"
        print(f"{r['case']:<14} {r['threads']:>7} {r['fps']:>9.2f} {med:>10} {low:>8}")
    if args.json:
        meta = {
            "size": [h, w],
            "device": args.device,
            "cpus": os.cpu_count(),
            "load_average": load,
            "rows": rows,
        }
        atomic_write_bytes(args.json, lambda f: f.write(json.dumps(meta, indent=2).encode()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
