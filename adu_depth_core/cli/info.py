"""``adu-depth info``: what this install can do (backends, encoders, bundled model)."""

from __future__ import annotations

import argparse
import platform

import adu_depth_core

COMMAND = "info"
HELP = "Show the installed version, available backends and encoders, and the bundled model."

_OPTIONAL = {
    "torch": "PyTorch backend, training (pip install .[torch])",
    "onnxruntime": "ONNX Runtime backend (pip install .[onnx])",
    "onnx": "ONNX export (pip install .[onnx])",
    "tensorrt": "TensorRT backend (JetPack / NVIDIA's TensorRT wheels)",
    "pycuda": "TensorRT host/device buffers (pip install pycuda, needs the CUDA toolkit)",
    "rosbags": "rosbag2 tools (pip install .[bags])",
    "rclpy": "ROS 2 nodes (a ROS 2 install, or pip install .[ros])",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def run(args: argparse.Namespace) -> int:
    from adu_depth_core.runtime.backends.base import has_module

    del args
    print(
        f"adu-depth {adu_depth_core.__version__} (Python {platform.python_version()}, {platform.machine()})"
    )
    print("\noptional components:")
    for module, what in _OPTIONAL.items():
        print(f"  [{'x' if has_module(module) else ' '}] {module:<12} {what}")
    if has_module("torch"):
        from adu_depth_core.models import ENCODERS

        print(f"\nencoders: {', '.join(ENCODERS.names())}")
    from adu_depth_core.bundled import DEFAULT_STUDENT, DEFAULT_TEACHER

    for role, path in (("student", DEFAULT_STUDENT), ("teacher", DEFAULT_TEACHER)):
        state = f"{path} ({path.stat().st_size / 1e6:.1f} MB)" if path.is_file() else "not bundled"
        print(f"bundled {role}: {state}")
    return 0
