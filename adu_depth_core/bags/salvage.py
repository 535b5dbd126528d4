"""Read the intact part of a damaged MCAP bag.

A truncated file (a recorder that was killed never wrote its index) is streamed
record by record with the ``mcap`` library's non-seeking reader up to the first
incomplete record; every complete chunk before it is recovered. A file whose
summary (the index at its end) survived but whose beginning or some chunk is
damaged is read chunk by chunk through that index, skipping the damaged chunks.
When nothing at all can be recovered the error says so. Used by
``BagReader(path, salvage=True)``.
"""

from __future__ import annotations

import io
import logging
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from adu_depth_core.bags.records import BagError, RawMessage, TopicInfo, jazzy_typestore

log = logging.getLogger(__name__)
MCAP_MAGIC = b"\x89MCAP0\r\n"


def _mcap_file(path: Path) -> Path:
    if path.is_file():
        return path
    files = sorted(path.glob("*.mcap"))
    if len(files) != 1:
        raise BagError(f"--salvage reads one .mcap file; {path} holds {len(files)}")
    return files[0]


@dataclass
class _Index:
    """What an MCAP's summary section tells: schemas and channels by id, and where each chunk is."""

    schemas: dict = field(default_factory=dict)
    channels: dict = field(default_factory=dict)
    chunk_indexes: list = field(default_factory=list)


def _records(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(opcode, body) of consecutive MCAP records in ``data``; stops at the first incomplete one."""
    i = 0
    while i + 9 <= len(data):
        opcode, length = data[i], struct.unpack_from("<Q", data, i + 1)[0]
        if i + 9 + length > len(data):
            return
        yield opcode, data[i + 9 : i + 9 + length]
        i += 9 + length


def _read_summary(path: Path) -> _Index | None:
    """The summary section at the end of the file (read from the footer, whatever the start holds), or None."""
    from mcap.data_stream import ReadDataStream
    from mcap.records import Channel, ChunkIndex, Schema

    readers = {0x03: ("schemas", Schema), 0x04: ("channels", Channel), 0x08: ("chunk_indexes", ChunkIndex)}
    try:
        with path.open("rb") as f:
            f.seek(-(8 + 9 + 20), os.SEEK_END)  # footer record (opcode, length, 20-byte body) + end magic
            footer = f.read(8 + 9 + 20)
            if footer[0] != 0x02 or footer[-8:] != MCAP_MAGIC:
                return None
            summary_start = struct.unpack_from("<Q", footer, 9)[0]
            if summary_start == 0:
                return None
            f.seek(summary_start)
            data = f.read()
    except (OSError, struct.error, IndexError):
        return None
    index = _Index()
    for opcode, body in _records(data):
        if opcode in readers:
            name, kind = readers[opcode]
            try:
                record = kind.read(ReadDataStream(io.BytesIO(body)))
            except Exception:  # a damaged summary record: go without it
                continue
            if name == "chunk_indexes":
                index.chunk_indexes.append(record)
            else:
                getattr(index, name)[record.id] = record
    return index if index.chunk_indexes and index.channels else None


def _chunk_messages(data: bytes) -> list:
    """The Message records of one chunk record (CRC checked, decompressed); raises if the chunk is damaged."""
    from mcap.data_stream import ReadDataStream
    from mcap.records import Chunk, Message
    from mcap.stream_reader import breakup_chunk

    (opcode, body), *_ = list(_records(data)) or [(None, b"")]
    if opcode != 0x06:
        raise ValueError("no chunk record at the indexed offset")
    chunk = Chunk.read(ReadDataStream(io.BytesIO(body)))
    return [r for r in breakup_chunk(chunk, validate_crc=True) if isinstance(r, Message)]


class SalvagedMcap:
    """The complete messages of a (possibly truncated) MCAP file, with topic counts."""

    def __init__(self, path: Path) -> None:
        self.file = _mcap_file(path)
        self.topics: dict[str, TopicInfo] = {}
        self._schemas: dict[str, str] = {}
        self.error = ""
        self._summary = _read_summary(self.file)
        for raw in self._scan(None):
            prev = self.topics.get(raw.topic)
            self.topics[raw.topic] = TopicInfo(raw.topic, raw.msgtype, (prev.count if prev else 0) + 1)
        if not self.topics:
            raise BagError(
                f"--salvage found no complete message in {self.file} ({self.error or 'no chunks'}): the damage "
                "comes before the first complete chunk and the file has no readable index, so nothing in it "
                "can be recovered; use another copy of the recording"
            )

    def summary(self) -> str:
        total = sum(t.count for t in self.topics.values())
        why = f" ({self.error})" if self.error else ""
        return f"salvaged {total} complete messages from {self.file}{why}; the rest is lost"

    def _scan(self, wanted: set[str] | None) -> Iterator[RawMessage]:
        if self._summary is not None and self._summary.chunk_indexes:
            yield from self._scan_indexed(wanted)
        else:
            yield from self._scan_stream(wanted)

    def _scan_indexed(self, wanted: set[str] | None) -> Iterator[RawMessage]:
        """Chunk by chunk through the file's own index, skipping chunks that fail to read or check."""
        summary, skipped = self._summary, []
        chunks = sorted(summary.chunk_indexes, key=lambda c: c.chunk_start_offset)
        with self.file.open("rb") as f:
            for index in chunks:
                f.seek(index.chunk_start_offset)
                try:
                    messages = _chunk_messages(f.read(index.chunk_length))
                except Exception as exc:  # CRC, decompression and record errors: this chunk is lost
                    skipped.append(f"{type(exc).__name__} at byte {index.chunk_start_offset}")
                    continue
                for message in messages:
                    channel = summary.channels.get(message.channel_id)
                    schema = summary.schemas.get(channel.schema_id) if channel else None
                    if schema is None or (wanted is not None and channel.topic not in wanted):
                        continue
                    self._schemas.setdefault(schema.name, schema.data.decode("utf-8", "replace"))
                    yield RawMessage(channel.topic, schema.name, int(message.log_time), bytes(message.data))
        if skipped:
            self.error = f"skipped {len(skipped)} of {len(chunks)} damaged chunks ({'; '.join(skipped[:3])})"

    def _scan_stream(self, wanted: set[str] | None) -> Iterator[RawMessage]:
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
