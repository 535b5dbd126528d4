"""``adu-depth eval``: score a checkpoint on a dataset; writes CSV, markdown summary and figures."""

from __future__ import annotations

import argparse

COMMAND = "eval"
HELP = "Evaluate a student/teacher checkpoint: Eigen + KITTI benchmark metrics, AUSE, report files."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from adu_depth_core.runtime.cli_args import add_scale_arguments

    parser.add_argument(
        "--model",
        required=True,
        metavar="CKPT",
        help="checkpoint (model.pt or a training one), or 'default' (the bundled student)",
    )
    parser.add_argument(
        "--dataset", required=True, help="a dataset name from the data registry (e.g. synthetic)"
    )
    parser.add_argument(
        "--data",
        dest="data_kwargs",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="reader keyword argument, value parsed as YAML (repeatable), e.g. --data root=/data/kitti",
    )
    parser.add_argument("--crop", choices=["garg", "eigen", "none"], default="none", help="evaluation crop")
    parser.add_argument("--min-depth", type=float, help="metres; default: the card's range")
    parser.add_argument("--max-depth", type=float, help="metres; default: the card's range")
    parser.add_argument("--input-size", metavar="HxW", help="network input size; default: the card's")
    parser.add_argument("--median-scaling", action="store_true", help="align each prediction's median to GT")
    parser.add_argument("--max-images", type=int, help="evaluate only the first N samples")
    parser.add_argument("--figures", type=int, default=4, help="per-image figures to draw")
    parser.add_argument("--out", default="runs/eval", help="report folder (default: runs/eval)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    add_scale_arguments(parser)  # the samples, in order, are one camera stream (--scale-window 1: per image)


def run(args: argparse.Namespace) -> int:
    from adu_depth_core.runtime.estimator import DEFAULT_CHECKPOINT
    from adu_depth_core.train.evaluate import run_eval_cli

    if args.model == "default":  # as every other command accepts it
        args.model = str(DEFAULT_CHECKPOINT)
    return run_eval_cli(args)
