"""TensorRT backend: tensorrt + pycuda, pinned host buffers, one CUDA stream, no torch.

Accepts an engine (``.engine``/``.plan`` with its ``.json`` sidecar), an ONNX
(the engine is built once into the cache), or a checkpoint (exported to ONNX
first, which needs torch). Engines from another TensorRT version or GPU are
refused with the reason and rebuilt from their ONNX when it is still at hand.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

import adu_depth_core.runtime.backends.tensorrt_engine as te
from adu_depth_core.checkpoint import ModelCard
from adu_depth_core.runtime.backends.base import (
    CARD_KEY,
    INPUT_NAME,
    OUTPUT_NAMES,
    TENSORRT_INSTALL,
    Backend,
    BackendOptions,
    ModelFileError,
    card_from_json,
    require,
)

LOG = logging.getLogger(__name__)
INSTALL = TENSORRT_INSTALL


class _Buffers:
    """A pinned host array and a device allocation of the same size for one I/O tensor."""

    def __init__(self, cuda, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.shape = shape
        self.host = cuda.pagelocked_empty(int(np.prod(shape)), dtype)
        self.device = cuda.mem_alloc(self.host.nbytes)


class TensorRTBackend(Backend):
    name = "tensorrt"

    def __init__(self, trt, cuda, ctx, engine, card, input_hw, precision, device) -> None:
        super().__init__(card, input_hw, precision, device)
        self._cuda, self._ctx, self._engine = cuda, ctx, engine
        self._context = engine.create_execution_context()
        self._stream = cuda.Stream()
        self._v3 = hasattr(engine, "num_io_tensors")  # TensorRT >= 8.5 named-tensor API
        self._io = self._allocate(trt, (1, 3, *input_hw))

    def _allocate(self, trt, input_shape) -> dict[str, _Buffers]:
        engine, context, io = self._engine, self._context, {}
        if self._v3:
            names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
            if -1 in tuple(engine.get_tensor_shape(INPUT_NAME)):
                context.set_input_shape(INPUT_NAME, input_shape)
            for n in names:
                io[n] = _Buffers(
                    self._cuda, tuple(context.get_tensor_shape(n)), trt.nptype(engine.get_tensor_dtype(n))
                )
                context.set_tensor_address(n, int(io[n].device))
        else:  # TensorRT 8.0-8.4 bindings API
            names = [engine.get_binding_name(i) for i in range(engine.num_bindings)]
            if -1 in tuple(engine.get_binding_shape(0)):
                context.set_binding_shape(0, input_shape)
            for i, n in enumerate(names):
                io[n] = _Buffers(
                    self._cuda, tuple(context.get_binding_shape(i)), trt.nptype(engine.get_binding_dtype(i))
                )
            self._bindings = [int(io[n].device) for n in names]
        missing = {INPUT_NAME, *OUTPUT_NAMES} - set(io)
        if missing:
            raise ModelFileError(
                f"engine tensors {sorted(io)} lack {sorted(missing)}; rebuild it with adu-depth export"
            )
        return io

    def run(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cuda, inp = self._cuda, self._io[INPUT_NAME]
        self._ctx.push()
        try:
            np.copyto(inp.host, image.ravel(), casting="same_kind")
            cuda.memcpy_htod_async(inp.device, inp.host, self._stream)
            if self._v3:
                ok = self._context.execute_async_v3(self._stream.handle)
            else:
                ok = self._context.execute_async_v2(self._bindings, self._stream.handle)
            for name in OUTPUT_NAMES:
                cuda.memcpy_dtoh_async(self._io[name].host, self._io[name].device, self._stream)
            self._stream.synchronize()
        finally:
            self._ctx.pop()
        if not ok:
            raise RuntimeError("TensorRT execution failed; see the TensorRT log")
        outs = (self._io[n] for n in OUTPUT_NAMES)
        return tuple(b.host.reshape(b.shape).astype(np.float32) for b in outs)

    def close(self) -> None:
        if self._ctx is None:
            return
        self._ctx.push()
        try:
            for buf in self._io.values():
                buf.device.free()
            self._context = self._engine = self._io = self.keep_alive = None
        finally:
            self._ctx.pop()
            self._ctx.detach()
            self._ctx = None


def _deserialize(trt, engine_path: Path):
    """(runtime, engine): the runtime (and its logger) must outlive the engine, so the backend keeps both."""
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    engine = runtime.deserialize_cuda_engine(engine_path.read_bytes())
    if engine is None:
        raise ModelFileError(
            f"TensorRT could not load {engine_path} (corrupt, truncated, or built by another TensorRT/GPU); "
            "rebuild it with `adu-depth export --tensorrt` on this machine"
        )
    return runtime, engine


def _engine_for_onnx(trt, cuda, gpu: str, onnx_path: Path, opts: BackendOptions, card=None) -> Path:
    """Cached engine for an ONNX on this TensorRT/GPU, built on first use."""
    from adu_depth_core.runtime import cache

    if card is None:
        onnx = require("onnx", "tensorrt", "install it with `pip install onnx` (reads the model card)")

        meta = {p.key: p.value for p in onnx.load(str(onnx_path), load_external_data=False).metadata_props}
        if CARD_KEY not in meta:
            raise ModelFileError(
                f"{onnx_path} has no adu-depth model card; export it with `adu-depth export`"
            )
        card = card_from_json(meta[CARD_KEY], str(onnx_path))
    input_hw = (card.input_height, card.input_width)  # our ONNX files have a fixed input size
    if opts.input_size and tuple(opts.input_size) != input_hw:
        raise ValueError(
            f"{onnx_path} was exported for input {input_hw[0]}x{input_hw[1]}; re-export it for "
            f"{opts.input_size[0]}x{opts.input_size[1]} (adu-depth export --height/--width)"
        )
    root = cache.cache_dir(opts.cache_dir)
    path = te.cached_engine_path(root, onnx_path, trt.__version__, gpu, opts.precision, input_hw)
    if not path.is_file() or te.read_meta(path) is None:
        te.build_engine_file(trt, cuda, gpu, onnx_path, path, opts.precision, card, input_hw, opts.calib_dir)
    return path


def _checked_engine(trt, cuda, gpu: str, path: Path, opts: BackendOptions) -> tuple[Path, dict | None]:
    """An engine that can run here: the given one, or a rebuild when it came from another TensorRT/GPU."""
    meta = te.read_meta(path)
    if meta is None:
        LOG.warning("%s has no .json sidecar: its TensorRT version and GPU cannot be checked", path)
        return path, None
    reason = te.engine_mismatch(meta, trt.__version__, gpu)
    if reason is None:
        return path, meta
    onnx_path = Path(meta.get("onnx_path", ""))
    if not onnx_path.is_file() or te.file_sha256(onnx_path) != meta.get("onnx_sha256"):
        raise ModelFileError(
            f"refusing TensorRT engine {path}: {reason}. Engines are not portable and its source ONNX "
            f"was not found to rebuild it automatically; rebuild it here with `adu-depth export --model "
            f"MODEL.onnx --out MODEL.onnx --tensorrt --engine {path}` (or from the .pt checkpoint)"
        )
    LOG.warning("refusing TensorRT engine %s: %s; rebuilding it from %s", path, reason, onnx_path)
    card = ModelCard.from_dict(meta["card"])
    same = {"precision": meta.get("precision", opts.precision), "input_size": tuple(meta["input_hw"])}
    opts = BackendOptions(**{**vars(opts), **same})
    rebuilt = _engine_for_onnx(trt, cuda, gpu, onnx_path, opts, card)
    return rebuilt, te.read_meta(rebuilt)


def load(path: Path, kind: str, opts: BackendOptions) -> TensorRTBackend:
    """Load an engine (or build one from an ONNX / checkpoint) on ``opts.device`` (default cuda:0)."""
    trt = require("tensorrt", "tensorrt", INSTALL)
    cuda = require("pycuda.driver", "tensorrt", INSTALL)
    device = opts.device or "cuda:0"
    if not device.startswith("cuda"):
        raise ValueError(f"the tensorrt backend runs on CUDA devices only, got device='{device}'")
    cuda.init()
    dev = cuda.Device(int(device.split(":")[1]) if ":" in device else 0)
    gpu = dev.name()
    ctx = dev.make_context()
    try:
        if kind == "checkpoint":
            from adu_depth_core.runtime import cache, derived

            path, kind = (
                derived.onnx_for_checkpoint(path, opts.input_size, cache.cache_dir(opts.cache_dir)),
                "onnx",
            )
        if kind == "onnx":
            path = _engine_for_onnx(trt, cuda, gpu, path, opts)
        path, meta = _checked_engine(trt, cuda, gpu, path, opts)
        runtime, engine = _deserialize(trt, path)
        if meta is not None:
            card, precision = ModelCard.from_dict(meta["card"]), meta["precision"]
            input_hw = tuple(meta["input_hw"])
        else:
            shape = tuple(engine.get_tensor_shape(INPUT_NAME)) if hasattr(engine, "num_io_tensors") else ()
            input_hw = tuple(opts.input_size or shape[2:4])
            if len(input_hw) != 2 or min(input_hw) <= 0:
                raise ModelFileError(f"{path} has no sidecar and no fixed input size; pass input_size=(h, w)")
            card, precision = ModelCard(input_height=input_hw[0], input_width=input_hw[1]), opts.precision
        backend = TensorRTBackend(trt, cuda, ctx, engine, card, input_hw, precision, device)
        backend.keep_alive = runtime
    except BaseException:
        ctx.pop()
        ctx.detach()
        raise
    ctx.pop()
    return backend
