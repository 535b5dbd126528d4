"""The user cache for derived model files: ONNX exported from checkpoints, fp16 and int8 ONNX, TensorRT engines.

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


def onnx_for_checkpoint(
    checkpoint: Path, input_size: tuple[int, int] | None, cache: Path, opset: int = 17
) -> Path:
    """ONNX export of a checkpoint, made on first use (needs torch) and reused while the checkpoint is unchanged."""
    from adu_depth_core.export import export_checkpoint  # imports torch

    size = "card" if input_size is None else f"{input_size[0]}x{input_size[1]}"
    out = cache / "onnx" / f"{checkpoint.stem}-{key_of(file_sha256(checkpoint), size, opset)}.onnx"
    if not out.is_file():
        export_checkpoint(checkpoint, out, input_size=input_size, opset=opset, parity_images=None)
    return out


def fp16_onnx(onnx_path: Path, cache: Path) -> Path:
    """fp16 version of an fp32 ONNX (fp32 inputs/outputs kept), made on first use."""
    from adu_depth_core.export import convert_onnx_fp16

    out = cache / "onnx" / f"{onnx_path.stem}-fp16-{key_of(file_sha256(onnx_path))}.onnx"
    if not out.is_file():
        convert_onnx_fp16(onnx_path, out)
    return out


def int8_onnx(onnx_path: Path, cache: Path) -> Path:
    """int8 (QDQ, calibrated on synthetic frames) version of an fp32 ONNX, made on first use (needs torch)."""
    from adu_depth_core.quantize import precision_of, quantize_onnx_int8

    if precision_of(onnx_path) == "int8":
        return onnx_path
    out = cache / "onnx" / f"{onnx_path.stem}-int8-{key_of(file_sha256(onnx_path))}.onnx"
    if not out.is_file():
        quantize_onnx_int8(onnx_path, out)
    return out


def write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Atomically write ``data`` to ``path`` (0666 minus the umask, like a plain open)."""
    from adu_depth_core.checkpoint import atomic_write_bytes

    return atomic_write_bytes(path, lambda f: f.write(data))
