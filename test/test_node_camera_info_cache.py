"""camera_info pairing: an image can arrive before its camera_info (two topics, no ordering between them)."""

from __future__ import annotations

import threading
import time

import pytest

pytestmark = pytest.mark.ros


def _info(width: int, height: int, sec: int):
    from adu_depth_ros.testing import make_camera_info

    msg = make_camera_info(width, height, 100.0, 100.0, width / 2, height / 2)
    msg.header.stamp.sec = sec
    return msg


def test_late_camera_info_of_a_new_size_is_waited_for():
    from builtin_interfaces.msg import Time

    from adu_depth_ros.pipeline import CameraInfoCache

    cache = CameraInfoCache(wait_s=2.0)
    cache.add(_info(640, 480, sec=1))
    late = threading.Timer(0.1, lambda: cache.add(_info(741, 500, sec=2)))
    late.start()
    t0 = time.monotonic()
    found = cache.lookup(Time(sec=2), image_hw=(500, 741))
    late.join()
    assert found is not None and (found[1].width, found[1].height) == (741, 500)
    assert time.monotonic() - t0 < 1.5  # woke on arrival, not at the timeout


def test_no_wait_when_the_latest_camera_info_fits_the_image():
    from builtin_interfaces.msg import Time

    from adu_depth_ros.pipeline import CameraInfoCache

    cache = CameraInfoCache(wait_s=2.0)
    cache.add(_info(640, 480, sec=1))
    t0 = time.monotonic()
    found = cache.lookup(Time(sec=5), image_hw=(480, 640))  # a driver whose stamps never match
    assert found is not None and found[1].width == 640
    assert time.monotonic() - t0 < 0.5


def test_mismatch_falls_back_to_latest_after_the_wait():
    from builtin_interfaces.msg import Time

    from adu_depth_ros.pipeline import CameraInfoCache

    cache = CameraInfoCache(wait_s=0.05)
    cache.add(_info(640, 480, sec=1))
    found = cache.lookup(Time(sec=9), image_hw=(500, 741))
    assert found is not None and found[1].width == 640  # the node then reports the size mismatch


def test_a_camera_info_that_never_fits_costs_one_wait_not_one_per_frame():
    from builtin_interfaces.msg import Time

    from adu_depth_ros.pipeline import CameraInfoCache

    cache = CameraInfoCache(wait_s=0.3)
    cache.add(_info(640, 480, sec=1))
    t0 = time.monotonic()
    cache.lookup(Time(sec=2), image_hw=(500, 741))  # waits once, then gives up
    first = time.monotonic() - t0
    t0 = time.monotonic()
    for sec in range(3, 8):
        cache.lookup(Time(sec=sec), image_hw=(500, 741))
    later = time.monotonic() - t0
    assert first >= 0.25 and later < 0.2, (first, later)
    cache.add(_info(741, 500, sec=8))  # a fitting one arrives: the next mismatch may wait again
    late = threading.Timer(0.05, lambda: cache.add(_info(741, 500, sec=9)))
    late.start()
    found = cache.lookup(Time(sec=9), image_hw=(500, 741))
    late.join()
    assert found is not None and found[1].width == 741
