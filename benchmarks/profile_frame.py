"""Stage table of the depth node's frame work in one process (no transport): where the milliseconds go.

    python benchmarks/profile_frame.py --model random --network 192x640 --height 375 --width 1242 --threads 2

Times ``FrameProcessor.run`` (the node's whole frame: convert, the core frame
recipe, wrapping into rclpy messages) and the CDR serialization that
``publish`` does, for each set of outputs, next to the bare
``DepthEstimator.infer`` on the same frame, interleaved frame by frame so load
drifts cancel in the ratios. ``est x`` is 1 + (the node's time beyond its own
inference) / bare: the node's overhead without the inference-time noise. Uses only the pipeline's public surface, so the
same script profiles an older checkout (PYTHONPATH=<that tree>) for a before/after table.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

SETS = {
    "depth+unc+info": ("depth", "uncertainty", "camera_info"),
    "+points": ("depth", "uncertainty", "camera_info", "points"),
    "all": ("depth", "uncertainty", "camera_info", "points", "color"),
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="random", help="model file, 'default' or 'random'")
    p.add_argument("--network", default="192x640", help="network HxW of --model random")
    p.add_argument("--backend", default="onnxruntime")
    p.add_argument("--height", type=int, default=375)
    p.add_argument("--width", type=int, default=1242)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--param", action="append", default=[], help="extra node parameter name=value")
    p.add_argument("--json", type=Path, default=None)
    return p.parse_args(argv)


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_node import resolve_model
    from rclpy.serialization import serialize_message

    from adu_depth_core.runtime import DepthEstimator
    from adu_depth_ros import conversions as C
    from adu_depth_ros.params import DepthNodeConfig
    from adu_depth_ros.pipeline import CameraInfoCache, FrameProcessor
    from adu_depth_ros.testing import gradient_image, make_camera_info

    try:  # what depth_node does at start-up (absent in older checkouts)
        from adu_depth_ros.process_memory import keep_large_buffers

        print(keep_large_buffers())
    except ImportError:
        print("no adu_depth_ros.process_memory here: malloc defaults")
    h, w = args.height, args.width
    rgb = gradient_image(h, w, seed=0)
    info = make_camera_info(w, h, 0.9 * w, 0.9 * w, w / 2, h / 2)
    msg = C.numpy_to_image(rgb, "rgb8", info.header)
    with tempfile.TemporaryDirectory() as tmp:
        ns = argparse.Namespace(model=args.model, network=args.network, height=h, width=w)
        model = resolve_model(ns, Path(tmp))
        est = DepthEstimator.from_file(model, backend=args.backend, num_threads=args.threads)
    infos = CameraInfoCache()
    infos.add(info)
    params = {"cpu_threads": args.threads, **dict(kv.split("=", 1) for kv in args.param)}
    cfg = DepthNodeConfig.from_values({k: _value(str(v)) for k, v in params.items()})
    proc = FrameProcessor(est, infos)
    stages: dict[str, dict[str, list[float]]] = {k: defaultdict(list) for k in SETS}
    for i in range(args.frames + 2):
        for name, wanted in SETS.items():
            t0 = time.perf_counter()
            est.infer(rgb, K=None)
            bare = 1e3 * (time.perf_counter() - t0)
            t1 = time.perf_counter()
            res = proc.run(msg, cfg, frozenset(wanted))
            t2 = time.perf_counter()
            for m in res.messages.values():
                serialize_message(m)
            t3 = time.perf_counter()
            if i < 2:
                continue
            s = stages[name]
            s["bare"].append(bare)
            s["node"].append(1e3 * (t3 - t1))
            s["serialize"].append(1e3 * (t3 - t2))
            s["beyond_infer"].append(1e3 * (t3 - t1) - res.timings_ms["infer"])
            for k, v in res.timings_ms.items():
                s[k].append(v)
    table = {}
    for name, s in stages.items():
        row = {k: float(np.median(v)) for k, v in s.items()}
        row["ratio"] = row["node"] / row["bare"]  # raw: inference time noise enters twice
        row["ratio_est"] = 1.0 + row["beyond_infer"] / row["bare"]  # bare + the node's own work, over bare
        table[name] = row
    print(
        f"\nframe stages p50 ms, camera {h}x{w}, network {est.network_hw}, {args.backend}, {args.threads} threads"
    )
    keys = sorted({k for row in table.values() for k in row} - {"ratio", "ratio_est", "bare", "node"})
    head = f"{'outputs':<16}{'bare':>7}{'node':>7}{'x bare':>8}{'est x':>7}  "
    print(head + " ".join(f"{k:>10}" for k in keys))
    for name, row in table.items():
        cells = " ".join(f"{row.get(k, float('nan')):>10.2f}" for k in keys)
        ratios = f"{row['ratio']:>8.3f}{row['ratio_est']:>7.3f}"
        print(f"{name:<16}{row['bare']:>7.1f}{row['node']:>7.1f}{ratios}  {cells}")
    if args.json:
        args.json.write_text(
            json.dumps({"camera": f"{h}x{w}", "network": args.network, "table": table}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
