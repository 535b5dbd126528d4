"""int8 ONNX for CPUs: ONNX Runtime static quantization calibrated on synthetic street frames.

QDQ format, per-channel symmetric int8 weights, uint8 activations (ranges from
the calibration frames), fp32 input/output so callers do not change. The model
card is kept and the precision metadata says "int8". ``accuracy_vs_fp32``
compares the int8 file with its fp32 source on frames it was not calibrated on.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from adu_depth_core.runtime.backends.base import INPUT_NAME, OUTPUT_NAMES, PRECISION_KEY

CALIB_SEED = 9000  # calibration scenes; held-out checks use other seeds
QUANT_TYPES = ("qint8", "quint8")


@dataclass
class Int8Report:
    """int8 vs its fp32 source on the same frames: median |rel| depth difference and AbsRel between them."""

    median_rel_depth: float
    absrel_vs_fp32: float
    n_images: int


def synthetic_frames(n: int, hw: tuple[int, int], seed: int = CALIB_SEED) -> list[np.ndarray]:
    """``n`` rendered street frames (H x W x 3 uint8) of seeds seed..seed+n-1 (needs torch for rendering)."""
    from adu_depth_core.data.synthetic import SyntheticStereo

    frames = SyntheticStereo(n, size=hw, seed=seed, hfov_deg=(60.0, 100.0))
    return [frames[i].left for i in range(n)]


class _Frames:
    """ONNX Runtime CalibrationDataReader over preprocessed frames."""

    def __init__(self, images: list[np.ndarray], hw: tuple[int, int]) -> None:
        from adu_depth_core.runtime.preprocess import preprocess

        self._items = iter([{INPUT_NAME: preprocess(img, *hw)} for img in images])

    def get_next(self):
        return next(self._items, None)


def _input_hw(path: Path) -> tuple[int, int]:
    import onnx

    dims = onnx.load(str(path), load_external_data=False).graph.input[0].type.tensor_type.shape.dim
    return int(dims[2].dim_value), int(dims[3].dim_value)


def quantize_onnx_int8(
    src: str | os.PathLike,
    out: str | os.PathLike,
    images: list[np.ndarray] | None = None,
    n_calib: int = 16,
    activation_type: str = "quint8",
    weight_type: str = "qint8",
) -> Path:
    """Write the int8 (QDQ, per-channel weights) version of fp32 ONNX ``src`` to ``out``."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from adu_depth_core.export import _save_checked, _set_metadata, read_onnx_card

    if activation_type not in QUANT_TYPES or weight_type not in QUANT_TYPES:
        raise ValueError(f"activation and weight types must be in {QUANT_TYPES}")
    qtype = {"qint8": QuantType.QInt8, "quint8": QuantType.QUInt8}
    card, hw = read_onnx_card(src), _input_hw(Path(src))
    images = images if images is not None else synthetic_frames(n_calib, hw)
    with tempfile.TemporaryDirectory() as tmp:
        pre, q = Path(tmp) / "pre.onnx", Path(tmp) / "q.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre),
            str(q),
            _Frames(images, hw),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=qtype[activation_type],
            weight_type=qtype[weight_type],
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={"ActivationSymmetric": activation_type == "qint8"},
        )
        proto = onnx.load(str(q))
    _set_metadata(proto, card, "int8")
    return _save_checked(proto, Path(out))


def accuracy_vs_fp32(
    fp32_path: str | os.PathLike, int8_path: str | os.PathLike, images: list[np.ndarray]
) -> Int8Report:
    """Run both files (ONNX Runtime CPU) on ``images``; how far int8 depth is from fp32 depth."""
    import onnxruntime as ort

    from adu_depth_core.runtime.backends.base import session_options
    from adu_depth_core.runtime.preprocess import preprocess

    def session(p):
        return ort.InferenceSession(str(p), session_options(ort, None), providers=["CPUExecutionProvider"])

    ref, q = session(fp32_path), session(int8_path)
    hw = tuple(ref.get_inputs()[0].shape[2:])
    rels, absrels = [], []
    for image in images:
        x = preprocess(image, *hw)
        d_ref = ref.run([OUTPUT_NAMES[0]], {INPUT_NAME: x})[0]
        d_q = q.run([OUTPUT_NAMES[0]], {INPUT_NAME: x})[0]
        rel = np.abs(d_q - d_ref) / np.maximum(np.abs(d_ref), 1e-6)
        rels.append(float(np.median(rel)))
        absrels.append(float(np.mean(rel)))
    return Int8Report(float(np.median(rels)), float(np.mean(absrels)), len(images))


def precision_of(path: str | os.PathLike) -> str:
    """The precision an ONNX file's metadata declares ("fp32" when it says nothing)."""
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    return meta.get(PRECISION_KEY, "fp32")
