"""``adu-depth bag-to-dataset``: a robot's stereo rosbag -> folder-stereo training data (+ teacher pseudo-labels)."""

from __future__ import annotations

import argparse
import sys

COMMAND = "bag-to-dataset"
HELP = "Turn a stereo rosbag into the folder-stereo layout (optionally with teacher pseudo-labels and confidence)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bag", required=True, help="rosbag2 folder (or .mcap / .db3 file)")
    parser.add_argument("--left", required=True, help="rectified left image topic (Image or CompressedImage)")
    parser.add_argument("--right", required=True, help="rectified right image topic")
    parser.add_argument("--out", required=True, help="output folder (new or empty)")
    parser.add_argument(
        "--left-info", default=None, help="left CameraInfo (default: 'camera_info' beside --left)"
    )
    parser.add_argument(
        "--right-info", default=None, help="right CameraInfo (default: 'camera_info' beside --right)"
    )
    parser.add_argument("--depth", default=None, help="optional ground-truth depth Image of the left view")
    parser.add_argument(
        "--baseline-m", type=float, default=None, help="stereo baseline, if camera_info lacks it"
    )
    parser.add_argument(
        "--tolerance-ms", type=float, default=5.0, help="max stamp difference of a stereo pair"
    )
    parser.add_argument(
        "--rectify", action="store_true", help="undistort + rectify raw images with camera_info"
    )
    parser.add_argument("--every", type=int, default=1, help="keep every Nth pair")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after this many pairs")
    parser.add_argument(
        "--teacher",
        metavar="CKPT",
        default=None,
        help="stereo teacher (a checkpoint, or default): write pseudo-labels",
    )
    parser.add_argument(
        "--refine",
        action="store_true",
        help="refine the teacher's disparity by local matching at the images' resolution "
        "(sharper labels on images wider than the teacher's input; about 2 s per 375x1242 pair on one CPU thread)",
    )
    parser.add_argument("--device", default="cpu", help="device for the teacher (cpu, cuda, cuda:N)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _report(stats, out: str) -> None:
    for line in stats.match_report:
        print(line)
    print(f"{stats.written} stereo pairs written to {out}")
    for reason, n in stats.skipped.items():
        print(f"  skipped {n} pair(s): {reason}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from adu_depth_core.bags.cli_common import print_error, setup_logging, user_errors
    from adu_depth_core.bags.to_dataset import DatasetConfig, DatasetStats, TeacherLabeler, bag_to_dataset
    from adu_depth_core.data.sample import DataError

    setup_logging(args.quiet)
    if args.every < 1:
        return print_error(ValueError(f"--every must be at least 1, got {args.every}"))
    cfg = DatasetConfig(
        left_topic=args.left,
        right_topic=args.right,
        left_info_topic=args.left_info,
        right_info_topic=args.right_info,
        depth_topic=args.depth,
        baseline_m=args.baseline_m,
        tolerance_ms=args.tolerance_ms,
        rectify=args.rectify,
        every=args.every,
        max_frames=args.max_frames,
    )
    stats = DatasetStats()
    try:
        if args.refine and not args.teacher:
            return print_error(ValueError("--refine refines the teacher's labels; give --teacher as well"))
        teacher = TeacherLabeler(args.teacher, args.device, refine=args.refine) if args.teacher else None
        bag_to_dataset(args.bag, args.out, cfg, teacher, progress=not args.quiet, stats=stats)
    except (*user_errors(), DataError) as exc:
        return print_error(exc)
    except KeyboardInterrupt:
        _report(stats, args.out)
        print(f"interrupted: the {stats.written} pairs written so far are usable", file=sys.stderr)
        return 130
    _report(stats, args.out)
    return 0 if stats.written else 1
