"""``adu-depth ablation``: docs/method.md rows 1-6 + teacher over seeds, as a markdown table."""

from __future__ import annotations

import argparse
import sys

COMMAND = "ablation"
HELP = "Run docs/method.md's ablation (rows 1-6 + teacher, several seeds) and write a mean ± std table."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from adu_depth_core.train.cli_args import add_config_arguments

    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from adu_depth_core.train.ablation import load_ablation_config, run_ablation

    if not args.config:
        print("adu-depth ablation: give --config (e.g. config/train/ablation.yaml)", file=sys.stderr)
        return 2
    cfg = load_ablation_config(args.config, args.overrides)
    command = " ".join(
        ["adu-depth ablation", "--config", args.config, *[f"--set {o}" for o in args.overrides]]
    )
    path = run_ablation(cfg, command)
    print(path.read_text())
    print(f"table: {path}")
    return 0
