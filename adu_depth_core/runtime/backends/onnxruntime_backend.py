"""ONNX Runtime backend: runs an exported ``.onnx`` (CPU, or CUDA where onnxruntime-gpu is installed).

Importing this module or running an ``.onnx`` never imports torch; only a
checkpoint given to this backend is exported first (which needs torch).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adu_depth_core.runtime.backends.base import (
    CARD_KEY,
    INPUT_NAME,
    OUTPUT_NAMES,
    PRECISION_KEY,
    Backend,
    BackendOptions,
    BackendUnavailableError,
    ModelFileError,
    card_from_json,
    check_io_shape,
    require,
    session_options,
)

INSTALL = "install it with `pip install onnxruntime` (or onnxruntime-gpu for CUDA)"
_PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"

    def __init__(self, session, card, input_hw, precision, device) -> None:
        super().__init__(card, input_hw, precision, device)
        self._session = session
        in_type = session.get_inputs()[0].type
        self._in_dtype = np.float16 if in_type == "tensor(float16)" else np.float32

    @property
    def input_dtype(self) -> type:
        return self._in_dtype

    def run(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        depth, sigma = self._session.run(
            list(OUTPUT_NAMES), {INPUT_NAME: image.astype(self._in_dtype, copy=False)}
        )
        return depth.astype(np.float32, copy=False), sigma.astype(np.float32, copy=False)

    def close(self) -> None:
        self._session = None


def _providers(ort, device: str) -> list[str]:
    wanted = _PROVIDERS.get(device.split(":")[0])
    if wanted is None:
        raise ValueError(f"onnxruntime device must be 'cpu' or 'cuda[:N]', got '{device}'")
    available = ort.get_available_providers()
    if wanted not in available:
        raise BackendUnavailableError(
            f"onnxruntime here has no {wanted} (available: {available}); "
            "install onnxruntime-gpu for CUDA or use device='cpu'"
        )
    return [wanted] if wanted == "CPUExecutionProvider" else [wanted, "CPUExecutionProvider"]


def open_session(ort, path: Path, opts: BackendOptions, device: str):
    """InferenceSession with clear errors for files that are not ONNX models."""
    try:
        return ort.InferenceSession(
            str(path), sess_options=session_options(ort, opts.num_threads), providers=_providers(ort, device)
        )
    except (BackendUnavailableError, ValueError):
        raise
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf/... types
        raise ModelFileError(
            f"{path} is not a loadable ONNX model ({type(exc).__name__}: {str(exc).strip()[:300]}); "
            "it may be truncated or not ONNX at all - re-export it with `adu-depth export`"
        ) from exc


def check_session(session, path: Path, opts: BackendOptions):
    """Model card from the metadata and the network input size; ModelFileError if the I/O does not match."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    names = [o.name for o in outputs]
    if len(inputs) != 1 or inputs[0].name != INPUT_NAME or not set(OUTPUT_NAMES) <= set(names):
        raise ModelFileError(
            f"{path} has inputs {[i.name for i in inputs]} and outputs {names}; an adu-depth model has "
            f"one input '{INPUT_NAME}' and outputs {list(OUTPUT_NAMES)} - export it with `adu-depth export`"
        )
    check_io_shape(inputs[0].shape, str(path))
    meta = session.get_modelmeta().custom_metadata_map
    if CARD_KEY not in meta:
        raise ModelFileError(
            f"{path} has no adu-depth model card in its metadata; export it with `adu-depth export`"
        )
    card = card_from_json(meta[CARD_KEY], str(path))
    fixed = tuple(inputs[0].shape[2:])
    if all(isinstance(d, int) for d in fixed):
        if opts.input_size and tuple(opts.input_size) != fixed:
            raise ValueError(
                f"{path} was exported for input {fixed[0]}x{fixed[1]}; re-export it for "
                f"{opts.input_size[0]}x{opts.input_size[1]} (adu-depth export --height/--width)"
            )
        return card, (int(fixed[0]), int(fixed[1]))
    return card, tuple(opts.input_size or (card.input_height, card.input_width))


def load(path: Path, kind: str, opts: BackendOptions) -> OnnxRuntimeBackend:
    """Open an ``.onnx`` (or export a checkpoint to ONNX in the cache first)."""
    from adu_depth_core.runtime import cache, derived

    if kind == "engine":
        raise ModelFileError(f"'{path.name}' is a TensorRT engine; run it with backend='tensorrt'")
    ort = require("onnxruntime", "onnxruntime", INSTALL)
    root = cache.cache_dir(opts.cache_dir)
    if kind == "checkpoint":
        path = derived.onnx_for_checkpoint(path, opts.input_size, root)
    if not path.is_file():
        raise ModelFileError(f"ONNX model not found: {path}")
    device = opts.device or "cpu"
    if opts.precision == "int8" and not device.startswith("cpu"):
        raise ValueError("int8 with onnxruntime runs on the CPU (QDQ); use device cpu, or TensorRT on a GPU")
    if opts.precision == "fp16":
        path = derived.fp16_onnx(path, root)
    elif opts.precision == "int8":
        path = derived.int8_onnx(path, root)
    session = open_session(ort, path, opts, device)
    card, input_hw = check_session(session, path, opts)
    precision = session.get_modelmeta().custom_metadata_map.get(PRECISION_KEY, opts.precision)
    return OnnxRuntimeBackend(session, card, input_hw, precision, device)
