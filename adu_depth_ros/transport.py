"""Middleware settings the node applies to its own process before ``rclpy.init``.

Fast DDS (the default RMW of Jazzy) keeps a 0.5 MB shared-memory segment per
process; bigger messages (a 192x640 organised cloud is 2 MB, a 32FC1 depth image
0.5 MB) go over UDP loopback in fragments, and a lost fragment waits for the next
reliable heartbeat: seconds. A larger segment in the *publishing* process is
enough (subscribers read from it), so ``depth_node --shm-segment-mb 32`` fixes
the node's own outputs without touching the rest of the robot.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

PROFILE = """<?xml version="1.0" encoding="UTF-8" ?>
<!-- written by adu_depth_ros: a shared-memory segment big enough for depth images and point clouds -->
<profiles xmlns="http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles">
  <transport_descriptors>
    <transport_descriptor>
      <transport_id>shm_large</transport_id>
      <type>SHM</type>
      <segment_size>{segment}</segment_size>
      <maxMessageSize>{message}</maxMessageSize>
    </transport_descriptor>
    <transport_descriptor><transport_id>udp</transport_id><type>UDPv4</type></transport_descriptor>
  </transport_descriptors>
  <participant profile_name="adu_depth_large_data" is_default_profile="true">
    <rtps>
      <userTransports><transport_id>shm_large</transport_id><transport_id>udp</transport_id></userTransports>
      <useBuiltinTransports>false</useBuiltinTransports>
    </rtps>
  </participant>
</profiles>
"""
PROFILE_ENV = "FASTRTPS_DEFAULT_PROFILES_FILE"


def fastdds_large_data(
    segment_mb: int, folder: str | os.PathLike | None = None, environ: MutableMapping[str, str] = os.environ
) -> tuple[Path | None, str]:
    """Point this process's Fast DDS at a profile with a ``segment_mb`` MB shared-memory segment.

    Returns (profile path or None, a line saying what was done). Leaves everything
    alone for another RMW or when a Fast DDS profile is already configured.
    """
    if segment_mb <= 0:
        return None, "shared-memory segment: middleware default"
    rmw = environ.get("RMW_IMPLEMENTATION", "") or "rmw_fastrtps_cpp"
    if not rmw.startswith("rmw_fastrtps"):
        return None, f"--shm-segment-mb ignored: RMW is {rmw}, not Fast DDS"
    for key in (PROFILE_ENV, "FASTDDS_BUILTIN_TRANSPORTS"):  # the user's own transport choice wins
        if environ.get(key):
            return None, f"--shm-segment-mb ignored: {key} is already set ({environ[key]})"
    from adu_depth_core.checkpoint import atomic_write_bytes
    from adu_depth_core.runtime.cache import cache_dir

    segment = segment_mb * 1024 * 1024
    path = Path(cache_dir() if folder is None else folder) / f"fastdds_shm_{segment_mb}mb.xml"
    text = PROFILE.format(segment=segment, message=segment // 2).encode()
    atomic_write_bytes(path, lambda f: f.write(text))
    environ[PROFILE_ENV] = str(path)
    return path, f"Fast DDS shared-memory segment {segment_mb} MB ({path})"
