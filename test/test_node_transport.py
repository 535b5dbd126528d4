"""depth_node --shm-segment-mb: the Fast DDS profile it writes, and when it leaves the middleware alone."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from adu_depth_ros.transport import PROFILE_ENV, fastdds_large_data

NS = "{http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles}"


def test_profile_is_written_and_selected(tmp_path):
    env: dict[str, str] = {}
    path, line = fastdds_large_data(16, tmp_path, env)
    assert path == tmp_path / "fastdds_shm_16mb.xml" and env[PROFILE_ENV] == str(path)
    assert "16 MB" in line
    root = ET.parse(path).getroot()
    shm = [d for d in root.iter(f"{NS}transport_descriptor") if d.findtext(f"{NS}type") == "SHM"]
    assert len(shm) == 1 and int(shm[0].findtext(f"{NS}segment_size")) == 16 * 1024 * 1024
    assert int(shm[0].findtext(f"{NS}maxMessageSize")) == 8 * 1024 * 1024  # a 2 MB cloud fits in one message
    participant = root.find(f"{NS}participant")
    assert participant.get("is_default_profile") == "true"
    used = [t.text for t in participant.iter(f"{NS}transport_id")]
    assert used == ["shm_large", "udp"]  # UDP stays for discovery and other hosts


@pytest.mark.parametrize(
    "env,reason",
    [
        ({"RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"}, "not Fast DDS"),
        ({PROFILE_ENV: "/etc/mine.xml"}, "already set (/etc/mine.xml)"),
        ({"FASTDDS_BUILTIN_TRANSPORTS": "LARGE_DATA"}, "FASTDDS_BUILTIN_TRANSPORTS is already set"),
    ],
)
def test_users_own_middleware_choice_wins(tmp_path, env, reason):
    before = dict(env)
    path, line = fastdds_large_data(32, tmp_path, env)
    assert path is None and reason in line and env == before
    assert not any(tmp_path.iterdir())


def test_zero_means_middleware_default(tmp_path):
    env: dict[str, str] = {}
    assert fastdds_large_data(0, tmp_path, env)[0] is None and env == {}
