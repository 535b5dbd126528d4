"""Export: checkpoint -> ONNX (opset >= 17, model card in metadata, checked, compared with PyTorch
on real images), optional fp16 ONNX, optional TensorRT engine.

The CLI ``adu-depth export`` is a thin wrapper over these functions. torch is
imported only by the functions that need it (fp16 conversion does not).
"""

from __future__ import annotations

import io
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from adu_depth_core.checkpoint import ModelCard
from adu_depth_core.runtime.backends.base import (
    CARD_KEY,
    FORMAT_KEY,
    INPUT_NAME,
    ONNX_FORMAT,
    OUTPUT_NAMES,
    PRECISION_KEY,
    ModelFileError,
)
from adu_depth_core.runtime.cache import write_atomic  # a leaf module: cache never imports export
from adu_depth_core.runtime.onnx_graph import merge_sibling_convs, toposort

MIN_OPSET = 17


@dataclass
class ParityReport:
    """ONNX Runtime vs PyTorch on the same preprocessed images."""

    max_rel_depth: float  # max |ort - torch| / |torch| over all depth pixels
    max_rel_sigma: float
    max_abs_depth_m: float
    n_images: int

    @property
    def max_rel(self) -> float:
        return max(self.max_rel_depth, self.max_rel_sigma)


def _set_metadata(proto, card: ModelCard, precision: str) -> None:
    meta = {CARD_KEY: json.dumps(card.to_dict()), FORMAT_KEY: ONNX_FORMAT, PRECISION_KEY: precision}
    kept = [p for p in proto.metadata_props if p.key not in meta]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value


def _save_checked(proto, out: Path) -> Path:
    """onnx.checker (full, with shape inference), then an atomic write."""
    import onnx

    onnx.checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()
    return write_atomic(out, data)


def _torch_to_onnx_proto(deploy, input_hw: tuple[int, int], opset: int, dynamo: bool):
    import onnx
    import torch

    dummy = torch.rand(1, 3, *input_hw)
    kw = {"input_names": [INPUT_NAME], "output_names": list(OUTPUT_NAMES), "opset_version": opset}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporters' deprecation and constant-folding chatter
        if dynamo:
            program = torch.onnx.export(
                deploy, (dummy,), dynamo=True, external_data=False, verbose=False, **kw
            )
            return program.model_proto
        buf = io.BytesIO()
        torch.onnx.export(deploy, (dummy,), buf, dynamo=False, do_constant_folding=True, **kw)
    proto = onnx.load_from_string(buf.getvalue())
    try:  # fold the shape arithmetic the TorchScript exporter leaves around padding
        from onnxscript import optimizer

        proto = optimizer.optimize(proto)
    except ImportError:
        pass
    return proto


def simplify(proto) -> None:
    """Exact graph rewrites that help every runtime (see runtime.onnx_graph)."""
    merge_sibling_convs(proto)
    toposort(proto.graph)


def export_onnx(
    model,
    card: ModelCard,
    out: str | os.PathLike,
    input_size: tuple[int, int] | None = None,
    opset: int = MIN_OPSET,
    dynamo: bool = False,
) -> Path:
    """Write ``model`` (a student) as ONNX: input ``image`` 1x3xHxW, outputs ``depth_m``, ``sigma_m`` 1x1xHxW.

    The graph is fixed to ``input_size`` (default: the card's); the card stored in
    the metadata says that size. ``dynamo=True`` uses the torch.export-based
    exporter (which emits opset 18 or newer).
    """
    from adu_depth_core.runtime.deploy import DeployModel

    if opset < MIN_OPSET:
        raise ValueError(f"opset must be >= {MIN_OPSET}, got {opset}")
    h, w = input_size or (card.input_height, card.input_width)
    if h % 32 or w % 32:
        raise ValueError(f"input size must be multiples of 32, got {h}x{w}")
    card = ModelCard.from_dict({**card.to_dict(), "input_height": int(h), "input_width": int(w)})
    deploy = DeployModel(model).eval().cpu().float()
    proto = _torch_to_onnx_proto(deploy, (h, w), opset, dynamo)
    simplify(proto)
    _set_metadata(proto, card, "fp32")
    return _save_checked(proto, Path(out))


def read_onnx_card(path: str | os.PathLike) -> ModelCard:
    """The model card stored in an ONNX file's metadata."""
    import onnx

    from adu_depth_core.runtime.backends.base import card_from_json

    meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    if CARD_KEY not in meta:
        raise ModelFileError(f"{path} has no adu-depth model card; export it with `adu-depth export`")
    return card_from_json(meta[CARD_KEY], str(path))


def convert_onnx_fp16(src: str | os.PathLike, out: str | os.PathLike) -> Path:
    """fp16 weights and activations, fp32 input/output (so callers do not change); metadata kept."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    proto = onnx.load(str(src))
    card = read_onnx_card(src)
    if {p.key: p.value for p in proto.metadata_props}.get(PRECISION_KEY) == "fp16":
        return write_atomic(out, Path(src).read_bytes())  # already fp16
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        half = convert_float_to_float16(proto, keep_io_types=True)
    toposort(half.graph)
    del half.graph.value_info[:]  # stale fp32 annotations; the checker re-infers them
    _set_metadata(half, card, "fp16")
    return _save_checked(half, Path(out))


def default_parity_images() -> list[np.ndarray]:
    """Real photographs for the parity check: scikit-image's Middlebury motorcycle (left) and astronaut."""
    try:
        from skimage import data
    except ImportError as exc:
        raise RuntimeError(
            "the parity check needs real images: pip install scikit-image, or pass --images DIR"
        ) from exc
    return [data.stereo_motorcycle()[0], data.astronaut()]


def load_images(folder: str | os.PathLike, limit: int = 8) -> list[np.ndarray]:
    """Up to ``limit`` RGB uint8 images from a folder (sorted by name)."""
    import cv2

    from adu_depth_core.runtime.backends.tensorrt_engine import calibration_images

    images = []
    for path in calibration_images(Path(folder), limit):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is not None:
            images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    if not images:
        raise ValueError(f"no readable images in {folder}")
    return images


def parity_check(model, onnx_path: str | os.PathLike, images: list[np.ndarray]) -> ParityReport:
    """Run PyTorch (fp32) and ONNX Runtime (CPU, all optimisations) on the same images; compare."""
    import onnxruntime as ort
    import torch

    from adu_depth_core.runtime.backends.base import session_options
    from adu_depth_core.runtime.deploy import DeployModel
    from adu_depth_core.runtime.preprocess import preprocess

    session = ort.InferenceSession(
        str(onnx_path), session_options(ort, None), providers=["CPUExecutionProvider"]
    )
    h, w = session.get_inputs()[0].shape[2:]
    deploy = DeployModel(model).eval().cpu().float()
    rel_d = rel_s = abs_d = 0.0
    for image in images:
        x = preprocess(image, h, w)
        with torch.inference_mode():
            ref_d, ref_s = (t.numpy() for t in deploy(torch.from_numpy(x)))
        got_d, got_s = session.run(list(OUTPUT_NAMES), {INPUT_NAME: x})
        rel_d = max(rel_d, float(np.max(np.abs(got_d - ref_d) / np.abs(ref_d))))
        rel_s = max(rel_s, float(np.max(np.abs(got_s - ref_s) / np.maximum(np.abs(ref_s), 1e-12))))
        abs_d = max(abs_d, float(np.max(np.abs(got_d - ref_d))))
    return ParityReport(rel_d, rel_s, abs_d, len(images))


def export_checkpoint(
    checkpoint: str | os.PathLike,
    out: str | os.PathLike,
    input_size: tuple[int, int] | None = None,
    opset: int = MIN_OPSET,
    dynamo: bool = False,
    parity_images: list[np.ndarray] | None = None,
) -> tuple[Path, ParityReport | None]:
    """Load a checkpoint, export it, and (when images are given) compare ONNX Runtime with PyTorch."""
    from adu_depth_core.checkpoint import CheckpointError
    from adu_depth_core.models import load_model

    try:
        model, card = load_model(checkpoint)
    except CheckpointError as exc:
        raise ModelFileError(str(exc)) from exc
    path = export_onnx(model, card, out, input_size, opset, dynamo)
    report = parity_check(model, path, parity_images) if parity_images else None
    return path, report


def build_tensorrt_engine(
    onnx_path: str | os.PathLike,
    engine_path: str | os.PathLike,
    precision: str = "fp16",
    calib_dir: str | os.PathLike | None = None,
    device: str = "cuda:0",
) -> Path:
    """Build a TensorRT engine (+ ``.json`` sidecar) for this machine's TensorRT and GPU."""
    from adu_depth_core.runtime.backends import tensorrt_engine as te
    from adu_depth_core.runtime.backends.base import TENSORRT_INSTALL, require

    trt = require("tensorrt", "tensorrt", TENSORRT_INSTALL)
    cuda = require("pycuda.driver", "tensorrt", TENSORRT_INSTALL)
    card = read_onnx_card(onnx_path)
    cuda.init()
    dev = cuda.Device(int(device.split(":")[1]) if ":" in device else 0)
    ctx = dev.make_context()
    try:
        return te.build_engine_file(
            trt,
            cuda,
            dev.name(),
            Path(onnx_path),
            Path(engine_path),
            precision,
            card,
            (card.input_height, card.input_width),
            None if calib_dir is None else Path(calib_dir),
        )
    finally:
        ctx.pop()
        ctx.detach()
