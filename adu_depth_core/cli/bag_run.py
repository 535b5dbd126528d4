"""``adu-depth bag-run``: run the depth model over a bag's images and write the node's outputs to a new bag."""

from __future__ import annotations

import argparse
import sys

COMMAND = "bag-run"
HELP = "Run a depth model over a rosbag's images; write depth, uncertainty, camera_info (and points) to a new bag"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from adu_depth_core.bags.cli_common import add_salvage_argument
    from adu_depth_core.bags.io import STORAGES
    from adu_depth_core.runtime.cli_args import (
        add_max_pixels_argument,
        add_model_arguments,
        add_scale_arguments,
    )

    parser.add_argument("--bag", required=True, help="input rosbag2 folder (or .mcap / .db3 file)")
    add_model_arguments(parser)
    parser.add_argument("--image-topic", required=True, help="sensor_msgs/Image or CompressedImage topic")
    parser.add_argument(
        "--camera-info-topic",
        default=None,
        help="CameraInfo topic (default: 'camera_info' next to the image topic)",
    )
    parser.add_argument("--out", required=True, help="output bag folder (must not exist)")
    parser.add_argument("--storage", default="mcap", choices=STORAGES, help="output bag storage")
    parser.add_argument(
        "--namespace", default="", help="namespace of the output topics (like the launch file's)"
    )
    parser.add_argument(
        "--points", action="store_true", help="also write 'points' (PointCloud2, needs camera_info)"
    )
    parser.add_argument("--color", action="store_true", help="also write 'depth/color' (colourised depth)")
    parser.add_argument("--no-copy", action="store_true", help="write only the outputs, not the input topics")
    node = parser.add_argument_group("node parameters (defaults as in config/depth.yaml)")
    node.add_argument("--min-depth", type=float, default=0.1, help="depth below this (m) is invalid")
    node.add_argument("--max-depth", type=float, default=80.0, help="depth above this (m) is invalid")
    node.add_argument(
        "--max-sigma", type=float, default=0.0, help="drop points with sigma above this (m); 0 = off"
    )
    node.add_argument(
        "--max-relative-sigma",
        type=float,
        default=0.25,
        help="drop points with sigma/depth above this; 0 = off",
    )
    node.add_argument(
        "--output-resolution",
        default="camera",
        choices=("camera", "network"),
        help="size of depth, uncertainty and points: the camera's, or the network's (cheaper)",
    )
    node.add_argument("--depth-encoding", default="32FC1", choices=("32FC1", "16UC1"))
    node.add_argument(
        "--points-stride", type=int, default=1, help="keep every Nth row and column of the cloud"
    )
    node.add_argument("--no-points-color", action="store_true", help="no packed rgb field in the cloud")
    node.add_argument(
        "--color-min-depth", type=float, default=0.0, help="depth (m) at the near end of depth/color"
    )
    node.add_argument(
        "--color-max-depth",
        type=float,
        default=0.0,
        help="depth (m) at the far end of depth/color; 0 = per-frame 2nd-98th percentile range",
    )
    node.add_argument("--frame-id", default="", help="override the outputs' frame_id (default: the image's)")
    add_scale_arguments(parser)
    add_max_pixels_argument(node)
    add_salvage_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _config(args: argparse.Namespace):
    from adu_depth_core.bags.run import BagRunConfig
    from adu_depth_core.recipe import RecipeConfig
    from adu_depth_core.runtime.cli_args import scale_config_from_args

    outputs = RecipeConfig(
        min_depth_m=args.min_depth,
        max_depth_m=args.max_depth,
        max_sigma_m=args.max_sigma,
        max_relative_sigma=args.max_relative_sigma,
        output_resolution=args.output_resolution,
        depth_encoding=args.depth_encoding,
        points_stride=args.points_stride,
        points_color=not args.no_points_color,
        color_min_depth_m=args.color_min_depth,
        color_max_depth_m=args.color_max_depth,
        scale=scale_config_from_args(args),
    )
    return BagRunConfig(
        image_topic=args.image_topic,
        camera_info_topic=args.camera_info_topic,
        namespace=args.namespace,
        points=args.points,
        color=args.color,
        frame_id=args.frame_id,
        copy_inputs=not args.no_copy,
        storage=args.storage,
        outputs=outputs,
        max_input_pixels=args.max_input_pixels,
    )


def _print_stats(stats, out: str) -> None:
    print(f"{stats.processed} of {stats.images} frames processed -> {out}")
    for topic, n in sorted(stats.written.items()):
        print(f"  {topic}: {n} msgs")
    for reason, n in stats.skipped.items():
        print(f"  skipped {n} frame(s): {reason}", file=sys.stderr)
    for reason, n in stats.problems.items():
        print(f"  {n} frame(s): {reason}", file=sys.stderr)
    if stats.scales:
        print(
            f"  ground-plane scale: last {stats.scales[-1]:.4f}, {stats.scales_used} of {len(stats.scales)} frames used"
        )
    timings = stats.mean_timings_ms()
    if timings:
        print("  mean ms/frame: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))


def run(args: argparse.Namespace) -> int:
    from adu_depth_core.bags.cli_common import print_error, setup_logging, user_errors
    from adu_depth_core.bags.run import RunStats, run_bag
    from adu_depth_core.runtime.cli_args import estimator_from_args

    setup_logging(args.quiet)
    stats = RunStats()
    try:
        cfg = _config(args)
    except ValueError as exc:  # inconsistent scale options
        return print_error(exc)
    try:
        est = estimator_from_args(args)
        run_bag(args.bag, est, args.out, cfg, salvage=args.salvage, progress=not args.quiet, stats=stats)
    except user_errors() as exc:
        return print_error(exc)
    except KeyboardInterrupt:
        _print_stats(stats, args.out)
        print(f"interrupted: the {stats.processed} frames done so far are in {args.out}", file=sys.stderr)
        return 130
    _print_stats(stats, args.out)
    if stats.error:
        print(
            f"error: {stats.error}\n(the {stats.processed} frames before it are in {args.out})",
            file=sys.stderr,
        )
        return 1
    return 0 if stats.processed else 1
