"""Depth node end-to-end latency next to the bare DepthEstimator on the same frames, and the point-cloud cost.

    python benchmarks/bench_node.py                          # 192x640, bundled student if installed
    python benchmarks/bench_node.py --model student.pt --frames 40 --json bench_node.json

The node runs as its own process (``adu_depth_ros.depth_node.main``, what the
``depth_node`` script runs); this process publishes 192x640 rgb8 frames with camera_info over loopback
(reliable QoS, one frame at a time, so no frame waits behind another) and times
publish -> last requested output received. Phases, interleaved over ``--rounds``:

* ``bare``: ``DepthEstimator.infer`` in this process on the same frame, timed
  just before each node frame (paired, so machine load drifts cancel in the ratio);
* ``node``: outputs depth + uncertainty + camera_info (what a depth consumer reads);
* ``node+points``: the same plus the organised xyz+rgb cloud;
* ``node+all``: plus colourised depth.

The point-cloud cost is ``node+points - node`` (end to end), and the node's own
``points`` stage from /diagnostics (back-projection + message build).
``--model random`` (or no ``--model`` and no bundled student) times a
random-weight student whose network runs at ``--height x --width`` (speed does
not depend on the weights).
Large messages (a 192x640 organised cloud is ~2 MB) do not fit Fast DDS's
default 0.5 MB shared-memory segment and go over UDP loopback, where a lost
fragment waits for the next heartbeat (2-3 s spikes). ``--shm-segment-mb 32``
starts the node as ``depth_node --shm-segment-mb 32`` (adu_depth_ros/transport.py),
whose segment holds them; this process keeps the middleware default.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

PHASES = {
    "node": ("depth", "depth/uncertainty", "depth/camera_info"),
    "node+points": ("depth", "depth/uncertainty", "depth/camera_info", "points"),
    "node+all": ("depth", "depth/uncertainty", "depth/camera_info", "points", "depth/color"),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--model",
        default="",
        help="model file, 'default', or 'random' (random-weight student with a --height x --width network); "
        "empty = the bundled student if installed, else 'random'",
    )
    p.add_argument("--backend", default="auto", help="auto, torch, onnxruntime or tensorrt")
    p.add_argument("--height", type=int, default=192, help="camera (and random model) height, pixels")
    p.add_argument("--width", type=int, default=640, help="camera (and random model) width, pixels")
    p.add_argument(
        "--network",
        default="",
        help="HxW network input of --model random (e.g. 192x640); empty = --height x --width",
    )
    p.add_argument("--frames", type=int, default=10, help="timed frames per phase and round")
    p.add_argument("--rounds", type=int, default=3, help="rounds of all phases (interleaved against drift)")
    p.add_argument("--stride", type=int, default=1, help="points_stride of the node")
    p.add_argument(
        "--threads", type=int, default=0, help="CPU threads for both (node cpu_threads); 0 = library default"
    )
    p.add_argument(
        "--shm-segment-mb",
        type=int,
        default=0,
        help="the node's Fast DDS shared-memory segment (depth_node --shm-segment-mb); 0 = middleware default",
    )
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    return p.parse_args(argv)


def resolve_model(args: argparse.Namespace, tmp: Path) -> str:
    """The model to time: --model, the bundled student, or a random-weight student saved in ``tmp``."""
    from adu_depth_core.runtime.estimator import DEFAULT_CHECKPOINT

    if args.model and args.model != "random":
        return args.model
    if not args.model and DEFAULT_CHECKPOINT.is_file():
        return "default"
    import torch

    from adu_depth_core.checkpoint import ModelCard, save_checkpoint
    from adu_depth_core.models import create_student

    torch.manual_seed(0)
    net_h, net_w = (int(v) for v in args.network.split("x")) if args.network else (args.height, args.width)
    kw = {"encoder": "efficientnet_lite0", "min_depth": 1e-3, "max_depth": 80.0}
    card = ModelCard(model_kwargs=kw, input_height=net_h, input_width=net_w, notes="random, bench")
    path = tmp / "random_student.pt"
    save_checkpoint(path, create_student(pretrained=False, **kw).eval().state_dict(), card)
    return str(path)


def start_node(
    model: str, backend: str, stride: int, threads: int, shm_mb: int, domain: int
) -> subprocess.Popen:
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    code = "import sys; from adu_depth_ros.depth_node import main; sys.exit(main(sys.argv))"
    params = {
        "model_path": model,
        "backend": backend,
        "points_stride": stride,
        "cpu_threads": threads,
        "input_qos.reliability": "reliable",
        "diagnostics_period_s": 0.5,
    }
    cmd = [sys.executable, "-c", code, "--shm-segment-mb", str(shm_mb), "--ros-args", "-r", "__ns:=/bench"]
    for key, value in params.items():
        cmd += ["-p", f"{key}:={value}"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def time_bare(estimator, rgb: np.ndarray, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        estimator.infer(rgb)
        times.append(1e3 * (time.perf_counter() - t0))
    return times


def time_phase(
    ctx, phase: str, estimator, rgb: np.ndarray, info, n: int, warmup: int = 2
) -> tuple[list, list, dict]:
    """Paired samples for one phase: (bare ms, node end-to-end ms) frame by frame, and the node's diagnostics."""
    from adu_depth_ros.testing import Probe, spinning

    outputs = PHASES[phase]
    probe = Probe(
        ctx, namespace="bench", outputs=outputs, reliable_input=True, name="bench_" + phase.replace("+", "_")
    )
    bare, node = [], []
    with spinning(ctx, probe, threads=1):
        others = [o for o in PHASES["node+all"] if o not in outputs]
        ready = probe.wait_until(
            lambda: (
                all(probe.count_publishers(f"/bench/{o}") == 1 for o in outputs)  # node up, model loaded
                and all(probe.count_subscribers(f"/bench/{o}") == 1 for o in outputs)
                and all(probe.count_subscribers(f"/bench/{o}") == 0 for o in others)
            ),
            timeout_s=180,
        )
        if not ready:
            raise RuntimeError(f"the node or the subscriptions of phase {phase} were not discovered")
        time.sleep(1.0)  # let the node's own graph view catch up (it works only for subscribed outputs)
        for i in range(warmup + n):
            b = time_bare(estimator, rgb, 1)[0]
            got = probe.request(rgb, info, outputs, timeout_s=120, resend_s=5)
            stamp = got["depth"].header.stamp
            sent_s = stamp.sec + 1e-9 * stamp.nanosec
            arrived = max(t for name in outputs for m, t in probe.received[name] if m.header.stamp == stamp)
            if i >= warmup:
                bare.append(b)
                node.append(1e3 * (arrived - sent_s))
        time.sleep(0.6)  # one more diagnostics period
        statuses = probe.statuses("/bench/depth_node")
        values = {kv.key: kv.value for kv in statuses[-1].values} if statuses else {}
        values["bytes"] = {name: len(msg.data) for name, msg in got.items() if hasattr(msg, "data")}
    probe.destroy_node()
    return bare, node, values


def summarize(samples: dict, bare: dict, diag: dict, height: int, width: int, model: str) -> dict:
    """Per phase: node p50/p90 and the bare p50 of the frames timed alongside it (paired, so load drift cancels)."""

    def pct(v, q):
        return float(np.percentile(v, q))

    rows = {"bare": {"p50_ms": pct(sum(bare.values(), []), 50), "p90_ms": pct(sum(bare.values(), []), 90)}}
    rows["bare"].update(n=len(sum(bare.values(), [])), ratio_vs_bare=1.0)
    for k, v in samples.items():
        rows[k] = {
            "p50_ms": pct(v, 50),
            "p90_ms": pct(v, 90),
            "n": len(v),
            "ratio_vs_bare": pct(v, 50) / pct(bare[k], 50),
        }
        rows[k]["bare_p50_ms"] = pct(bare[k], 50)
        rows[k]["samples_ms"] = [round(x, 2) for x in v]
        rows[k]["paired_bare_ms"] = [round(x, 2) for x in bare[k]]
    return {
        "size": f"{height}x{width}",
        "model": model,
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, python {platform.python_version()}",
        "phases": rows,
        "node_vs_bare_ratio": rows["node"]["ratio_vs_bare"],
        "points_cost_e2e_ms": rows["node+points"]["p50_ms"] - rows["node"]["p50_ms"],
        "points_cost_vs_paired_bare_ms": (
            rows["node+points"]["ratio_vs_bare"] - rows["node"]["ratio_vs_bare"]
        )
        * rows["node+points"]["bare_p50_ms"],
        "points_stage_in_node_ms": float(diag.get("points_ms_p50", "nan")),
        "message_bytes": diag.get("bytes", {}),
        "node_stages_ms_p50": {
            k[: -len("_ms_p50")]: float(v) for k, v in diag.items() if k.endswith("_ms_p50")
        },
    }


def print_table(res: dict) -> None:
    print(
        f"\ndepth node vs bare DepthEstimator, {res['size']}, model {res['model']}, backend {res['backend']}, "
        f"threads {res['threads']}, transport {res['transport']} ({res['machine']})"
    )
    print(f"{'phase':<14}{'p50 ms':>9}{'p90 ms':>9}{'paired bare p50':>17}{'x bare':>8}{'frames':>8}")
    for name, r in res["phases"].items():
        paired = f"{r['bare_p50_ms']:.1f}" if "bare_p50_ms" in r else "-"
        print(
            f"{name:<14}{r['p50_ms']:>9.1f}{r['p90_ms']:>9.1f}{paired:>17}{r['ratio_vs_bare']:>8.3f}{r['n']:>8d}"
        )
    print(f"node / bare (p50, paired): {res['node_vs_bare_ratio']:.3f}  (goal <= 1.15)")
    print(
        f"point cloud: {res['points_stage_in_node_ms']:.1f} ms in the node (back-projection + message); "
        f"end to end +{res['points_cost_e2e_ms']:.1f} ms raw, "
        f"+{res['points_cost_vs_paired_bare_ms']:.1f} ms against the paired bare time"
    )
    print("bytes per frame: " + ", ".join(f"{k} {v}" for k, v in res["message_bytes"].items()))
    stages = ", ".join(f"{k} {v:.1f}" for k, v in sorted(res["node_stages_ms_p50"].items()))
    print(f"node stages p50 (ms, all phases): {stages}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from adu_depth_core.runtime import DepthEstimator
    from adu_depth_ros.testing import free_domain_id, gradient_image, make_camera_info, ros_context

    rgb = gradient_image(args.height, args.width, seed=0)
    info = make_camera_info(
        args.width, args.height, 0.9 * args.width, 0.9 * args.width, args.width / 2, args.height / 2
    )
    domain = free_domain_id(salt=11)
    with tempfile.TemporaryDirectory() as tmp:
        model = resolve_model(args, Path(tmp))
        estimator = DepthEstimator.from_file(model, backend=args.backend, num_threads=args.threads or None)
        time_bare(estimator, rgb, 2)  # warm-up
        node = start_node(model, args.backend, args.stride, args.threads, args.shm_segment_mb, domain)
        samples: dict[str, list[float]] = {k: [] for k in PHASES}
        bare: dict[str, list[float]] = {k: [] for k in PHASES}
        diag: dict = {}
        try:
            with ros_context(domain) as ctx:
                for _ in tqdm(range(args.rounds), desc="rounds"):
                    for phase in PHASES:
                        b, t, values = time_phase(ctx, phase, estimator, rgb, info, args.frames)
                        bare[phase] += b
                        samples[phase] += t
                        diag = values or diag
        finally:
            node.send_signal(2)
            node.communicate(timeout=30)
    res = summarize(
        samples, bare, diag, args.height, args.width, model if model == "default" else Path(model).name
    )
    res["threads"] = args.threads or "default"
    res["backend"] = args.backend
    res["transport"] = (
        f"node SHM segment {args.shm_segment_mb} MB" if args.shm_segment_mb else "middleware default"
    )
    print_table(res)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
