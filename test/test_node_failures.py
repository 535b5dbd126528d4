"""The node never dies, never lies, never eats the machine: one test per failure of issue 17.

1. ``device:=cuda`` without CUDA (start-up, in a real subprocess) leaves the node up, reporting ERROR.
2. A teacher checkpoint is refused at load time; ``model_path`` back to ``default`` works; a worker
   that hits an unexpected error is restarted and says so.
3. /diagnostics keeps an incompatible QoS visible while it lasts, and goes WARN then ERROR when no
   frame (or no answered frame) arrives.
4. A compressed frame above ``max_input_pixels`` is refused from its header, and memory stays flat.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

pytestmark = pytest.mark.ros

H, W = 48, 64


def _rgb():
    from adu_depth_ros.testing import gradient_image

    return gradient_image(H, W, seed=5)


def _info():
    from adu_depth_ros.testing import make_camera_info

    return make_camera_info(W, H, 50.0, 50.0, W / 2, H / 2)


def _serves(probe) -> bool:
    got = probe.request(_rgb(), _info(), ["depth"])
    return bool(np.isfinite(np.frombuffer(got["depth"].data, np.float32)).any())


def _level(status) -> int:
    from adu_depth_ros.diagnostics import level_value

    return level_value(status.level)


# -- 1 ----------------------------------------------------------------------------------------------


def test_cuda_at_start_up_without_a_gpu_keeps_the_process_up(tiny_student_ckpt, tmp_path):
    from adu_depth_core.runtime.backends import cuda_available

    if cuda_available():
        pytest.skip("a CUDA GPU is usable here; this checks the behaviour on machines without one")
    env = {**os.environ, "ROS_DOMAIN_ID": "173", "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    cmd = [sys.executable, "-c", "import sys; from adu_depth_ros.depth_node import main; sys.exit(main())"]
    cmd += ["--ros-args", "-p", "device:=cuda", "-p", f"model_path:={tiny_student_ckpt}"]
    log = tmp_path / "node.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and "no CUDA GPU is usable" not in log.read_text():
                assert proc.poll() is None, f"the node exited (rc {proc.returncode}):\n{log.read_text()}"
                time.sleep(0.2)
            time.sleep(1.0)
            assert proc.poll() is None, f"the node exited (rc {proc.returncode}):\n{log.read_text()}"
            text = log.read_text()
            assert "cannot load model" in text and "Traceback" not in text, text
        finally:
            proc.send_signal(2)
            rc = proc.wait(timeout=20)
    assert rc == 0, log.read_text()


# -- 2 ----------------------------------------------------------------------------------------------


def test_teacher_refused_then_default_loads(ctx, tiny_student_ckpt, tiny_teacher_ckpt):
    from adu_depth_ros.testing import running_node

    params = {"model_path": str(tiny_student_ckpt), "diagnostics_period_s": 0.2}
    with running_node(ctx, params, namespace="teach") as (dnode, probe):
        assert _serves(probe)
        res = probe.set_params("/teach/depth_node", {"model_path": str(tiny_teacher_ckpt)})
        assert not res[0].successful and "'teacher' (stereo) checkpoint" in res[0].reason
        assert dnode.get_parameter("model_path").value == str(tiny_student_ckpt)
        assert _serves(probe)  # the last good model keeps serving
        res = probe.set_params("/teach/depth_node", {"model_path": "default"})
        assert res[0].successful, res[0].reason
        assert "student_default" in dnode.health.hardware_id or dnode._processor is not None
        assert _serves(probe)
        assert dnode._worker.is_alive()


def test_teacher_at_start_up_keeps_the_node_waiting_for_a_good_model(
    ctx, tiny_student_ckpt, tiny_teacher_ckpt
):
    from adu_depth_ros.testing import running_node

    with running_node(
        ctx, {"model_path": str(tiny_teacher_ckpt), "diagnostics_period_s": 0.2}, namespace="t0"
    ) as (
        dnode,
        probe,
    ):
        st = probe.wait_status("/t0/depth_node", lambda s: "cannot load model" in s.message)
        assert _level(st) == 2 and "teacher" in st.message
        res = probe.set_params("/t0/depth_node", {"model_path": str(tiny_student_ckpt)})
        assert res[0].successful, res[0].reason
        assert _serves(probe)


def test_a_worker_error_restarts_the_worker_and_is_reported(ctx, tiny_student_ckpt):
    """No input reaches an unexpected exception any more, so the bug is injected: the processor of the
    running node raises once; the worker must log it, count it, report ERROR and serve the next frame."""
    from adu_depth_ros.testing import running_node, status_value

    params = {"model_path": str(tiny_student_ckpt), "diagnostics_period_s": 0.2}
    with running_node(ctx, params, namespace="work") as (dnode, probe):
        assert _serves(probe)
        processor, calls = dnode._processor, []
        real_run = processor.run

        def failing_once(*args, **kwargs):
            calls.append(1)
            if len(calls) == 1:
                raise TypeError("injected bug")
            return real_run(*args, **kwargs)

        processor.run = failing_once
        worker = dnode._worker
        mark = len(probe.statuses("/work/depth_node"))
        assert _serves(probe)  # the first frame hit the bug; a resent one is answered
        assert calls and dnode.health.counts()["worker_restarts"] == 1
        st = probe.wait_status("/work/depth_node", lambda s: "[worker]" in s.message, since=mark)
        assert _level(st) == 2 and "TypeError: injected bug" in st.message
        assert status_value(st, "frames_worker_restarts") == "1"
        assert probe.wait_until(lambda: probe.log_lines("Traceback"))
        assert dnode._worker is worker and worker.is_alive()


# -- 3 ----------------------------------------------------------------------------------------------


def test_incompatible_qos_stays_visible_until_the_peer_goes(ctx, tiny_student_ckpt):
    from adu_depth_ros.testing import running_node

    params = {
        "model_path": str(tiny_student_ckpt),
        "input_qos.reliability": "reliable",  # the probe's camera publishes best effort
        "diagnostics_period_s": 0.2,
        "stale_input_warn_s": 0.0,
        "stale_input_error_s": 0.0,
    }
    name = "/qos2/depth_node"
    with running_node(ctx, params, namespace="qos2") as (_, probe):
        first = probe.wait_status(name, lambda s: "incompatible QoS" in s.message)
        mark = len(probe.statuses(name))
        assert probe.wait_until(lambda: len(probe.statuses(name)) >= mark + 5)
        later = probe.statuses(name)[mark : mark + 5]
        assert _level(first) == 2
        assert all(_level(s) == 2 and "incompatible QoS" in s.message for s in later), [
            s.message for s in later
        ]
        probe.destroy_publisher(probe.image_pub)
        probe.destroy_publisher(probe.info_pub)
        st = probe.wait_status(name, lambda s: "incompatible QoS" not in s.message, since=mark + 5)
        assert _level(st) == 0, st.message


def test_stale_input_goes_warn_then_error_and_recovers(ctx, tiny_student_ckpt):
    from adu_depth_ros.conversions import numpy_to_image
    from adu_depth_ros.testing import running_node, status_value

    params = {
        "model_path": str(tiny_student_ckpt),
        "diagnostics_period_s": 0.1,
        "stale_input_warn_s": 0.5,
        "stale_input_error_s": 1.5,
    }
    name = "/stale/depth_node"
    with running_node(ctx, params, namespace="stale") as (_, probe):
        warn = probe.wait_status(name, lambda s: "no image received" in s.message)
        error = probe.wait_status(name, lambda s: "no image received" in s.message and _level(s) == 2)
        assert _level(warn) == 1 and status_value(error, "last_received_age_s") == "never"
        assert _serves(probe)

        def streaming(msg, until):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                probe.send(msg, _info())
                mark = len(probe.statuses(name))
                time.sleep(0.1)
                hits = [s for s in probe.statuses(name)[mark:] if until(s)]
                if hits:
                    return hits[0]
            raise AssertionError("no matching status while streaming")

        ok = streaming(_rgb(), lambda s: _level(s) == 0)
        assert int(status_value(ok, "published_depth")) >= 1
        bad = numpy_to_image(_rgb(), "rgb8")
        bad.encoding = "yuv422"  # frames keep arriving, but none can be answered
        st = streaming(bad, lambda s: "no image answered" in s.message and _level(s) == 2)
        assert "rejected or failed" in st.message


# -- 4 ----------------------------------------------------------------------------------------------


def test_oversized_compressed_frame_is_refused_and_memory_stays_flat(ctx, tiny_student_ckpt):
    import cv2
    from sensor_msgs.msg import CompressedImage

    from adu_depth_core.image_size import blank_png
    from adu_depth_ros.testing import rss_mb, running_node

    png = cv2.imencode(".png", _rgb())[1].tobytes()
    huge = blank_png(6000, 6000)  # ~100 kB that decode to 108 MB
    params = {
        "model_path": str(tiny_student_ckpt),
        "use_compressed": True,
        "max_input_pixels": 1_000_000,
        "log_throttle_s": 0.0,
    }
    with running_node(ctx, params, namespace="rss") as (dnode, probe):
        for _ in range(3):
            probe.request(CompressedImage(format="png", data=png), _info(), ["depth"])
        baseline = rss_mb()
        if baseline != baseline:
            pytest.skip("no /proc here to read the resident memory from")
        before = dnode.health.counts()["rejected"]
        for _ in range(10):
            probe.send(CompressedImage(format="png", data=huge), _info())
            time.sleep(0.05)
        assert probe.wait_until(lambda: dnode.health.counts()["rejected"] > before)
        assert probe.wait_until(lambda: probe.log_lines("compressed image is 6000x6000 (HxW)"))
        got = probe.request(CompressedImage(format="png", data=png), _info(), ["depth"])
        assert got["depth"].width == W
        growth = rss_mb() - baseline
    assert growth < 30, f"resident memory grew by {growth:.0f} MB"
