"""``adu-depth train-teacher``: stage 1 of docs/method.md, the stereo teacher on pairs with ground truth."""

from __future__ import annotations

import argparse

COMMAND = "train-teacher"
HELP = "Train the stereo teacher (docs/method.md stage 1) from a YAML config; torchrun-able."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from adu_depth_core.train.cli_args import add_training_arguments

    add_training_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from adu_depth_core.train.runner import run_training_cli

    return run_training_cli(args, task="teacher")
