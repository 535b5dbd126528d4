"""Inference backends by name: ``BACKENDS.get(name)(path, kind, options) -> Backend``.

Registering imports nothing heavy: each loader imports its library (torch,
onnxruntime, tensorrt + pycuda) only when it is called.
"""

from __future__ import annotations

from pathlib import Path

from adu_depth_core.registry import Registry
from adu_depth_core.runtime.backends.base import (
    Backend,
    BackendOptions,
    BackendUnavailableError,
    ModelFileError,
    ModelLoadError,
    ModelRunError,
    has_module,
    model_kind,
)

BACKENDS: Registry = Registry("backend")


@BACKENDS.register("torch")
def _torch(path: Path, kind: str, opts: BackendOptions) -> Backend:
    from adu_depth_core.runtime.backends import torch_backend

    return torch_backend.load(path, kind, opts)


@BACKENDS.register("onnxruntime")
def _onnxruntime(path: Path, kind: str, opts: BackendOptions) -> Backend:
    from adu_depth_core.runtime.backends import onnxruntime_backend

    return onnxruntime_backend.load(path, kind, opts)


@BACKENDS.register("tensorrt")
def _tensorrt(path: Path, kind: str, opts: BackendOptions) -> Backend:
    from adu_depth_core.runtime.backends import tensorrt_backend

    return tensorrt_backend.load(path, kind, opts)


def cuda_available() -> bool:
    """Whether a CUDA GPU is usable, asked of the cheapest installed library (pycuda, ONNX Runtime, torch)."""
    if has_module("pycuda"):
        try:
            import pycuda.driver as cuda

            cuda.init()
            return cuda.Device.count() > 0
        except Exception:  # no driver / no device: pycuda raises its own LogicError / RuntimeError
            pass
    if has_module("onnxruntime"):
        import onnxruntime as ort

        if "CUDAExecutionProvider" in ort.get_available_providers():
            return True
    if has_module("torch"):
        import torch

        return torch.cuda.is_available()
    return False


def resolve_device(device: str | None) -> str | None:
    """``'auto'`` -> ``'cuda:0'`` when a GPU is usable, else ``'cpu'``; other values pass through."""
    if device != "auto":
        return device
    return "cuda:0" if cuda_available() else "cpu"


def check_device(device: str | None) -> None:
    """Refuse a CUDA device on a machine without a usable GPU, before any backend tries it."""
    if device is not None and device.startswith("cuda") and not cuda_available():
        raise BackendUnavailableError(
            f"device '{device}' was asked for, but no CUDA GPU is usable here (no driver, no device, "
            "or libraries built without CUDA); use device 'cpu' or 'auto'"
        )


def choose_backend(kind: str, device: str | None, prefer_fast: bool = False) -> str:
    """What ``backend='auto'`` means for a file kind and device (None = cpu).

    engine -> tensorrt; onnx -> tensorrt on a CUDA device when installed, else
    onnxruntime; checkpoint -> torch, or with ``prefer_fast`` (the bundled
    student) tensorrt on CUDA / onnxruntime on CPU when installed.
    """
    on_cuda = device is not None and device.startswith("cuda")
    trt_ok = on_cuda and has_module("tensorrt") and has_module("pycuda")
    if kind == "engine" or (trt_ok and (kind == "onnx" or prefer_fast)):
        return "tensorrt"
    if kind == "onnx" or (prefer_fast and not on_cuda and has_module("onnxruntime")):
        return "onnxruntime"
    return "torch"


__all__ = [
    "BACKENDS",
    "Backend",
    "BackendOptions",
    "BackendUnavailableError",
    "ModelFileError",
    "ModelLoadError",
    "ModelRunError",
    "check_device",
    "choose_backend",
    "cuda_available",
    "resolve_device",
    "model_kind",
]
