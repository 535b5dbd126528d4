"""``adu-depth dataset-report``: pair count, teacher-confidence histogram and a contact sheet of labels."""

from __future__ import annotations

import argparse
import json

COMMAND = "dataset-report"
HELP = "Check a labelled folder dataset before distilling: pairs, confidence histogram, contact sheet (PNGs)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", required=True, metavar="DIR", help="folder dataset (bag-to-dataset --teacher)"
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="where the PNGs and summary.json go")
    parser.add_argument(
        "--max-frames", type=int, default=12, help="frames sampled, evenly spaced (default 12)"
    )
    parser.add_argument(
        "--depth-dir", default="teacher_depth", help="label folder to show (default teacher_depth)"
    )


def run(args: argparse.Namespace) -> int:
    from adu_depth_core.bags.cli_common import print_error
    from adu_depth_core.data.dataset_report import dataset_report
    from adu_depth_core.data.sample import DataError

    if args.max_frames < 1:
        return print_error(ValueError(f"--max-frames must be at least 1, got {args.max_frames}"))
    try:
        summary = dataset_report(args.data, args.out, args.max_frames, args.depth_dir)
    except (DataError, FileNotFoundError) as exc:
        return print_error(exc)
    print(json.dumps(summary, indent=2))
    print(f"wrote {args.out}/contact_sheet.png, confidence_hist.png, summary.json")
    return 0
