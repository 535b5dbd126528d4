"""Read the intact part of a truncated MCAP bag (a recorder that was killed never wrote its index).

Streams the file record by record with the ``mcap`` library's non-seeking
reader and stops at the first incomplete record; every complete chunk before
it is recovered. Used by ``BagReader(path, salvage=True)``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from adu_depth_core.bags.records import BagError, RawMessage, TopicInfo, jazzy_typestore

log = logging.getLogger(__name__)


def _mcap_file(path: Path) -> Path:
    if path.is_file():
        return path
    files = sorted(path.glob("*.mcap"))
    if len(files) != 1:
        raise BagError(f"--salvage reads one .mcap file; {path} holds {len(files)}")
    return files[0]


class SalvagedMcap:
    """The complete messages of a (possibly truncated) MCAP file, with topic counts."""

    def __init__(self, path: Path) -> None:
        self.file = _mcap_file(path)
        self.topics: dict[str, TopicInfo] = {}
        self._schemas: dict[str, str] = {}
        self.error = ""
        for raw in self._scan(None):
            prev = self.topics.get(raw.topic)
            self.topics[raw.topic] = TopicInfo(raw.topic, raw.msgtype, (prev.count if prev else 0) + 1)

    def summary(self) -> str:
        total = sum(t.count for t in self.topics.values())
        why = f" ({self.error})" if self.error else ""
        return f"salvaged {total} complete messages from {self.file}{why}; anything after them is lost"

    def _scan(self, wanted: set[str] | None) -> Iterator[RawMessage]:
        try:
            from mcap.reader import NonSeekingReader
        except ImportError as exc:
            raise BagError("--salvage needs the 'mcap' package: pip install '.[bags]'") from exc
        with self.file.open("rb") as f:
            it = NonSeekingReader(f, validate_crcs=True).iter_messages(log_time_order=False)
            while True:
                try:
                    schema, channel, message = next(it)
                except StopIteration:
                    return
                except Exception as exc:  # EndOfFile, CRC and record errors: the end of what is readable
                    self.error = f"stopped at {type(exc).__name__}: {exc}".rstrip(": ")
                    return
                self._schemas.setdefault(schema.name, schema.data.decode("utf-8", "replace"))
                if wanted is None or channel.topic in wanted:
                    yield RawMessage(channel.topic, schema.name, int(message.log_time), bytes(message.data))

    def messages(self, wanted: set[str] | None) -> Iterator[RawMessage]:
        yield from self._scan(wanted)

    def connection_defs(self, topic: str) -> tuple[str, str, str]:
        """(msgtype, definition, hash); the hash comes from the Jazzy typestore (MCAP keeps none)."""
        msgtype = self.topics[topic].msgtype
        store = jazzy_typestore()
        digest = store.hash_rihs01(msgtype) if msgtype in store.types else ""
        return msgtype, self._schemas.get(msgtype, ""), digest
