"""``adu-depth bag-eval``: depth/uncertainty topics of a bag against depth-image or LiDAR ground truth."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

COMMAND = "bag-eval"
HELP = (
    "Evaluate a bag's depth (and uncertainty) topics against ground truth: Eigen + KITTI metrics, AUSE, plots"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from adu_depth_core.bags.cli_common import add_salvage_argument
    from adu_depth_core.runtime.cli_args import add_scale_arguments

    parser.add_argument("--bag", required=True, help="rosbag2 folder (or .mcap / .db3 file)")
    parser.add_argument("--depth-topic", required=True, help="predicted depth Image (32FC1 m or 16UC1 mm)")
    parser.add_argument(
        "--gt-topic",
        required=True,
        help="ground truth: depth Image (32FC1 m / 16UC1 mm) or LiDAR PointCloud2",
    )
    parser.add_argument("--uncertainty-topic", default=None, help="sigma Image (32FC1 m) for AUSE/AURG")
    lidar = parser.add_argument_group("LiDAR ground truth (when --gt-topic is a PointCloud2)")
    lidar.add_argument("--gt-lidar", action="store_true", help="require --gt-topic to be a PointCloud2")
    lidar.add_argument(
        "--camera-info-topic", default=None, help="CameraInfo of the camera the depth belongs to"
    )
    lidar.add_argument(
        "--extrinsic",
        default=None,
        help="T_cam_lidar (p_cam = T p_lidar): 16 numbers, a YAML file (key T_cam_lidar) or a KITTI calib .txt",
    )
    parser.add_argument(
        "--tolerance-ms", type=float, default=10.0, help="max stamp difference of matched frames"
    )
    parser.add_argument(
        "--min-depth", type=float, default=1e-3, help="ground truth below this (m) is ignored"
    )
    parser.add_argument(
        "--max-depth", type=float, default=80.0, help="ground truth above this (m) is ignored"
    )
    parser.add_argument("--crop", default=None, choices=("garg", "eigen"), help="KITTI evaluation crop")
    parser.add_argument("--json", default=None, help="also write the summary JSON here")
    parser.add_argument(
        "--out",
        default=None,
        help="folder for frames.csv, summary.json and plots (default: '<bag>_eval' beside it)",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--worst", type=int, default=4, help="number of worst frames to plot")
    add_scale_arguments(parser)  # rescales the recorded depth first; needs --camera-info-topic
    add_salvage_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _config(args: argparse.Namespace):
    from adu_depth_core.bags.evaluate import EvalConfig
    from adu_depth_core.bags.lidar import load_extrinsic
    from adu_depth_core.runtime.cli_args import scale_config_from_args

    return EvalConfig(
        depth_topic=args.depth_topic,
        gt_topic=args.gt_topic,
        uncertainty_topic=args.uncertainty_topic,
        camera_info_topic=args.camera_info_topic,
        T_cam_lidar=None if args.extrinsic is None else load_extrinsic(args.extrinsic),
        tolerance_ms=args.tolerance_ms,
        min_depth_m=args.min_depth,
        max_depth_m=args.max_depth,
        crop=args.crop,
        worst_k=args.worst,
        plots=not args.no_plots,
        scale=scale_config_from_args(args),
    )


def _check_lidar(args: argparse.Namespace) -> None:
    from adu_depth_core.bags.io import BagError, list_topics

    if not args.gt_lidar:
        return
    info = list_topics(args.bag).get(args.gt_topic)
    if info is not None and info.msgtype != "sensor_msgs/msg/PointCloud2":
        raise BagError(f"--gt-lidar: '{args.gt_topic}' is a {info.msgtype}, not a PointCloud2")
    if not (args.camera_info_topic and args.extrinsic):
        raise BagError("--gt-lidar needs --camera-info-topic and --extrinsic")


def _report(result) -> None:
    from adu_depth_core.bags.evaluate import format_table

    for line in result.match_report:
        print(line)
    print(f"{result.frames_evaluated} frames evaluated (mean coverage {result.mean_coverage:.3f})")
    for reason, n in result.frames_skipped.items():
        print(f"  skipped {n} frame(s): {reason}", file=sys.stderr)
    print(format_table(result))
    for name, path in result.files.items():
        print(f"  {name}: {path}")


def run(args: argparse.Namespace) -> int:
    from adu_depth_core.bags.cli_common import print_error, setup_logging, user_errors
    from adu_depth_core.bags.evaluate import evaluate_bag

    setup_logging(args.quiet)
    out = Path(args.out) if args.out else Path(str(Path(args.bag).resolve()).rstrip("/") + "_eval")
    try:
        cfg = _config(args)
    except ValueError as exc:  # inconsistent scale options, a bad extrinsic
        return print_error(exc)
    try:
        _check_lidar(args)
        result = evaluate_bag(args.bag, cfg, out, args.json, salvage=args.salvage, progress=not args.quiet)
    except user_errors() as exc:
        return print_error(exc)
    except KeyboardInterrupt:
        print(f"interrupted: frames evaluated so far are in {out}", file=sys.stderr)
        return 130
    _report(result)
    if result.error:
        print(f"error: {result.error}\n(results above cover the frames before it)", file=sys.stderr)
        return 1
    return 0 if result.frames_evaluated else 1
