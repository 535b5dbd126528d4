"""The managed node, driven through its real lifecycle services: model on configure, subscriptions on activate."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.ros

NODE = "/lc/depth_node"


def _call(probe, srv_type, name, request, timeout_s=15.0):
    client = probe.create_client(srv_type, name)
    try:
        assert client.wait_for_service(timeout_sec=timeout_s), f"{name} not available"
        future = client.call_async(request)
        assert probe.wait_until(future.done, timeout_s), f"{name} did not answer"
        return future.result()
    finally:
        probe.destroy_client(client)


def _transition(probe, transition_id) -> bool:
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState

    return _call(
        probe,
        ChangeState,
        f"{NODE}/change_state",
        ChangeState.Request(transition=Transition(id=transition_id)),
    ).success


def _state(probe) -> str:
    from lifecycle_msgs.srv import GetState

    return _call(probe, GetState, f"{NODE}/get_state", GetState.Request()).current_state.label


def test_lifecycle_transitions(ctx, tiny_student_ckpt, tmp_path):
    from lifecycle_msgs.msg import Transition

    from adu_depth_ros.diagnostics import ERROR
    from adu_depth_ros.testing import gradient_image, make_camera_info, running_node

    rgb, info = gradient_image(48, 64), make_camera_info(64, 48, 50.0, 50.0, 32.0, 24.0)
    params = {"model_path": str(tmp_path / "missing.pt"), "diagnostics_period_s": 0.2}
    with running_node(ctx, params, namespace="lc", lifecycle=True) as (node, probe):
        assert _state(probe) == "unconfigured"
        assert probe.count_subscribers("/lc/image") == 0 and probe.count_publishers("/lc/depth") == 0

        # a missing model fails configure (and says so), the node stays unconfigured and alive
        assert not _transition(probe, Transition.TRANSITION_CONFIGURE)
        assert _state(probe) == "unconfigured"
        st = probe.wait_status(NODE, lambda s: "cannot load model" in s.message)
        assert st.level[0] == ERROR

        assert probe.set_params(NODE, {"model_path": str(tiny_student_ckpt)})[0].successful
        assert _transition(probe, Transition.TRANSITION_CONFIGURE)
        assert _state(probe) == "inactive"
        assert probe.wait_until(lambda: probe.count_publishers("/lc/depth") == 1)
        assert probe.count_subscribers("/lc/image") == 0  # no subscriptions before activate

        assert _transition(probe, Transition.TRANSITION_ACTIVATE)
        assert _state(probe) == "active"
        got = probe.request(rgb, info, ["depth", "points"])
        assert got["depth"].encoding == "32FC1"

        assert _transition(probe, Transition.TRANSITION_DEACTIVATE)
        assert probe.wait_until(lambda: probe.count_subscribers("/lc/image") == 0)
        received = node.health.counts()["received"]
        for _ in range(5):
            probe.send(rgb, info)
            time.sleep(0.05)
        assert node.health.counts()["received"] == received  # inactive: nothing is read

        assert _transition(probe, Transition.TRANSITION_CLEANUP)
        assert _state(probe) == "unconfigured"
        assert probe.wait_until(lambda: probe.count_publishers("/lc/depth") == 0)
        assert _transition(probe, Transition.TRANSITION_UNCONFIGURED_SHUTDOWN)
        assert _state(probe) == "finalized"


def test_console_script_lifecycle_mode_starts_unconfigured(tmp_path):
    """``depth_node --lifecycle`` (as launch starts it) comes up unconfigured, without loading a model."""
    from lifecycle_msgs.srv import GetState

    from adu_depth_ros.testing import Probe, free_domain_id, ros_context, spinning

    domain = free_domain_id(salt=37)
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    code = "import sys; from adu_depth_ros.depth_node import main; sys.exit(main(sys.argv))"
    args = [
        sys.executable,
        "-c",
        code,
        "--lifecycle",
        "--ros-args",
        "-r",
        "__ns:=/lc",
        "-p",
        "model_path:=/nonexistent.pt",
    ]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with ros_context(domain) as ctx:
            probe = Probe(ctx, outputs=[])
            with spinning(ctx, probe):
                state = _call(probe, GetState, f"{NODE}/get_state", GetState.Request(), timeout_s=30)
                assert state.current_state.label == "unconfigured"
            probe.destroy_node()
    finally:
        proc.send_signal(2)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "cannot load model" not in out  # configure never ran
