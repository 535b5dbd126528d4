"""Open and write rosbag2 bags (sqlite3 or MCAP) with the ROS 2 Jazzy typestore, with clear errors.

A bag is a rosbag2 folder (``metadata.yaml`` + ``.mcap``/``.db3``) or a single
``.mcap``/``.db3`` file. Reading never needs ROS; messages come back as the
``rosbags`` dataclasses of the Jazzy typestore (same fields as rclpy's).
Writing always closes the bag properly, also on an error or Ctrl-C, so the
messages written so far stay readable.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from adu_depth_core.bags.records import BagError, RawMessage, TopicError, TopicInfo, jazzy_typestore

__all__ = ["BagError", "BagReader", "BagWriter", "RawMessage", "TopicError", "TopicInfo", "jazzy_typestore"]
log = logging.getLogger(__name__)

STORAGES = ("mcap", "sqlite3")
IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
_STORAGE_SUFFIX = {".mcap": "mcap", ".db3": "sqlite3"}


def describe_topics(topics: Iterable[TopicInfo]) -> str:
    """One indented line per topic: name, type, message count."""
    rows = sorted(topics, key=lambda t: t.name)
    if not rows:
        return "  (no topics)"
    width = max(len(t.name) for t in rows)
    return "\n".join(f"  {t.name:<{width}}  {t.msgtype}  ({t.count} msgs)" for t in rows)


def _storage_file(path: Path) -> Path | None:
    """The single .mcap/.db3 file of a bag folder that lost its metadata.yaml, else None."""
    files = [p for p in sorted(path.iterdir()) if p.suffix in _STORAGE_SUFFIX]
    return files[0] if len(files) == 1 else None


def _resolve_bag_path(path: Path) -> Path:
    """The path rosbags should open: the folder, or its storage file when metadata.yaml is missing."""
    if not path.exists():
        raise BagError(
            f"bag not found: {path} (give a rosbag2 folder with metadata.yaml, or a .mcap/.db3 file)"
        )
    if path.is_dir() and not (path / "metadata.yaml").is_file():
        single = _storage_file(path)
        if single is None:
            raise BagError(
                f"{path} is not a rosbag2 folder: no metadata.yaml and not exactly one .mcap/.db3 file in it"
            )
        log.warning(
            "%s has no metadata.yaml (recording interrupted?); reading %s directly", path, single.name
        )
        return single
    if path.is_file() and path.suffix not in _STORAGE_SUFFIX:
        raise BagError(f"{path} is not a bag: expected a rosbag2 folder or a .mcap/.db3 file")
    return path


def _corrupt_hint(path: Path) -> str:
    mcap = path.suffix == ".mcap" or (path.is_dir() and any(path.glob("*.mcap")))
    if mcap:
        return "for a truncated MCAP (recorder killed), rerun with --salvage to read its complete chunks"
    return "an sqlite3 bag that was not closed cleanly may need 'sqlite3 <file>.db3 .recover' on a copy"


class BagReader:
    """Read a rosbag2 bag; a context manager. ``salvage=True`` reads the intact part of a truncated MCAP."""

    def __init__(self, path: str | os.PathLike, salvage: bool = False) -> None:
        self.path = Path(path)
        self.salvage = salvage
        self.typestore = jazzy_typestore()
        self._reader: Any = None
        self._salvaged: Any = None

    # -- opening --------------------------------------------------------------------------------
    def open(self) -> BagReader:
        from rosbags.rosbag2 import Reader

        target = _resolve_bag_path(self.path)
        try:
            reader = Reader(target)
            reader.open()
        except Exception as exc:  # rosbags, apsw and yaml raise many types for corrupt files
            if self.salvage and _is_mcap(target):
                from adu_depth_core.bags.salvage import SalvagedMcap

                self._salvaged = SalvagedMcap(target)
                log.warning("%s", self._salvaged.summary())
                return self
            raise BagError(
                f"cannot open bag {self.path}: it is corrupt or truncated ({type(exc).__name__}: {exc}); "
                f"{_corrupt_hint(self.path)}"
            ) from exc
        self._reader = reader
        return self

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __enter__(self) -> BagReader:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ):
        self.close()

    # -- topics -----------------------------------------------------------------------------------
    @property
    def topics(self) -> dict[str, TopicInfo]:
        """Topic name -> TopicInfo, for every topic in the bag."""
        if self._salvaged is not None:
            return self._salvaged.topics
        self._check_open()
        out: dict[str, TopicInfo] = {}
        for conn in self._reader.connections:
            prev = out.get(conn.topic)
            count = conn.msgcount + (prev.count if prev else 0)
            out[conn.topic] = TopicInfo(conn.topic, conn.msgtype, count)
        return out

    def require(self, topic: str, msgtypes: Iterable[str] | None = None, role: str = "topic") -> TopicInfo:
        """The TopicInfo of ``topic``; TopicError (listing the bag's topics) if absent or of another type."""
        topics = self.topics
        info = topics.get(topic)
        if info is None:
            raise TopicError(
                f"{role} '{topic}' is not in bag {self.path}; topics there:\n{describe_topics(topics.values())}"
            )
        allowed = tuple(msgtypes or ())
        if allowed and info.msgtype not in allowed:
            raise TopicError(
                f"{role} '{topic}' in bag {self.path} has type {info.msgtype}; expected {' or '.join(allowed)}"
            )
        if info.count == 0:
            raise TopicError(f"{role} '{topic}' in bag {self.path} has no messages")
        return info

    def connection_defs(self, topic: str) -> tuple[str, str, str]:
        """(msgtype, message definition text, type hash) of a topic, for copying it into another bag."""
        if self._salvaged is not None:
            return self._salvaged.connection_defs(topic)
        self._check_open()
        conn = next(c for c in self._reader.connections if c.topic == topic)
        return conn.msgtype, conn.msgdef.data, conn.digest

    # -- messages ---------------------------------------------------------------------------------
    def raw_messages(self, topics: Iterable[str] | None = None) -> Iterator[RawMessage]:
        """Serialized messages of ``topics`` (all when None) in recording order.

        A read error part-way raises BagError saying how many messages were read; what the
        caller did with the earlier ones stays valid.
        """
        wanted = None if topics is None else set(topics)
        if self._salvaged is not None:
            yield from self._salvaged.messages(wanted)
            return
        self._check_open()
        conns = [c for c in self._reader.connections if wanted is None or c.topic in wanted]
        if not conns:
            return
        it = iter(self._reader.messages(connections=conns))
        seen: set[tuple[str, int]] = set()
        while True:
            try:
                conn, t_ns, data = next(it)
            except StopIteration:
                return
            except Exception as exc:  # storage backends raise many types for corrupt data
                if self.salvage and _is_mcap(_resolve_bag_path(self.path)):
                    yield from self._salvage_rest(wanted, seen)
                    return
                raise BagError(
                    f"bag {self.path} is corrupt: reading stopped after {len(seen)} messages "
                    f"({type(exc).__name__}: {exc}); {_corrupt_hint(self.path)}"
                ) from exc
            seen.add((conn.topic, int(t_ns)))
            yield RawMessage(conn.topic, conn.msgtype, int(t_ns), bytes(data))

    def _salvage_rest(self, wanted: set[str] | None, seen: set[tuple[str, int]]) -> Iterator[RawMessage]:
        """After a read error with ``salvage``: the intact messages not yet read, chunk by chunk."""
        from adu_depth_core.bags.salvage import SalvagedMcap

        salvaged = SalvagedMcap(_resolve_bag_path(self.path))
        log.warning("%s", salvaged.summary())
        for raw in salvaged.messages(wanted):
            if (raw.topic, raw.log_time_ns) not in seen:
                yield raw

    def deserialize(self, raw: RawMessage) -> Any:
        """The rosbags message object of a RawMessage; BagError if its bytes do not decode."""
        try:
            return self.typestore.deserialize_cdr(raw.data, raw.msgtype)
        except KeyError:
            raise BagError(f"message type {raw.msgtype} on '{raw.topic}' is not a ROS 2 Jazzy type") from None
        except Exception as exc:
            raise BagError(
                f"a {raw.msgtype} message on '{raw.topic}' at t={raw.log_time_ns} ns does not decode "
                f"({type(exc).__name__}: {exc}); the bag is corrupt"
            ) from exc

    def messages(self, topics: Iterable[str] | None = None) -> Iterator[tuple[RawMessage, Any]]:
        """(raw, decoded message) pairs of ``topics`` in recording order."""
        for raw in self.raw_messages(topics):
            yield raw, self.deserialize(raw)

    def _check_open(self) -> None:
        if self._reader is None:
            raise BagError(f"bag {self.path} is not open (use 'with BagReader(path) as bag:')")


def _is_mcap(path: Path) -> bool:
    return path.suffix == ".mcap" or (path.is_dir() and any(path.glob("*.mcap")))


def list_topics(path: str | os.PathLike) -> dict[str, TopicInfo]:
    """Topic name -> TopicInfo of a bag."""
    with BagReader(path) as bag:
        return bag.topics


class BagWriter:
    """Write a new rosbag2 bag incrementally; a context manager that always closes the bag.

    On an exception (including KeyboardInterrupt) the bag is still closed
    properly, so every message written before it stays readable.
    """

    def __init__(self, path: str | os.PathLike, storage: str = "mcap") -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        if storage not in STORAGES:
            raise BagError(f"unknown bag storage '{storage}'; choose one of {', '.join(STORAGES)}")
        self.path = Path(path)
        if self.path.exists():
            raise BagError(
                f"output bag {self.path} exists already; rosbag2 never overwrites: pick a new path"
            )
        self.storage = storage
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        self._writer = Writer(self.path, version=9, storage_plugin=plugin)
        self.typestore = jazzy_typestore()
        self._conns: dict[str, Any] = {}
        self.counts: dict[str, int] = {}
        self._open = False

    def open(self) -> BagWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer.open()
        self._open = True
        return self

    def add_topic(
        self, topic: str, msgtype: str, msgdef: str | None = None, digest: str | None = None
    ) -> None:
        """Declare a topic (once); ``msgdef``/``digest`` copy a definition from another bag."""
        if topic in self._conns:
            if self._conns[topic].msgtype != msgtype:
                raise BagError(f"topic '{topic}' added twice with different types")
            return
        if not (msgdef and digest):
            msgdef = digest = None
            if msgtype not in self.typestore.types:
                raise BagError(
                    f"cannot write '{topic}': {msgtype} is not a ROS 2 Jazzy type and has no definition"
                )
        kw = {"msgdef": msgdef, "rihs01": digest} if msgdef else {"typestore": self.typestore}
        self._conns[topic] = self._writer.add_connection(topic, msgtype, **kw)
        self.counts[topic] = 0

    def write(self, topic: str, msg: Any, log_time_ns: int) -> None:
        """Serialize a rosbags message and append it (the topic is added on first use)."""
        self.add_topic(topic, msg.__msgtype__)
        self.write_raw(topic, self.typestore.serialize_cdr(msg, msg.__msgtype__), log_time_ns)

    def write_raw(self, topic: str, data: bytes, log_time_ns: int) -> None:
        """Append an already serialized (CDR) message to a topic added before."""
        if topic not in self._conns:
            raise BagError(f"topic '{topic}' was not added to {self.path}")
        self._writer.write(self._conns[topic], int(log_time_ns), data)
        self.counts[topic] += 1

    def set_custom_data(self, key: str, value: str) -> None:
        """A key/value string stored in metadata.yaml (provenance: tool, model, options)."""
        self._writer.set_custom_data(key, value)

    def close(self) -> None:
        if self._open:
            self._open = False
            self._writer.close()

    def __enter__(self) -> BagWriter:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ):
        if exc_type is not None and self._open:
            total = sum(self.counts.values())
            log.warning(
                "%s: closing %s with the %d messages written so far", exc_type.__name__, self.path, total
            )
        self.close()
