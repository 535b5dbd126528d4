"""bags.io: rosbag2 read/write (sqlite3 + MCAP), clear errors for bad bags, partial results kept."""

from __future__ import annotations

import numpy as np
import pytest

from adu_depth_core.bags import messages as M
from adu_depth_core.bags.io import BagError, BagReader, BagWriter, TopicError, list_topics


def _write_images(path, storage, n=3, hw=(4, 6), fail_after=None):
    """n rgb8 frames on /cam/image and their camera_info, stamped 1 s + i * 0.1 s."""
    rng = np.random.default_rng(0)
    frames = []
    with BagWriter(path, storage=storage) as bag:
        for i in range(n):
            if fail_after is not None and i == fail_after:
                raise KeyboardInterrupt
            t = 1_000_000_000 + i * 100_000_000
            rgb = rng.integers(0, 256, hw + (3,), dtype=np.uint8)
            bag.write("/cam/image", M.image_msg(rgb, "rgb8", M.make_header(t, "cam")), t)
            bag.write(
                "/cam/camera_info",
                M.camera_info_msg(np.diag([5.0, 5.0, 1.0]), hw[1], hw[0], M.make_header(t, "cam")),
                t,
            )
            frames.append((t, rgb))
    return frames


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_written_bag_reads_back_with_rosbags(tmp_path, storage):
    frames = _write_images(tmp_path / "bag", storage)
    topics = list_topics(tmp_path / "bag")
    assert {n: (t.msgtype, t.count) for n, t in topics.items()} == {
        "/cam/image": ("sensor_msgs/msg/Image", 3),
        "/cam/camera_info": ("sensor_msgs/msg/CameraInfo", 3),
    }
    with BagReader(tmp_path / "bag") as bag:
        got = [
            (raw.log_time_ns, M.stamp_ns(msg.header), M.image_to_rgb(msg))
            for raw, msg in bag.messages(["/cam/image"])
        ]
    assert [g[0] for g in got] == [f[0] for f in frames] == [g[1] for g in got]
    for (_, _, rgb), (_, ref) in zip(got, frames):
        np.testing.assert_array_equal(rgb, ref)


def test_mcap_written_bag_reads_with_the_mcap_library(tmp_path):
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    frames = _write_images(tmp_path / "bag", "mcap")
    (mcap_file,) = (tmp_path / "bag").glob("*.mcap")
    with mcap_file.open("rb") as f:
        decoded = [
            (ch.topic, m)
            for _, ch, _, m in make_reader(f, decoder_factories=[DecoderFactory()]).iter_decoded_messages()
        ]
    images = [m for topic, m in decoded if topic == "/cam/image"]
    assert len(images) == 3 and images[0].encoding == "rgb8"
    np.testing.assert_array_equal(np.frombuffer(images[2].data, np.uint8).reshape(4, 6, 3), frames[2][1])


def test_missing_topic_lists_the_topics_that_are_there(tmp_path):
    _write_images(tmp_path / "bag", "mcap")
    with BagReader(tmp_path / "bag") as bag:
        with pytest.raises(TopicError) as err:
            bag.require("/cam/depth", role="depth topic")
        text = str(err.value)
        assert (
            "'/cam/depth' is not in bag" in text
            and "/cam/image" in text
            and "sensor_msgs/msg/CameraInfo" in text
        )
        with pytest.raises(
            TopicError, match="has type sensor_msgs/msg/CameraInfo; expected sensor_msgs/msg/Image"
        ):
            bag.require("/cam/camera_info", ["sensor_msgs/msg/Image"])


def test_missing_and_non_bag_paths_are_clear(tmp_path):
    with pytest.raises(BagError, match="bag not found"):
        BagReader(tmp_path / "nope").open()
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(BagError, match="not a bag"):
        BagReader(tmp_path / "x.txt").open()
    _write_images(tmp_path / "bag", "mcap")
    with pytest.raises(BagError, match="exists already"):
        BagWriter(tmp_path / "bag")


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_truncated_bag_gives_a_clear_error(tmp_path, storage):
    _write_images(tmp_path / "bag", storage, n=4, hw=(64, 96))
    (data,) = [p for p in (tmp_path / "bag").iterdir() if p.suffix in (".mcap", ".db3")]
    data.write_bytes(data.read_bytes()[: data.stat().st_size * 2 // 3])
    with (
        pytest.raises(BagError, match="corrupt or truncated|is corrupt") as err,
        BagReader(tmp_path / "bag") as bag,
    ):
        list(bag.raw_messages())
    assert str(tmp_path / "bag") in str(err.value)


def test_salvage_reads_the_complete_chunks_of_a_truncated_mcap(tmp_path):
    # 384x512 rgb8 frames are 590 kB: rosbags closes a chunk past 1 MiB, so 2 frames per chunk
    frames = _write_images(tmp_path / "bag", "mcap", n=5, hw=(384, 512))
    (data,) = (tmp_path / "bag").glob("*.mcap")
    data.write_bytes(data.read_bytes()[: data.stat().st_size * 4 // 5])  # cut inside the last chunk
    with BagReader(tmp_path / "bag", salvage=True) as bag:
        assert 0 < bag.topics["/cam/image"].count < 5
        got = [(M.stamp_ns(m.header), M.image_to_rgb(m)) for _, m in bag.messages(["/cam/image"])]
    assert len(got) == bag.topics["/cam/image"].count
    for (t, rgb), (t_ref, ref) in zip(got, frames):
        assert t == t_ref
        np.testing.assert_array_equal(rgb, ref)


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_writer_keeps_messages_written_before_an_interrupt(tmp_path, storage):
    with pytest.raises(KeyboardInterrupt):
        _write_images(tmp_path / "bag", storage, n=5, fail_after=3)
    topics = list_topics(tmp_path / "bag")
    assert topics["/cam/image"].count == 3 and topics["/cam/camera_info"].count == 3


def test_bag_folder_without_metadata_is_read_from_its_storage_file(tmp_path):
    _write_images(tmp_path / "bag", "mcap")
    (tmp_path / "bag" / "metadata.yaml").unlink()
    assert list_topics(tmp_path / "bag")["/cam/image"].count == 3


def _damaged_mcap(tmp_path, where: str):
    """5 frames (2 per chunk); damage ``where``: 'start' (header + first chunk), 'first_chunk' (its CRC'd
    body), or 'start_no_index' (start damaged and the index at the end cut off)."""
    from mcap.reader import make_reader

    frames = _write_images(tmp_path / "bag", "mcap", n=5, hw=(384, 512))
    (data,) = (tmp_path / "bag").glob("*.mcap")
    with open(data, "rb") as f:
        first = min(c.chunk_start_offset for c in make_reader(f).get_summary().chunk_indexes)
    raw = bytearray(data.read_bytes())
    if where == "first_chunk":
        raw[first + 9 : first + 49] = b"\xff" * 40
    else:
        raw[: first + 100] = bytes(first + 100)
    if where == "start_no_index":
        raw = raw[: len(raw) * 4 // 5]
    data.write_bytes(bytes(raw))
    return frames


@pytest.mark.parametrize("where", ["start", "first_chunk"])
def test_salvage_skips_damaged_chunks_before_the_first_frame(tmp_path, where):
    """Issue 17: damage before the first frame failed with and without --salvage alike."""
    frames = _damaged_mcap(tmp_path, where)
    with pytest.raises(BagError, match="--salvage"), BagReader(tmp_path / "bag") as bag:
        list(bag.raw_messages(["/cam/image"]))
    with BagReader(tmp_path / "bag", salvage=True) as bag:
        got = [(M.stamp_ns(m.header), M.image_to_rgb(m)) for _, m in bag.messages(["/cam/image"])]
    assert [t for t, _ in got] == [t for t, _ in frames[2:]]  # the first chunk's two frames are lost
    for (_, rgb), (_, ref) in zip(got, frames[2:]):
        np.testing.assert_array_equal(rgb, ref)


def test_salvage_with_nothing_recoverable_says_so(tmp_path):
    _damaged_mcap(tmp_path, "start_no_index")
    with pytest.raises(BagError, match="corrupt or truncated.*--salvage"):
        BagReader(tmp_path / "bag").open()
    with pytest.raises(BagError, match="--salvage found no complete message.*nothing in it can be recovered"):
        BagReader(tmp_path / "bag", salvage=True).open()
