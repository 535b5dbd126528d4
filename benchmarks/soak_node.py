"""Soak the depth node: minutes of 30 Hz frames with bad ones mixed in and parameter changes, then memory,
answer ratio and latency.

    nice python benchmarks/soak_node.py --minutes 10 --json soak.json
    python benchmarks/soak_node.py --minutes 1 --model student.pt --height 96 --width 128

The node runs as its own process (``depth_node``, as ``ros2 run`` starts it); this process is the
camera: ``--rate-hz`` rgb8 frames with camera_info over loopback, one in ``--bad-every`` replaced by a
random bad frame (unsupported encoding, truncated data, zero size, a header claiming 100000x100000,
a step mismatch), and every ``--param-every-s`` seconds a random parameter change (valid ones and
invalid ones that must be refused, model reloads included). It reports:

* RSS of the node process: after warm-up, at the end, the growth and the maximum;
* answered / sent: good frames whose depth came back (the node keeps only the newest frame, so a
  model slower than the camera answers fewer than it is sent, by design);
* end-to-end latency (publish -> depth received) p50 / p99 / max of the answered frames;
* whether the node is still running, its worker restarts and rejected frames (from /diagnostics).

Not a test (it takes minutes); the tests in test/test_node_robustness.py cover the same cases once.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time

import numpy as np

BAD_FRAMES = ("encoding", "truncated", "zero_size", "huge_header", "step")
PARAM_CHANGES = (  # (values, expected to be accepted)
    ({"max_depth_m": 40.0}, True),
    ({"max_depth_m": 80.0}, True),
    ({"output_resolution": "network"}, True),
    ({"output_resolution": "camera"}, True),
    ({"depth_encoding": "16UC1"}, True),
    ({"depth_encoding": "32FC1"}, True),
    ({"points_stride": 4}, True),
    ({"cpu_threads": 1}, True),  # reloads the model
    ({"min_depth_m": 500.0}, False),
    ({"device": "tpu"}, False),
    ({"model_path": "/nonexistent/model.pt"}, False),
    ({"backend": "openvino"}, False),
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0, help="soak duration after warm-up")
    p.add_argument("--model", default="default", help="model_path of the node (default: the bundled student)")
    p.add_argument("--height", type=int, default=192, help="camera image height, pixels")
    p.add_argument("--width", type=int, default=640, help="camera image width, pixels")
    p.add_argument("--rate-hz", type=float, default=30.0, help="camera frame rate")
    p.add_argument("--bad-every", type=int, default=20, help="on average one bad frame in this many")
    p.add_argument("--param-every-s", type=float, default=10.0, help="seconds between parameter changes")
    p.add_argument("--threads", type=int, default=1, help="node cpu_threads")
    p.add_argument("--warmup-s", type=float, default=20.0, help="seconds of good frames before measuring")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the results here")
    return p.parse_args(argv)


def start_node(args: argparse.Namespace, domain: int) -> subprocess.Popen:
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    code = "import sys; from adu_depth_ros.depth_node import main; sys.exit(main(sys.argv))"
    params = {
        "model_path": args.model,
        "cpu_threads": args.threads,
        "diagnostics_period_s": 1.0,
        "log_throttle_s": 30.0,
    }
    cmd = [sys.executable, "-c", code, "--shm-segment-mb", "32", "--ros-args", "-r", "__ns:=/soak"]
    for key, value in params.items():
        cmd += ["-p", f"{key}:={value}"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def bad_frame(kind: str, rgb: np.ndarray):
    """One malformed Image of ``kind`` (see BAD_FRAMES)."""
    from adu_depth_ros.conversions import numpy_to_image

    msg = numpy_to_image(rgb, "rgb8")
    if kind == "encoding":
        msg.encoding = "yuv422"
    elif kind == "truncated":
        msg.data = bytes(msg.data)[: len(msg.data) // 3]
    elif kind == "zero_size":
        msg.height, msg.width, msg.step, msg.data = 0, 0, 0, b""
    elif kind == "huge_header":
        msg.height, msg.width, msg.step, msg.data = 100_000, 100_000, 300_000, b"\x00" * 64
    elif kind == "step":
        msg.step = msg.width
    return msg


class Soak:
    """The camera side of the soak: sends, changes parameters, samples memory, collects answers."""

    def __init__(self, args: argparse.Namespace, probe, node_pid: int) -> None:
        from adu_depth_ros.testing import gradient_image, make_camera_info

        self.args, self.probe, self.pid = args, probe, node_pid
        self.rng = random.Random(args.seed)
        self.rgb = gradient_image(args.height, args.width, seed=args.seed)
        h, w = args.height, args.width
        self.info = make_camera_info(w, h, 0.8 * w, 0.8 * w, w / 2, h / 2)
        self.sent: dict[tuple[int, int], float] = {}  # good frames: stamp -> send time (monotonic)
        self.bad = 0
        self.params = {"accepted": 0, "refused": 0, "unexpected": 0}
        self.rss_mb: list[tuple[float, float]] = []

    def run(self, seconds: float, measure: bool) -> None:
        from adu_depth_ros.testing import rss_mb

        period = 1.0 / self.args.rate_hz
        start = next_frame = time.monotonic()
        next_param = start + self.args.param_every_s
        next_rss = start
        while (now := time.monotonic()) < start + seconds:
            if now >= next_rss:
                self.rss_mb.append((now - start, rss_mb(self.pid)))
                next_rss += 5.0
            if measure and now >= next_param:
                self.change_parameters()
                next_param += self.args.param_every_s
            if measure and self.rng.random() < 1.0 / self.args.bad_every:
                self.probe.send(bad_frame(self.rng.choice(BAD_FRAMES), self.rgb), self.info)
                self.bad += 1
            else:
                stamp = self.probe.send(self.rgb, self.info)
                if measure:
                    self.sent[(stamp.sec, stamp.nanosec)] = time.monotonic()
            next_frame += period
            time.sleep(max(0.0, next_frame - time.monotonic()))

    def change_parameters(self) -> None:
        values, ok = self.rng.choice(PARAM_CHANGES)
        result = self.probe.set_params("/soak/depth_node", values)[0]
        self.params["accepted" if result.successful else "refused"] += 1
        self.params["unexpected"] += int(result.successful != ok)

    def latencies_ms(self) -> list[float]:
        """publish -> depth received, for every answered good frame (receive times are wall clock)."""
        offset = time.time() - time.monotonic()
        with self.probe._lock:
            got = {(m.header.stamp.sec, m.header.stamp.nanosec): t for m, t in self.probe.received["depth"]}
        return [1e3 * (got[k] - offset - t) for k, t in self.sent.items() if k in got]


def last_status_values(probe) -> dict[str, str]:
    statuses = probe.statuses("/soak/depth_node")
    return {kv.key: kv.value for kv in statuses[-1].values} if statuses else {}


def summarize(soak: Soak, alive: bool, minutes: float) -> dict:
    lat = np.asarray(soak.latencies_ms()) if soak.sent else np.zeros(0)
    rss = [r for _, r in soak.rss_mb]
    values = last_status_values(soak.probe)
    return {
        "minutes": minutes,
        "rate_hz": soak.args.rate_hz,
        "image": f"{soak.args.height}x{soak.args.width}",
        "model": soak.args.model,
        "good_sent": len(soak.sent),
        "bad_sent": soak.bad,
        "answered": int(lat.size),
        "answered_ratio": float(lat.size / max(len(soak.sent), 1)),
        "latency_ms_p50": float(np.percentile(lat, 50)) if lat.size else float("nan"),
        "latency_ms_p99": float(np.percentile(lat, 99)) if lat.size else float("nan"),
        "latency_ms_max": float(lat.max()) if lat.size else float("nan"),
        "rss_mb_start": rss[0] if rss else float("nan"),
        "rss_mb_end": rss[-1] if rss else float("nan"),
        "rss_mb_max": max(rss) if rss else float("nan"),
        "rss_mb_growth": (rss[-1] - rss[0]) if rss else float("nan"),
        "param_changes": soak.params,
        "node_alive": alive,
        "worker_restarts": int(values.get("frames_worker_restarts", -1)),
        "frames_rejected": int(values.get("frames_rejected", -1)),
        "frames_dropped_stale": int(values.get("frames_dropped_stale", -1)),
    }


def print_table(res: dict) -> None:
    rows = [
        ("duration", f"{res['minutes']:.1f} min at {res['rate_hz']:.0f} Hz, {res['image']} rgb8, model {res['model']}"),
        ("frames sent", f"{res['good_sent']} good + {res['bad_sent']} bad"),
        ("answered / sent", f"{res['answered']} / {res['good_sent']} = {res['answered_ratio']:.3f}"),
        ("latency p50 / p99 / max", f"{res['latency_ms_p50']:.1f} / {res['latency_ms_p99']:.1f} / {res['latency_ms_max']:.1f} ms"),
        ("node RSS start -> end (max)", f"{res['rss_mb_start']:.1f} -> {res['rss_mb_end']:.1f} MB ({res['rss_mb_max']:.1f})"),
        ("RSS growth", f"{res['rss_mb_growth']:+.1f} MB"),
        ("parameter changes", ", ".join(f"{k} {v}" for k, v in res["param_changes"].items())),
        ("node alive / worker restarts", f"{res['node_alive']} / {res['worker_restarts']}"),
        ("rejected / dropped stale", f"{res['frames_rejected']} / {res['frames_dropped_stale']}"),
    ]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    print("| " + "what".ljust(width) + " | value |\n|" + "-" * (width + 2) + "|---|")
    for key, value in rows:
        print(f"| {key.ljust(width)} | {value} |")


def main(argv: list[str] | None = None) -> int:
    from adu_depth_ros.testing import Probe, free_domain_id, ros_context, spinning

    args = parse_args(argv)
    domain = free_domain_id(salt=57)
    node = start_node(args, domain)
    try:
        with ros_context(domain) as ctx:
            probe = Probe(ctx, namespace="soak", outputs=("depth",))
            with spinning(ctx, probe):
                soak = Soak(args, probe, node.pid)
                probe.request(soak.rgb, soak.info, ["depth"], timeout_s=120)  # the model is loaded
                soak.run(args.warmup_s, measure=False)
                soak.rss_mb.clear()
                soak.run(60.0 * args.minutes, measure=True)
                time.sleep(2.0)  # the last answers and a fresh diagnostics status
                res = summarize(soak, node.poll() is None, args.minutes)
                probe.destroy_node()
    finally:
        node.send_signal(2)
        try:
            node.wait(timeout=20)
        except subprocess.TimeoutExpired:
            node.kill()
    print_table(res)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0 if res["node_alive"] else 1


if __name__ == "__main__":
    sys.exit(main())
