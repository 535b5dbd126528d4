"""NodeHealth: throttled problem lines, status levels, counters, stage latencies and rates."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytestmark = pytest.mark.ros


def _values(status) -> dict:
    return {kv.key: kv.value for kv in status.values}


def test_problem_lines_are_throttled_per_category():
    from adu_depth_ros.diagnostics import NodeHealth

    h = NodeHealth("n: depth", throttle_s=0.3)
    assert h.problem("input", "bad step") == "[input] bad step"
    assert h.problem("input", "bad step") is None
    assert h.problem("input", "bad step") is None
    assert h.problem("camera_info", "zeros") == "[camera_info] zeros"  # another category is not throttled
    time.sleep(0.35)
    assert h.problem("input", "truncated") == "[input] truncated (2 similar since the last message)"
    assert _values(h.status())["errors_input"] == "4"


def test_status_level_is_the_worst_since_last_report_plus_standing():
    from adu_depth_ros.diagnostics import ERROR, OK, WARN, NodeHealth, level_name

    h = NodeHealth("n: depth")
    first = h.status()
    assert first.level[0] == OK and first.message == "ok"
    h.problem("input", "unsupported encoding 'yuv422'", WARN)
    st = h.status()
    assert (
        st.level[0] == WARN
        and "unsupported encoding 'yuv422'" in st.message
        and level_name(st.level) == "WARN"
    )
    assert h.status().level[0] == OK  # fresh problems only
    assert _values(h.status())["last_error"] == "[input] unsupported encoding 'yuv422'"

    h.set_standing("model", ERROR, "cannot load model 'x'")
    h.problem("input", "truncated", WARN)
    st = h.status()
    assert (
        st.level[0] == ERROR and st.message.startswith("cannot load model 'x'") and "truncated" in st.message
    )
    assert h.status().level[0] == ERROR  # standing until cleared
    h.clear_standing("model")
    assert h.status().level[0] == OK


def test_counters_stage_statistics_and_rates():
    from adu_depth_ros.diagnostics import NodeHealth, Rate

    h = NodeHealth("n: depth", window=4)
    for _ in range(5):
        h.count("received")
    h.count("dropped_stale", 3)
    samples = [10.0, 20.0, 30.0, 40.0, 90.0]  # the window keeps the last 4
    for ms in samples:
        h.stage_ms("infer", ms)
    v = _values(h.status())
    assert v["frames_received"] == "5" and v["frames_dropped_stale"] == "3" and v["frames_processed"] == "0"
    assert float(v["infer_ms_mean"]) == pytest.approx(np.mean(samples[1:]))
    assert float(v["infer_ms_p50"]) == pytest.approx(np.median(samples[1:]))
    assert float(v["infer_ms_max"]) == 90.0

    r = Rate()
    for t in np.arange(0.0, 2.0, 0.1):  # 10 Hz for 2 s
        r.tick(100.0 + t)
    assert r.hz(102.0) == pytest.approx(10.0)
    assert r.hz(200.0) == 0.0  # nothing recent


def test_to_msg_builds_a_stamped_array():
    from builtin_interfaces.msg import Time

    from adu_depth_ros.diagnostics import NodeHealth

    h = NodeHealth("/cam/depth_node: depth")
    h.hardware_id = "model.onnx"
    arr = h.to_msg(Time(sec=7, nanosec=9))
    assert (arr.header.stamp.sec, arr.header.stamp.nanosec) == (7, 9)
    assert [s.name for s in arr.status] == ["/cam/depth_node: depth"] and arr.status[
        0
    ].hardware_id == "model.onnx"
