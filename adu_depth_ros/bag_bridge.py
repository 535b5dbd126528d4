"""Play a rosbag2 into a live ROS graph and record topics back into one, without ``ros2 bag``.

Where ``ros2 bag play`` / ``ros2 bag record`` exist, use them. Where they do not
(a pip-only install, CI), these two small rclpy nodes do the same job with the
``rosbags`` library: messages move as serialized CDR bytes, so they reach the
graph (and the output bag) byte for byte, stamps included.

- ``BagPlayer`` publishes one frame at a time: ``play_frame(stamp_ns)`` sends every
  message whose header stamp is that stamp (camera_info before images), so a
  caller can wait for the outputs of a frame before sending the next (lockstep,
  no drops) or pace frames by their stamps.
- ``BagRecorder`` subscribes raw to a set of topics and appends every message to
  an MCAP (or sqlite3) bag, logged at its header stamp; it remembers which
  stamps it has seen per topic so the caller can wait on them.
"""

from __future__ import annotations

import importlib
import threading
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from rclpy.context import Context
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

from adu_depth_core.bags.io import BagReader, BagWriter, RawMessage
from adu_depth_core.bags.messages import MessageError, cdr_stamp_ns

INFO_TYPE = "sensor_msgs/msg/CameraInfo"


def message_class(msgtype: str) -> type:
    """The rclpy message class of 'pkg/msg/Name'; a clear error if that package is not installed."""
    pkg, _, name = msgtype.split("/")
    try:
        return getattr(importlib.import_module(f"{pkg}.msg"), name)
    except (ImportError, AttributeError) as exc:
        raise RuntimeError(f"message type {msgtype} is not available in this ROS install ({exc})") from exc


def reliable_qos(depth: int = 10) -> QoSProfile:
    """Reliable keep-last QoS: what a lockstep player and a recorder want (no lossy large images)."""
    return QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE)


class BagPlayer(Node):
    """Publishes a bag's messages grouped by header stamp, optionally renaming topics."""

    def __init__(
        self,
        bag_path: str | Path,
        topics: Iterable[str],
        remap: dict[str, str] | None = None,
        qos: QoSProfile | None = None,
        node_name: str = "adu_depth_bag_player",
        context: Context | None = None,
    ) -> None:
        super().__init__(node_name, context=context)
        self.remap = dict(remap or {})
        self._frames: dict[int, list[RawMessage]] = defaultdict(list)
        with BagReader(bag_path) as bag:
            wanted = list(topics)
            for topic in wanted:
                bag.require(topic)
            types = {t: bag.topics[t].msgtype for t in wanted}
            for raw in bag.raw_messages(wanted):
                self._frames[self._stamp(raw)].append(raw)
        self._pubs = {
            t: self.create_publisher(message_class(m), self.remap.get(t, t), qos or reliable_qos())
            for t, m in types.items()
        }

    @staticmethod
    def _stamp(raw: RawMessage) -> int:
        try:
            return cdr_stamp_ns(raw.data)
        except MessageError:
            return raw.log_time_ns

    @property
    def stamps(self) -> list[int]:
        """Header stamps of the bag's frames, in time order."""
        return sorted(self._frames)

    def frame_topics(self, stamp_ns: int) -> set[str]:
        """Input topics (bag names) that have a message at this stamp."""
        return {raw.topic for raw in self._frames.get(stamp_ns, [])}

    def subscriber_count(self, topic: str) -> int:
        return self._pubs[topic].get_subscription_count()

    def play_frame(self, stamp_ns: int) -> int:
        """Publish every message stamped ``stamp_ns`` (camera_info first); returns how many."""
        msgs = sorted(self._frames.get(stamp_ns, []), key=lambda r: r.msgtype != INFO_TYPE)
        for raw in msgs:
            self._pubs[raw.topic].publish(raw.data)
        return len(msgs)


class BagRecorder(Node):
    """Appends every message of ``topics`` to a new bag, logged at its header stamp."""

    def __init__(
        self,
        bag_path: str | Path,
        topics: dict[str, str],
        storage: str = "mcap",
        qos: QoSProfile | None = None,
        node_name: str = "adu_depth_bag_recorder",
        context: Context | None = None,
        skip_repeats: bool = False,
    ) -> None:
        """``topics``: graph topic name -> message type ('sensor_msgs/msg/Image').

        ``skip_repeats``: record a topic's message only once per header stamp (a player that
        resends an unanswered frame must not leave two copies of it in the bag).
        """
        super().__init__(node_name, context=context)
        self._skip_repeats = skip_repeats
        self._lock = threading.Lock()
        self._seen: dict[str, set[int]] = defaultdict(set)
        self._writer = BagWriter(bag_path, storage=storage).open()
        for topic, msgtype in topics.items():
            self._writer.add_topic(topic, msgtype)
            self.create_subscription(
                message_class(msgtype),
                topic,
                lambda data, t=topic: self._on_message(t, data),
                qos or reliable_qos(),
                raw=True,
            )

    def _on_message(self, topic: str, data: bytes) -> None:
        try:
            stamp = cdr_stamp_ns(data)
        except MessageError:
            stamp = self.get_clock().now().nanoseconds
        with self._lock:
            if self._skip_repeats and stamp in self._seen[topic]:
                return
            self._writer.write_raw(topic, data, stamp)
            self._seen[topic].add(stamp)

    def has(self, topic: str, stamp_ns: int) -> bool:
        with self._lock:
            return stamp_ns in self._seen[topic]

    @property
    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._writer.counts)

    def close(self) -> None:
        """Finish the bag (safe to call twice); what was recorded stays readable."""
        with self._lock:
            self._writer.close()
