"""Entry point of ``adu-depth``: discovers subcommand modules in this package."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import adu_depth_core
from adu_depth_core import cli as _cli_pkg


def _subcommand_modules():
    for info in sorted(pkgutil.iter_modules(_cli_pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name == "main":
            continue
        module = importlib.import_module(f"{_cli_pkg.__name__}.{info.name}")
        if hasattr(module, "COMMAND") and hasattr(module, "run"):
            yield module


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="adu-depth",
        description="Monocular metric depth with uncertainty (ADU-Depth): offline tools.",
    )
    parser.add_argument("--version", action="version", version=f"adu-depth {adu_depth_core.__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the full Python traceback of an error (default: one 'error:' line)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _subcommand_modules():
        p = sub.add_parser(module.COMMAND, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: one line for the user, the traceback on request
        if args.debug:
            raise
        print(f"error: {error_line(exc)}", file=sys.stderr)
        print("(run `adu-depth --debug ...` for the full traceback)", file=sys.stderr)
        return 2


def error_line(exc: BaseException) -> str:
    """An exception as one line: its message, with the type when the message alone would be unclear."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    known = type(exc).__name__.endswith("Error") and type(exc).__module__.startswith("adu_depth_core")
    return text if known or isinstance(exc, (OSError, ValueError)) else f"{type(exc).__name__}: {text}"


if __name__ == "__main__":
    sys.exit(main())
