"""``adu-depth make-sample-bag``: a small bag of synthetic stereo street frames (+ Middlebury) with ground truth."""

from __future__ import annotations

import argparse
import sys

COMMAND = "make-sample-bag"
HELP = "Write a small rosbag of synthetic stereo frames with camera_info, GT depth, LiDAR and the Middlebury pair"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from adu_depth_core.bags.io import STORAGES
    from adu_depth_core.runtime.cli_args import parse_hw

    parser.add_argument("--out", required=True, help="output bag folder (must not exist)")
    parser.add_argument("--n", type=int, default=8, help="number of synthetic stereo frames (10 Hz)")
    parser.add_argument(
        "--size", type=parse_hw, default=(192, 640), help="HEIGHTxWIDTH of the synthetic frames"
    )
    parser.add_argument("--seed", type=int, default=0, help="scene seed of the first frame")
    parser.add_argument("--storage", default="mcap", choices=STORAGES, help="bag storage")
    parser.add_argument("--no-lidar", action="store_true", help="no /lidar/points topic")
    parser.add_argument("--no-middlebury", action="store_true", help="no /middlebury/* frame")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from adu_depth_core.bags.cli_common import print_error, setup_logging, user_errors
    from adu_depth_core.bags.io import describe_topics, list_topics
    from adu_depth_core.bags.sample_bag import SampleBagConfig, write_sample_bag

    setup_logging(args.quiet)
    if args.n < 1:
        return print_error(ValueError(f"--n must be at least 1, got {args.n}"))
    cfg = SampleBagConfig(
        n=args.n,
        height=args.size[0],
        width=args.size[1],
        seed=args.seed,
        storage=args.storage,
        lidar=not args.no_lidar,
        middlebury=not args.no_middlebury,
    )
    try:
        out = write_sample_bag(args.out, cfg, progress=not args.quiet)
    except user_errors() as exc:
        return print_error(exc)
    print(f"wrote {out}:\n{describe_topics(list_topics(out).values())}", file=sys.stderr)
    return 0
