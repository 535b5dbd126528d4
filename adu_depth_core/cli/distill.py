"""``adu-depth distill``: stage 2 of docs/method.md, a monocular student from a frozen stereo teacher."""

from __future__ import annotations

import argparse

COMMAND = "distill"
HELP = "Distil a monocular student from a frozen stereo teacher (docs/method.md stage 2); torchrun-able."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from adu_depth_core.train.cli_args import add_training_arguments

    add_training_arguments(parser)
    parser.add_argument(
        "--teacher",
        metavar="CKPT",
        help="teacher checkpoint from train-teacher, or default (the bundled one); overrides teacher_checkpoint",
    )


def run(args: argparse.Namespace) -> int:
    from adu_depth_core.train.runner import run_training_cli

    return run_training_cli(args, task="distill")
