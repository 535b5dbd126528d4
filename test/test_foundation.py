"""The package itself: purity of the core library, packaging metadata, CLI, colcon layout, README/CI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run_py(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **env},
    )


def test_core_library_never_imports_rclpy():
    """Import every module of adu_depth_core (torch, onnx, data, cli ...) and check rclpy stayed out."""
    code = (
        "import importlib, pkgutil, sys\n"
        "import adu_depth_core\n"
        "names = [m.name for m in pkgutil.walk_packages(adu_depth_core.__path__, 'adu_depth_core.')]\n"
        "for n in names: importlib.import_module(n)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'rclpy', 'rcl_interfaces', 'adu_depth_ros'})\n"
        "print(len(names), bad)\n"
        "sys.exit(1 if bad or len(names) < 2 else 0)\n"
    )
    result = _run_py(code)
    assert result.returncode == 0, result.stdout + result.stderr


def test_bare_import_is_light():
    """``import adu_depth_core`` must not pull in torch (a Jetson ONNX/TensorRT deployment has none)."""
    result = _run_py("import sys, adu_depth_core; print('torch' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_package_xml_is_format3_ament_python():
    tree = ET.parse(ROOT / "package.xml").getroot()
    assert tree.tag == "package" and tree.get("format") == "3"
    assert tree.findtext("name") == "adu_depth_ros"
    assert tree.find("export/build_type").text == "ament_python"
    deps = {e.text for e in tree if e.tag in {"depend", "exec_depend"}}
    assert {"rclpy", "sensor_msgs", "std_msgs", "diagnostic_msgs"} <= deps
    setup_version = re.search(r'version="([^"]+)"', (ROOT / "setup.py").read_text()).group(1)
    assert tree.findtext("version") == setup_version


def test_cli_lists_every_subcommand_module():
    from adu_depth_core.cli import main as cli_main

    modules = [m for m in cli_main._subcommand_modules()]
    names = [m.COMMAND for m in modules]
    assert len(names) == len(set(names)), f"duplicate subcommands: {names}"
    helptext = cli_main.build_parser().format_help()
    for name in names:
        assert name in helptext
    assert "info" in names


def test_cli_entry_point_runs():
    exe = Path(sys.executable).with_name("adu-depth")
    if not exe.exists():
        pytest.skip("package not pip-installed in this interpreter (run `make test`)")
    result = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "adu-depth" in result.stdout


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme
    assert re.search(r"^make test$", ci, re.M), ".ci/run must call the README's test command"


def _copy_sources(dst: Path) -> None:
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "build", "install", "log", "runs", "out", "__pycache__", "*.egg-info"
    )
    shutil.copytree(ROOT, dst, ignore=ignore)


@pytest.mark.slow
def test_colcon_build_installs_the_ros_layout(tmp_path):
    colcon = shutil.which("colcon") or str(Path(sys.executable).with_name("colcon"))
    if not Path(colcon).exists():
        pytest.skip("colcon not installed (pip install .[dev])")
    _copy_sources(tmp_path / "src" / "adu_depth_ros")
    result = subprocess.run(
        [colcon, "build", "--base-paths", "src"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    prefix = tmp_path / "install" / "adu_depth_ros"
    assert (prefix / "lib" / "adu_depth_ros" / "depth_node").is_file()
    assert (prefix / "lib" / "adu_depth_ros" / "adu-depth").is_file()
    share = prefix / "share" / "adu_depth_ros"
    assert (share / "package.xml").is_file()
    assert (prefix / "share" / "ament_index" / "resource_index" / "packages" / "adu_depth_ros").is_file()
    for folder, pattern in (("launch", "*.py"), ("config", "*.yaml")):
        sources = sorted(p.name for p in (ROOT / folder).glob(pattern))
        assert sources, f"{folder}/ has no {pattern}"
        assert sorted(p.name for p in (share / folder).glob(pattern)) == sources
    site = next((prefix / "lib").glob("python3*/site-packages"))
    bundled = ROOT / "adu_depth_core" / "assets" / "student_default.pt"
    if bundled.exists():
        assert (
            site / "adu_depth_core" / "assets" / "student_default.pt"
        ).stat().st_size == bundled.stat().st_size

    # The installed tree (not this checkout) answers: the console script runs from the install prefix.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    probe = subprocess.run(
        [sys.executable, "-c", "import adu_depth_core, adu_depth_ros; print(adu_depth_core.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    assert str(site) in probe.stdout
