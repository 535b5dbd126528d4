"""Derived model files, made on first use into the cache (``runtime.cache``) and reused while the source is unchanged.

The backends call these; the makers (``export``, ``quantize``) are imported only
here and only when a file has to be made, so they never import a backend back.
"""

from __future__ import annotations

from pathlib import Path

from adu_depth_core.runtime.cache import file_sha256, key_of


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
