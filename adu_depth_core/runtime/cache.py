"""Where derived model files live (ONNX exported from checkpoints, fp16 and int8 ONNX, TensorRT engines),
and how they are named and written; ``runtime.derived`` makes them.

Location: ``$ADU_DEPTH_CACHE``, else ``$XDG_CACHE_HOME/adu-depth``, else
``~/.cache/adu-depth``. Every file is named by a hash of what it was made
from, so a changed source never hits a stale file; writes are atomic.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """The cache folder (created on demand)."""
    if override is not None:
        root = Path(override)
    elif os.environ.get("ADU_DEPTH_CACHE"):
        root = Path(os.environ["ADU_DEPTH_CACHE"])
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        root = Path(base) / "adu-depth"
    root.mkdir(parents=True, exist_ok=True)
    return root


def file_sha256(path: str | os.PathLike, chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def key_of(*parts: object) -> str:
    """Short stable hex key of several parts (strings, numbers, tuples)."""
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:20]


def write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Atomically write ``data`` to ``path`` (0666 minus the umask, like a plain open)."""
    from adu_depth_core.checkpoint import atomic_write_bytes

    return atomic_write_bytes(path, lambda f: f.write(data))
