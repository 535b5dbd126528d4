"""Generate the reference tables of docs/ros_interface.md from the code (never edit them by hand).

    python docs/gen_param_table.py           # print the tables
    python docs/gen_param_table.py --write   # rewrite the generated blocks of docs/ros_interface.md
    python docs/gen_param_table.py --check   # exit 1 when the doc is out of date (test/test_docs.py checks too)

Sources: ``adu_depth_ros.params.PARAMS`` (the declarations ``depth_node`` makes) and the
``ARGUMENTS`` tuple of every ``launch/*.launch.py`` (read with ``ast``: ROS ``launch`` need not
be installed). Nothing here imports rclpy.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "ros_interface.md"
LAUNCH_DIR = ROOT / "launch"
ROS_TYPES = {bool: "bool", int: "integer", float: "double", str: "string"}
BLOCK_RE = re.compile(r"(<!-- BEGIN GENERATED (\S+) -->\n)(.*?)(<!-- END GENERATED \2 -->)", re.S)


def format_default(value: bool | int | float | str) -> str:
    """A default as it is written in config/depth.yaml (YAML scalars: true, 5, 0.1, "auto")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def _cell(text: str) -> str:
    """Table-cell text: '|' escaped, '<' and '>' as entities (else '<image_topic>' renders as an HTML tag)."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _allowed(spec) -> str:
    if spec.choices:
        return ", ".join(f"`{c}`" for c in spec.choices)
    if spec.min_value is not None or spec.max_value is not None:
        lo = "" if spec.min_value is None else spec.min_value
        hi = "" if spec.max_value is None else spec.max_value
        return f"[{lo}, {hi}]"
    return ""


def _when(spec) -> str:
    if spec.read_only:
        return "start-up only"
    return "yes, reloads the model" if spec.reloads_model else "yes"


def param_table() -> str:
    """Markdown table of every depth_node parameter, in declaration order."""
    from adu_depth_ros.params import PARAMS

    lines = [
        "| parameter | type | default | allowed | change at run time | description |",
        "|---|---|---|---|---|---|",
    ]
    for p in PARAMS:
        kind = ROS_TYPES[type(p.default)]
        row = [f"`{p.name}`", kind, f"`{format_default(p.default)}`", _allowed(p), _when(p), p.description]
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def launch_arguments(path: Path) -> list[tuple[str, str, str]]:
    """(name, default, description) of a launch file's module-level ``ARGUMENTS`` tuple."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "ARGUMENTS" for t in node.targets):
            return [tuple(a) for a in ast.literal_eval(node.value)]
    raise ValueError(
        f"{path} has no literal ARGUMENTS = ((name, default, description), ...) tuple; "
        "docs/gen_param_table.py reads the launch arguments from it"
    )


def launch_table(path: Path) -> str:
    """Markdown table of one launch file's arguments."""
    lines = ["| argument | default | description |", "|---|---|---|"]
    for name, default, description in launch_arguments(path):
        shown = f"`{_cell(default)}`" if default else "*(empty)*"
        lines.append(f"| `{name}` | {shown} | {_cell(description)} |")
    return "\n".join(lines) + "\n"


def blocks() -> dict[str, str]:
    """Block name -> generated markdown: 'params' and 'launch:<file name>' per launch file."""
    out = {"params": param_table()}
    for path in sorted(LAUNCH_DIR.glob("*.launch.py")):
        out[f"launch:{path.name}"] = launch_table(path)
    return out


def render(text: str, generated: dict[str, str]) -> str:
    """``text`` with every generated block replaced; ValueError when a block has no markers."""
    found = {m.group(2) for m in BLOCK_RE.finditer(text)}
    missing = sorted(set(generated) - found)
    if missing:
        raise ValueError(
            f"{DOC.name} lacks the markers of {missing}: add '<!-- BEGIN GENERATED name -->' and "
            "'<!-- END GENERATED name -->' lines, then run python docs/gen_param_table.py --write"
        )
    stale = sorted(found - set(generated))
    if stale:
        raise ValueError(f"{DOC.name} has generated blocks with no source any more: {stale}")
    return BLOCK_RE.sub(lambda m: m.group(1) + generated[m.group(2)] + m.group(4), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help=f"update {DOC.relative_to(ROOT)} in place")
    mode.add_argument("--check", action="store_true", help="exit 1 if the doc differs from the code")
    args = parser.parse_args(argv)
    if str(ROOT) not in sys.path:  # run as a script from a source checkout
        sys.path.insert(0, str(ROOT))
    generated = blocks()
    if not (args.write or args.check):
        for name, table in generated.items():
            print(f"## {name}\n\n{table}")
        return 0
    text = DOC.read_text(encoding="utf-8")
    new = render(text, generated)
    if args.check:
        if new != text:
            print(f"{DOC} is out of date: run python docs/gen_param_table.py --write", file=sys.stderr)
            return 1
        return 0
    if new != text:
        DOC.write_text(new, encoding="utf-8")
        print(f"updated {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
