"""A real rclpy node from adu_depth_ros: started, seen on the ROS graph, shut down cleanly (in-process and as `depth_node`)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.ros


def _on_graph(observer, name: str, namespace: str) -> bool:
    return (name, namespace) in observer.get_node_names_and_namespaces()


def test_depth_node_in_process_appears_and_leaves_cleanly(tiny_student_ckpt):
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from adu_depth_ros.depth_node import DepthNode
    from adu_depth_ros.testing import ros_context, spinning

    with ros_context() as ctx:
        observer = Node("observer", context=ctx)
        node = DepthNode(
            context=ctx,
            namespace="found",
            parameter_overrides=[Parameter("model_path", value=str(tiny_student_ckpt))],
        )
        with spinning(ctx, observer):
            ok = _wait(lambda: _on_graph(observer, "depth_node", "/found"))
            assert ok, observer.get_node_names_and_namespaces()
            assert any(t.name == "depth_worker" for t in threading.enumerate())
            node.destroy_node()
            assert _wait(lambda: not _on_graph(observer, "depth_node", "/found"))
        assert not any(t.name == "depth_worker" and t.is_alive() for t in threading.enumerate())
        observer.destroy_node()
    assert not ctx.ok()


def _wait(predicate, timeout_s: float = 10.0) -> bool:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _console_script() -> str:
    exe = Path(sys.executable).with_name("depth_node")
    return str(exe) if exe.exists() else (shutil.which("depth_node") or "")


def test_depth_node_console_script_starts_and_stops_on_sigint(tiny_student_ckpt):
    from rclpy.node import Node

    from adu_depth_ros.testing import free_domain_id, ros_context, spinning

    script = _console_script()
    assert script, "the depth_node console script is not installed (pip install -e .)"
    domain = free_domain_id(salt=53)
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    cmd = [script, "--ros-args", "-r", "__ns:=/found_cli", "-p", f"model_path:={tiny_student_ckpt}"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with ros_context(domain) as ctx:
            observer = Node("observer", context=ctx)
            with spinning(ctx, observer):
                assert _wait(lambda: _on_graph(observer, "depth_node", "/found_cli"), 60.0), (
                    "depth_node never appeared"
                )
                assert _wait(lambda: observer.count_publishers("/found_cli/depth") == 1, 60.0)  # model loaded
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=30)
                assert _wait(lambda: not _on_graph(observer, "depth_node", "/found_cli"))
            observer.destroy_node()
    finally:
        if proc.poll() is None:
            proc.kill()
        out = proc.communicate()[0]
    assert proc.returncode == 0, out
    assert "loaded" in out and "Traceback" not in out
