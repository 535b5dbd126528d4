"""Small helpers shared by the ``adu-depth bag-*`` commands (argparse only; no heavy imports)."""

from __future__ import annotations

import argparse
import logging
import sys


def add_salvage_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--salvage",
        action="store_true",
        help="read the complete chunks of a truncated MCAP bag (a killed recorder) instead of refusing it",
    )


def setup_logging(quiet: bool = False) -> None:
    """Warnings of the bag tools to stderr as 'warning: ...' lines."""
    logging.basicConfig(
        level=logging.ERROR if quiet else logging.WARNING, format="%(levelname)s: %(message)s"
    )


def user_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean bad input (printed as one 'error:' line, exit code 2), not a bug."""
    from adu_depth_core.bags.io import BagError
    from adu_depth_core.bags.lidar import ExtrinsicError
    from adu_depth_core.bags.messages import MessageError
    from adu_depth_core.checkpoint import CheckpointError

    errors: list[type[BaseException]] = [
        BagError,
        ExtrinsicError,
        MessageError,
        CheckpointError,
        FileNotFoundError,
    ]
    try:
        from adu_depth_core.runtime.backends.base import ModelLoadError

        errors += [ModelLoadError]
    except ImportError:  # pragma: no cover - runtime always ships with the core
        pass
    return tuple(errors)


def print_error(exc: BaseException) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 2
