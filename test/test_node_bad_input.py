"""Every bad input of docs/ros_interface.md: one clear log line (on /rosout), a diagnostics status, and the next good frame served."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytestmark = pytest.mark.ros

H, W = 48, 64
NODE = "/bad/depth_node"


@pytest.fixture(scope="module")
def node(ctx, tiny_student_ckpt):
    from adu_depth_ros.testing import running_node

    params = {"model_path": str(tiny_student_ckpt), "log_throttle_s": 0.0, "diagnostics_period_s": 0.2}
    with running_node(ctx, params, namespace="bad") as pair:
        yield pair


def _rgb():
    from adu_depth_ros.testing import gradient_image

    return gradient_image(H, W, seed=1)


def _info(width=W, height=H, k=None):
    from adu_depth_ros.testing import make_camera_info

    info = make_camera_info(width, height, 50.0, 50.0, width / 2, height / 2)
    if k is not None:
        info.k = k
    return info


def _good_image():
    from adu_depth_ros.conversions import numpy_to_image

    return numpy_to_image(_rgb(), "rgb8")


def _unsupported(msg):
    msg.encoding = "yuv422"
    return msg


def _zero_sized(msg):
    msg.height, msg.width, msg.step, msg.data = 0, 0, 0, b""
    return msg


def _truncated(msg):
    msg.data = bytes(msg.data)[: len(msg.data) // 2]
    return msg


def _step_mismatch(msg):
    msg.step = msg.width * 2  # rgb8 needs 3 bytes per pixel
    msg.data = bytes(msg.data)[: msg.step * msg.height]
    return msg


def _assert_reported(probe, mark, text, level, log_text=None):
    """The node logged ``text`` and a diagnostics status of ``level`` carried it."""
    from adu_depth_ros.diagnostics import level_value

    assert probe.wait_until(lambda: probe.log_lines(log_text or text)), f"no log line containing {text!r}"
    st = probe.wait_status(NODE, lambda s: text in s.message, since=mark)
    assert level_value(st.level) == level, st.message


def _reject_one(probe, dnode, make_bad) -> None:
    """Send one bad frame (again if the transport lost it) until the node has rejected it."""
    before = dnode.health.counts()["rejected"]
    for _ in range(20):
        probe.send(make_bad(_good_image()), _info())
        if probe.wait_until(lambda: dnode.health.counts()["rejected"] > before, timeout_s=1.0):
            return
    raise AssertionError("the node never processed the bad frame")


def _assert_still_serving(probe):
    got = probe.request(_rgb(), _info(), ["depth", "points"])
    assert np.isfinite(np.frombuffer(got["depth"].data, np.float32)).any()


@pytest.mark.parametrize(
    "make_bad,text",
    [
        (_unsupported, "unsupported encoding 'yuv422'"),
        (_zero_sized, "zero-sized"),
        (_truncated, "truncated"),
        (_step_mismatch, "step mismatch"),
    ],
)
def test_bad_image(node, make_bad, text):
    from adu_depth_ros.diagnostics import WARN

    dnode, probe = node
    probe.request(_rgb(), _info(), ["depth"])
    probe.clear()
    mark = len(probe.statuses(NODE))
    _reject_one(probe, dnode, make_bad)
    _assert_reported(probe, mark, text, WARN)
    _assert_still_serving(probe)


@pytest.mark.parametrize(
    "k,text",
    [([0.0] * 9, "focal length"), ([50.0, 0, 32, 0, float("nan"), 24, 0, 0, 1], "NaN")],
)
def test_bad_camera_info_is_ignored(node, k, text):
    from adu_depth_ros.diagnostics import WARN

    dnode, probe = node
    probe.clear()
    mark = len(probe.statuses(NODE))
    probe.wait_until(lambda: probe.send(_rgb(), _info(k=k)) and probe.log_lines(text), timeout_s=10)
    _assert_reported(probe, mark, text, WARN, log_text="ignoring camera_info")
    _assert_still_serving(probe)


def test_camera_info_of_another_size(node):
    from adu_depth_ros.diagnostics import WARN

    dnode, probe = node
    probe.clear()
    mark = len(probe.statuses(NODE))
    got = probe.request(_rgb(), _info(320, 240), ["depth"])  # depth needs no intrinsics: still served
    assert got["depth"].width == W
    _assert_reported(probe, mark, "camera_info is 240x320 (HxW) but the image is 48x64", WARN)
    _assert_still_serving(probe)


def test_corrupt_compressed_image(ctx, tiny_student_ckpt):
    from sensor_msgs.msg import CompressedImage

    from adu_depth_ros.diagnostics import WARN
    from adu_depth_ros.testing import running_node

    params = {"model_path": str(tiny_student_ckpt), "use_compressed": True, "diagnostics_period_s": 0.2}
    with running_node(ctx, params, namespace="badc") as (dnode, probe):
        mark = len(probe.statuses("/badc/depth_node"))
        junk = CompressedImage(format="jpeg", data=b"\xff\xd8\xff\xe0" + bytes(200))
        probe.wait_until(lambda: probe.send(junk, _info()) and dnode.health.counts()["rejected"] > 0)
        assert probe.wait_until(lambda: probe.log_lines("could not decode compressed image"))
        st = probe.wait_status("/badc/depth_node", lambda s: "could not decode" in s.message, since=mark)
        assert st.level[0] == WARN


def test_bad_input_log_is_throttled_but_counted(node):
    from adu_depth_ros.testing import status_value

    dnode, probe = node
    assert probe.set_params(NODE, {"log_throttle_s": 60.0})[0].successful
    try:
        probe.clear()
        start = dnode.health.counts()["rejected"]
        for _ in range(6):
            _reject_one(probe, dnode, _unsupported)
        time.sleep(0.5)  # let every log line the node wrote reach /rosout
        lines = probe.log_lines("yuv422")
        mark = len(probe.statuses(NODE))
        st = probe.wait_status(
            NODE, lambda s: int(status_value(s, "frames_rejected")) >= start + 6, since=mark
        )
    finally:
        probe.set_params(NODE, {"log_throttle_s": 0.0})
    # six bad frames inside one throttle window: at most one line (none if an earlier test logged this
    # category less than 60 s ago), but diagnostics count every one
    assert len(lines) <= 1, lines
    assert int(status_value(st, "errors_input")) >= 6


def _write_corrupt(path):
    path.write_bytes(b"PK\x03\x04 not really a torch zip" + bytes(64))
    return path


@pytest.mark.parametrize("kind", ["missing", "corrupt"])
def test_bad_model_file_keeps_the_node_alive(ctx, tiny_student_ckpt, tmp_path, kind):
    from adu_depth_ros.diagnostics import ERROR
    from adu_depth_ros.testing import running_node, status_value

    bad = tmp_path / "nope.pt" if kind == "missing" else _write_corrupt(tmp_path / "corrupt.pt")
    ns = f"model_{kind}"
    name = f"/{ns}/depth_node"
    with running_node(ctx, {"model_path": str(bad), "diagnostics_period_s": 0.2}, namespace=ns) as (
        dnode,
        probe,
    ):
        assert ("depth_node", f"/{ns}") in probe.get_node_names_and_namespaces()
        assert probe.wait_until(lambda: probe.log_lines(f"cannot load model '{bad}'"))
        st = probe.wait_status(name, lambda s: "cannot load model" in s.message)
        assert st.level[0] == ERROR
        assert ("not found" if kind == "missing" else "corrupt") in st.message
        probe.wait_until(
            lambda: probe.send(_rgb(), _info()) and dnode.health.counts()["skipped_no_model"] > 0
        )
        st = probe.wait_status(name, lambda s: int(status_value(s, "frames_skipped_no_model") or 0) > 0)
        assert st.level[0] == ERROR  # a standing condition until a model loads

        res = probe.set_params(name, {"model_path": str(tiny_student_ckpt)})
        assert res[0].successful, res[0].reason
        probe.request(_rgb(), _info(), ["depth"])
        st = probe.wait_status(name, lambda s: s.level[0] == 0)
        assert st.message == "ok"


def test_switching_to_a_bad_model_is_refused_and_the_old_one_keeps_serving(node, tmp_path):
    dnode, probe = node
    for bad in (tmp_path / "missing.pt", _write_corrupt(tmp_path / "corrupt.pt")):
        res = probe.set_params(NODE, {"model_path": str(bad)})
        assert not res[0].successful and "cannot load" in res[0].reason and str(bad) in res[0].reason
        assert dnode.get_parameter("model_path").value != str(bad)
    _assert_still_serving(probe)


def test_incompatible_camera_qos_is_reported(ctx, tiny_student_ckpt):
    """A best-effort camera and a node told to subscribe reliably never match: say so, with the fix."""
    from adu_depth_ros.diagnostics import ERROR
    from adu_depth_ros.testing import running_node

    params = {
        "model_path": str(tiny_student_ckpt),
        "input_qos.reliability": "reliable",
        "diagnostics_period_s": 0.2,
    }
    with running_node(ctx, params, namespace="qos") as (_, probe):  # the probe publishes best effort
        assert probe.wait_until(lambda: probe.log_lines("incompatible QoS (RELIABILITY)"))
        st = probe.wait_status("/qos/depth_node", lambda s: "incompatible QoS" in s.message)
        assert st.level[0] == ERROR and "set input_qos.reliability (now reliable)" in st.message
