"""Argument sets shared by the training subcommands (argparse only: imported at ``--help`` time)."""

from __future__ import annotations

import argparse


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config`` and repeatable ``--set section.key=value`` overrides."""
    parser.add_argument("--config", metavar="YAML", help="training config (see config/train/*.yaml)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, value parsed as YAML (repeatable), e.g. --set train.steps=100",
    )


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """Config, overrides, run folder and resume flags of train-teacher / distill."""
    add_config_arguments(parser)
    parser.add_argument("--run-dir", metavar="DIR", help="output folder (same as --set train.run_dir=DIR)")
    parser.add_argument(
        "--init",
        metavar="CKPT",
        help="fine-tune: start the trained network from this checkpoint's weights, or default (the bundled "
        "one); same as --set init_checkpoint=CKPT",
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        const="auto",
        metavar="CKPT",
        help="continue at the exact step: a checkpoint path, or no value for <run_dir>/checkpoints/last.pt",
    )
