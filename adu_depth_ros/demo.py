"""The main job out of the box: the sample recording through the real depth node, recorded and scored.

``python -m adu_depth_ros.demo --out out/demo`` (what ``make demo`` runs):

1. writes the sample bag (synthetic street frames + the Middlebury pair, with
   camera_info and exact ground truth) unless it is there already;
2. starts the real ``depth_node`` in its own process on an isolated ROS domain,
   with ``config/depth.yaml`` and the bundled student;
3. plays the bag into it frame by frame (lockstep: the next frame goes out once
   the node has answered the last one, so nothing is dropped) and records
   inputs and outputs into an MCAP bag, header stamps kept; this is what
   ``ros2 bag play`` + ``ros2 bag record`` do on a full ROS install;
4. scores the recorded depth against the ground truth (``bag-eval``), and
   writes colour maps, panels, a PLY point cloud and a preview of it.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from adu_depth_core.bags.sample_bag import SampleBagConfig, stereo_topics, write_sample_bag
from adu_depth_core.demo_report import RecordedTopics
from adu_depth_core.recipe import OUTPUTS as RECIPE_OUTPUTS
from adu_depth_core.recipe import output_topic

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
NS = "/camera"
OUTPUTS = {output_topic(NS, name): spec.msgtype for name, spec in RECIPE_OUTPUTS.items()}
SCENES = {"stereo": "synthetic street", "middlebury": "Middlebury (indoor, other camera)"}
INPUTS = {
    f"{NS}/image_raw": "sensor_msgs/msg/Image",
    f"{NS}/camera_info": "sensor_msgs/msg/CameraInfo",
    f"{NS}/depth_gt": "sensor_msgs/msg/Image",
}


@dataclass
class PlayStats:
    frames_sent: int = 0
    frames_answered: int = 0
    timed_out: list[int] = field(default_factory=list)
    groups: dict[str, list[int]] = field(default_factory=dict)  # scene name -> frame stamps
    wall_s: float = 0.0


def params_file() -> Path:
    """config/depth.yaml from the source tree, or the installed share/ directory."""
    here = PACKAGE_ROOT / "config" / "depth.yaml"
    if here.is_file():
        return here
    installed = Path(sys.prefix) / "share" / "adu_depth_ros" / "config" / "depth.yaml"
    if installed.is_file():
        return installed
    raise FileNotFoundError(
        "config/depth.yaml not found in the source tree nor in share/adu_depth_ros/config"
    )


def player_remaps(bag_topics: set[str]) -> dict[str, str]:
    """Both cameras of the sample bag (street, Middlebury) feed the one node under /camera."""
    remap = {}
    for prefix in ("/stereo", "/middlebury"):
        t = stereo_topics(prefix)
        remap.update(
            {t["left"]: f"{NS}/image_raw", t["left_info"]: f"{NS}/camera_info", t["depth"]: f"{NS}/depth_gt"}
        )
    return {src: dst for src, dst in remap.items() if src in bag_topics}


def start_node(
    model: str, domain_id: int, log_path: Path, backend: str, extra: list[str]
) -> subprocess.Popen:
    """The real depth_node in a child process, remapped into /camera, inputs over reliable QoS.

    It inherits this process's Fast DDS large-data profile (set in ``main``), so it needs no
    ``--shm-segment-mb`` of its own.
    """
    cmd = [
        sys.executable, "-m", "adu_depth_ros.depth_node", "--ros-args",
        "--params-file", str(params_file()),
        "-r", f"__ns:={NS}", "-r", f"image:={NS}/image_raw",
        "-p", f"model_path:={model}", "-p", f"backend:={backend}",
        "-p", "input_qos.reliability:=reliable", "-p", "input_qos.depth:=10",
        "-p", "color_min_depth_m:=1.0", "-p", "color_max_depth_m:=60.0",
    ]  # fmt: skip
    for kv in extra:
        cmd += ["-p", kv]
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain_id), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    log = open(log_path, "wb")  # noqa: SIM115 (handed to the child; closed with it)
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)


def _wait(predicate, timeout_s: float, alive=lambda: True) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and alive():
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def _linked(player, recorder, remap: dict[str, str]) -> bool:
    """True once the node subscribes to every input and publishes every output the recorder wants.

    The node only works for outputs someone listens to, so playing before discovery
    has matched every link would lose frames.
    """
    node_inputs = [t for t, dst in remap.items() if dst != f"{NS}/depth_gt"]
    return all(player.subscriber_count(t) for t in node_inputs) and all(
        recorder.count_publishers(t) for t in OUTPUTS
    )


def _play_until_answered(player, recorder, stamp: int, timeout_s: float, alive, tries: int = 3) -> bool:
    """Send a frame, resending it (same stamp) if unanswered: right after discovery, a volatile
    message can reach a subscriber that has not matched its publisher yet and be lost."""
    for _ in range(tries):
        player.play_frame(stamp)
        if _wait(lambda: all(recorder.has(t, stamp) for t in OUTPUTS), timeout_s / tries, alive):
            return True
    return False


def play_and_record(
    sample_bag: Path, out_bag: Path, node: subprocess.Popen, domain_id: int, timeout_s: float
) -> PlayStats:
    """Lockstep playback into the node; every input and output goes into ``out_bag``."""
    from adu_depth_core.bags.io import list_topics
    from adu_depth_ros.bag_bridge import BagPlayer, BagRecorder
    from adu_depth_ros.testing import ros_context, spinning

    remap = player_remaps(set(list_topics(sample_bag)))
    stats, alive = PlayStats(), lambda: node.poll() is None
    with ros_context(domain_id) as ctx:
        player = BagPlayer(sample_bag, remap, remap=remap, context=ctx)
        recorder = BagRecorder(out_bag, {**INPUTS, **OUTPUTS}, context=ctx, skip_repeats=True)
        try:
            with spinning(ctx, player, recorder):
                image_topics = [t for t, dst in remap.items() if dst == f"{NS}/image_raw"]
                if not _wait(lambda: _linked(player, recorder, remap), 180.0, alive):
                    raise RuntimeError("depth_node never connected to the player and recorder (see node.log)")
                start = time.monotonic()
                for stamp in player.stamps:
                    images = player.frame_topics(stamp) & set(image_topics)
                    if not images:  # e.g. a LiDAR-only stamp: pass it through
                        player.play_frame(stamp)
                        continue
                    stats.frames_sent += 1
                    source = min(images).split("/")[1]  # '/stereo/left/image_raw' -> 'stereo'
                    stats.groups.setdefault(SCENES.get(source, source), []).append(stamp)
                    if _play_until_answered(player, recorder, stamp, timeout_s, alive):
                        stats.frames_answered += 1
                    else:
                        stats.timed_out.append(stamp)
                    if not alive():
                        raise RuntimeError("depth_node exited during playback (see node.log)")
                stats.wall_s = time.monotonic() - start
        finally:
            recorder.close()
            player.destroy_node()
            recorder.destroy_node()
    return stats


def stop_node(node: subprocess.Popen) -> int:
    if node.poll() is None:
        node.send_signal(signal.SIGINT)
        try:
            node.wait(timeout=20)
        except subprocess.TimeoutExpired:
            node.kill()
    return node.wait()


def summary(out: Path, stats: PlayStats, outputs: dict, wall_s: float) -> str:
    """What was made, where it is, and what the numbers mean."""
    from adu_depth_core.demo_report import METRICS_HELP

    n_pics = len(outputs["pictures"])
    lines = [
        "",
        f"demo finished in {wall_s:.0f} s: {stats.frames_answered}/{stats.frames_sent} frames answered by depth_node "
        f"({stats.wall_s / max(stats.frames_sent, 1) * 1e3:.0f} ms per frame end to end, lockstep)",
        f"  output bag (MCAP, inputs + outputs)  {out / 'output_bag'}",
        f"  metrics                              {out / 'metrics.md'}  ({out / 'metrics.json'}, {out / 'eval'}/)",
        f"  pictures ({n_pics} PNGs: depth, uncertainty, 2x2 panels)  {out / 'pictures'}/",
        f"  point cloud ({outputs['n_points']} points)              {out / 'cloud.ply'}  (preview {out / 'cloud_preview.png'})",
        f"  node log                             {out / 'node.log'}",
        "",
        "per-image means by scene:",
        outputs["by_group"],
        "",
        "all frames (bag-eval):",
        outputs["table"],
        "",
        METRICS_HELP,
    ]
    if stats.timed_out:
        lines.insert(2, f"  WARNING: no answer within the timeout for {len(stats.timed_out)} frame(s)")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="depth_demo", description=__doc__.split("\n")[0])
    p.add_argument(
        "--out", type=Path, default=Path("out/demo"), help="output folder (created; reruns replace results)"
    )
    p.add_argument(
        "--model",
        default="default",
        help="model for the node: 'default' (bundled student), .pt, .onnx or engine",
    )
    p.add_argument("--backend", default="auto", help="node backend: auto, onnxruntime, torch, tensorrt")
    p.add_argument("--bag", type=Path, default=None, help="play this bag instead of the sample bag")
    p.add_argument("--frames", type=int, default=8, help="synthetic frames in the sample bag")
    p.add_argument("--size", default="192x640", help="synthetic frame size HxW")
    p.add_argument(
        "--frame-timeout", type=float, default=120.0, help="seconds to wait for the node's answer to a frame"
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME:=VALUE",
        help="extra depth_node parameter, e.g. points_stride:=2 (repeatable)",
    )
    p.add_argument(
        "--domain-id", type=int, default=None, help="ROS_DOMAIN_ID (default: a free one from the pid)"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from adu_depth_core.demo_report import write_demo_outputs
    from adu_depth_ros.testing import free_domain_id
    from adu_depth_ros.transport import fastdds_large_data

    args = parse_args(argv)
    t0 = time.monotonic()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    sample = args.bag
    if sample is None:
        h, w = (int(v) for v in args.size.lower().split("x"))
        sample = out / "sample_bag"
        if not sample.exists():
            print(f"[1/4] writing the sample bag ({args.frames} street frames + Middlebury) to {sample}")
            write_sample_bag(sample, SampleBagConfig(n=args.frames, height=h, width=w))
    from adu_depth_core.runtime import DepthEstimator, ModelLoadError

    try:  # fail in seconds, with the runtime's own message, rather than after a silent node
        with DepthEstimator.from_file(args.model, backend=args.backend) as est:
            print(f"      model: {est.describe()}")
    except ModelLoadError as exc:  # every load failure, whatever the backend raised
        print(f"demo failed: cannot load model '{args.model}': {exc}", file=sys.stderr)
        return 1
    out_bag = out / "output_bag"
    if out_bag.exists():
        import shutil

        shutil.rmtree(out_bag)
    fastdds_large_data(32)  # the player publishes 1 MB images too: keep them off fragmented UDP
    domain = args.domain_id if args.domain_id is not None else free_domain_id()
    print(f"[2/4] starting depth_node (model={args.model}, ROS_DOMAIN_ID={domain}); log: {out / 'node.log'}")
    node = start_node(args.model, domain, out / "node.log", args.backend, args.param)
    try:
        print("[3/4] playing the sample bag into the node and recording its outputs (MCAP)")
        stats = play_and_record(sample, out_bag, node, domain, args.frame_timeout)
    except RuntimeError as exc:
        stop_node(node)
        tail = (out / "node.log").read_text(errors="replace")[-2000:]
        print(f"demo failed: {exc}\n--- node.log (tail) ---\n{tail}", file=sys.stderr)
        return 1
    stop_node(node)
    print("[4/4] scoring against ground truth and writing pictures, PLY and metrics")
    outputs = write_demo_outputs(out_bag, out, RecordedTopics(), stats.groups)
    print(summary(out, stats, outputs, time.monotonic() - t0))
    return 0 if stats.frames_answered else 1


if __name__ == "__main__":
    sys.exit(main())
