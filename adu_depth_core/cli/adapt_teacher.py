"""``adu-depth adapt-teacher``: fine-tune the stereo teacher on a robot's unlabeled rectified pairs."""

from __future__ import annotations

import argparse

COMMAND = "adapt-teacher"
HELP = (
    "Adapt the stereo teacher to unlabeled rectified pairs (photometric, left-right, smoothness, "
    "forgetting guard); resumable."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from adu_depth_core.train.cli_args import add_config_arguments

    parser.add_argument(
        "--data", metavar="DIR", help="folder dataset of stereo pairs (e.g. bag-to-dataset's output)"
    )
    parser.add_argument(
        "--teacher", default="default", metavar="CKPT", help="teacher to adapt: a checkpoint, or default"
    )
    parser.add_argument("--out", metavar="DIR", help="run folder: model.pt, checkpoints/, tb/, config.yaml")
    parser.add_argument("--steps", type=int, metavar="N", help="optimiser steps (default 2000)")
    parser.add_argument(
        "--size",
        metavar="HxW",
        help="training crop HxW, multiples of 32, as wide as the input the teacher will label at "
        "(default: the images' size, at most 640 wide)",
    )
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default auto")
    parser.add_argument(
        "--no-rectification-check",
        action="store_true",
        help="skip the feature-match check that the pairs are rectified (still checks sizes and baseline)",
    )
    add_config_arguments(parser)
    parser.add_argument(
        "--resume",
        nargs="?",
        const="auto",
        metavar="CKPT",
        help="continue at the exact step: a checkpoint path, or no value for <out>/checkpoints/last.pt",
    )


def _summary_line(summary: dict) -> str:
    line = f"{summary['pairs']} pairs; checked {summary['checked']}"
    dy = summary["median_dy_px"]
    if dy == dy:  # not NaN: some pair had enough feature matches
        return f"{line}: rectified (median vertical offset of feature matches {dy:.2f} px)"
    return f"{line}: rectification not checked (too few feature matches)"


def run(args: argparse.Namespace) -> int:
    from adu_depth_core.bags.cli_common import print_error, setup_logging, user_errors
    from adu_depth_core.data.sample import DataError
    from adu_depth_core.models.loading import teacher_checkpoint
    from adu_depth_core.train.adapt_run import adapt_config_from_args, preflight
    from adu_depth_core.train.runner import train

    setup_logging()
    try:  # configuration and input problems: one 'error:' line
        cfg = adapt_config_from_args(args)
        teacher = teacher_checkpoint(cfg.teacher_checkpoint)  # the bundled one may be missing: say so first
        if not teacher.is_file():
            raise FileNotFoundError(f"teacher checkpoint not found: {teacher}")
        check = not args.no_rectification_check
        summary = preflight(cfg, rectification=check)
    except (*user_errors(), DataError, ValueError) as exc:
        return print_error(exc)
    print(_summary_line(summary) if check else f"{summary['pairs']} pairs; rectification check skipped")
    try:
        path = train(cfg, resume=args.resume)
    except (*user_errors(), DataError) as exc:
        return print_error(exc)
    print(f"adapted teacher: {path}\nrun folder: {cfg.train.run_dir}")
    return 0
