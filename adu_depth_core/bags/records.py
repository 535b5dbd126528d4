"""What the bag reader, writer and salvager share: errors, the typestore, topic and message records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class BagError(RuntimeError):
    """A bag cannot be opened, read or written; the message says what is wrong and what to do."""


class TopicError(BagError):
    """A topic is missing from a bag or has the wrong type; the message lists the topics that are there."""


def jazzy_typestore() -> Any:
    """The rosbags typestore of ROS 2 Jazzy (sensor_msgs, std_msgs, ...)."""
    try:
        from rosbags.typesys import Stores, get_typestore
    except ImportError as exc:
        raise BagError("the bag tools need the 'rosbags' package: pip install '.[bags]'") from exc
    return get_typestore(Stores.ROS2_JAZZY)


@dataclass(frozen=True)
class TopicInfo:
    """One topic of a bag: its name, message type and message count."""

    name: str
    msgtype: str
    count: int


@dataclass(frozen=True)
class RawMessage:
    """One serialized (CDR) message as stored in the bag; ``log_time_ns`` is the recording time."""

    topic: str
    msgtype: str
    log_time_ns: int
    data: bytes
