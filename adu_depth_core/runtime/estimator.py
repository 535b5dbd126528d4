"""One depth estimator over PyTorch, ONNX Runtime and TensorRT.

    est = DepthEstimator.from_file("model.onnx")          # or a .pt, an .engine, or "default"
    res = est.infer(rgb, fx=721.5)                         # H x W x 3 uint8 RGB, any size; fx or K
    res.depth_m, res.sigma_m, res.timings_ms               # H x W float32 metres; ms per stage

A camera-aware (canonical-camera) student's network output is depth as seen with the card's
``canonical_focal_px`` at the network input; ``infer`` scales it to metres by
``fx_network / canonical_focal_px``, where fx_network is the camera's fx after the resize to the
network input. The scaling happens here, after the backend, so torch, ONNX Runtime and TensorRT
give the same metres. Without fx or K the canonical camera itself is assumed (logged once).

``"default"`` is the bundled student (``adu_depth_core/assets/student_default.pt``).
With ONNX Runtime or TensorRT it uses ``student_default.onnx`` shipped beside it
when present; otherwise the checkpoint is exported once (needs torch) into the
user cache (see ``runtime.cache``), keyed by the checkpoint's hash.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from adu_depth_core.bundled import DEFAULT_STUDENT, DEFAULT_STUDENT_ONNX
from adu_depth_core.checkpoint import ModelCard
from adu_depth_core.runtime.backends import (
    BACKENDS,
    check_device,
    choose_backend,
    model_kind,
    resolve_device,
)
from adu_depth_core.runtime.backends.base import (
    PRECISIONS,
    Backend,
    BackendOptions,
    ModelFileError,
    ModelLoadError,
    ModelRunError,
    check_runnable,
)
from adu_depth_core.runtime.intrinsics import (
    canonical_depth_scale,
    check_K,
    network_focal_px,
    scale_intrinsics,
)
from adu_depth_core.runtime.preprocess import check_image, postprocess, preprocess

DEFAULT_CHECKPOINT, DEFAULT_ONNX = DEFAULT_STUDENT, DEFAULT_STUDENT_ONNX
log = logging.getLogger(__name__)


@dataclass
class DepthResult:
    """Depth and its standard deviation (docs/method.md: sigma = sqrt(2) b d), both H x W float32 metres."""

    depth_m: np.ndarray
    sigma_m: np.ndarray
    timings_ms: dict[str, float] = field(default_factory=dict)  # preprocess, inference, postprocess
    network_hw: tuple[int, int] = (0, 0)
    fx_px: float | None = None  # the image's fx behind the metric scale (None: a camera-unaware model)
    fx_source: str = "unused"  # "given" (fx or K), "assumed" (the canonical camera), or "unused"


def _default_model(backend: str, input_size: tuple[int, int] | None) -> Path:
    """The bundled student file best suited to ``backend``; ModelFileError if none is installed."""
    if backend in ("onnxruntime", "tensorrt") and input_size is None and DEFAULT_ONNX.is_file():
        return DEFAULT_ONNX
    if DEFAULT_CHECKPOINT.is_file():
        return DEFAULT_CHECKPOINT
    raise ModelFileError(
        f"the bundled student is not installed ({DEFAULT_CHECKPOINT} is missing); "
        "pass a model file (.pt / .onnx / .engine) or reinstall adu-depth with its assets"
    )


def _check_size(size: tuple[int, int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    h, w = (int(v) for v in size)
    if h <= 0 or w <= 0 or h % 32 or w % 32:
        raise ValueError(f"network input size must be positive multiples of 32, got {h}x{w}")
    return h, w


class DepthEstimator:
    """Runs a depth model on RGB images; backend, device and precision are fixed at construction."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._warned_no_fx = False

    @classmethod
    def from_file(cls, path: str | os.PathLike, *args, **kwargs) -> DepthEstimator:
        """Load a model (arguments of ``_load``); every failure is a ModelLoadError with a clear message."""
        try:
            est = cls._load(path, *args, **kwargs)
        except ModelLoadError:
            raise
        except Exception as exc:  # any backend's own error types (and torch's AssertionError for CUDA)
            raise ModelLoadError(f"cannot load model '{path}': {type(exc).__name__}: {exc}") from exc
        try:
            check_runnable(est.card, f"model '{path}'")
        except ModelLoadError:
            est.close()
            raise
        return est

    @classmethod
    def _load(
        cls,
        path: str | os.PathLike,
        backend: str = "auto",
        device: str | None = None,
        precision: str = "fp32",
        *,
        input_size: tuple[int, int] | None = None,
        num_threads: int | None = None,
        cache_dir: str | os.PathLike | None = None,
        calib_dir: str | os.PathLike | None = None,
    ) -> DepthEstimator:
        """Load a checkpoint (.pt), ONNX (.onnx), TensorRT engine (.engine/.plan) or ``"default"``.

        ``backend``: auto | torch | onnxruntime | tensorrt. ``device``: None (cpu;
        cuda:0 for TensorRT), "auto" (cuda:0 when a GPU is usable, else cpu), "cpu", "cuda[:N]". ``precision``: fp32 | fp16 | int8.
        ``input_size`` (h, w) overrides the card's network size (checkpoints only).
        """
        device = resolve_device(device)
        check_device(device)
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got '{precision}'")
        if backend != "auto":
            BACKENDS.get(backend)  # unknown names fail with the list of known ones
        opts = BackendOptions(
            device=device,
            precision=precision,
            num_threads=num_threads,
            input_size=_check_size(input_size),
            cache_dir=None if cache_dir is None else Path(cache_dir),
            calib_dir=None if calib_dir is None else Path(calib_dir),
        )
        if str(path) == "default":
            name = choose_backend("checkpoint", device, prefer_fast=True) if backend == "auto" else backend
            model_path = _default_model(name, opts.input_size)
        else:
            model_path = Path(path).expanduser()
            if not model_path.is_file():
                raise ModelFileError(f"model file not found: {model_path}")
            name = backend
        kind = model_kind(model_path)
        if name == "auto":
            name = choose_backend(kind, device)
        return cls(BACKENDS.get(name)(model_path, kind, opts))

    @property
    def card(self) -> ModelCard:
        return self.backend.card

    @property
    def network_hw(self) -> tuple[int, int]:
        """(h, w) of the network input."""
        return tuple(self.backend.input_hw)

    def infer(
        self,
        image: np.ndarray,
        output: str | tuple[int, int] = "input",
        *,
        fx: float | None = None,
        K: np.ndarray | None = None,
    ) -> DepthResult:
        """Depth and sigma for one H x W x 3 uint8 RGB image.

        ``output``: "input" (the image's size, default), "network", or an (h, w).
        ``fx`` (pixels, of this image) or ``K`` (3x3): the camera, for the metric scale of a
        camera-aware model; without them the card's canonical camera is assumed.
        """
        t0 = time.perf_counter()
        check_image(image)
        out_hw = self._output_hw(image.shape[:2], output)  # a bad ``output`` fails before any inference
        scale, fx_px, source = self._metric_scale(image.shape[:2], fx, K)
        x = preprocess(image, *self.network_hw, dtype=self.backend.input_dtype)
        t1 = time.perf_counter()
        depth, sigma = self._run(x)
        t2 = time.perf_counter()
        depth_m, sigma_m = postprocess(depth, sigma, out_hw)
        if scale != 1.0:  # new arrays: a backend may own the buffers postprocess returned
            depth_m, sigma_m = depth_m * np.float32(scale), sigma_m * np.float32(scale)
        t3 = time.perf_counter()
        timings = {"preprocess": t1 - t0, "inference": t2 - t1, "postprocess": t3 - t2, "total": t3 - t0}
        return DepthResult(
            depth_m, sigma_m, {k: 1000.0 * v for k, v in timings.items()}, self.network_hw, fx_px, source
        )

    @property
    def canonical_focal_px(self) -> float | None:
        """The card's canonical focal length (network-input pixels), None for a camera-unaware model."""
        return self.card.canonical_focal_px

    def assumed_fx_px(self, image_hw: tuple[int, int]) -> float:
        """fx of an image of ``image_hw`` that the canonical camera implies (used when none is given)."""
        return float(self.canonical_focal_px) * image_hw[1] / self.network_hw[1]

    def _metric_scale(
        self, image_hw: tuple[int, int], fx: float | None, K: np.ndarray | None
    ) -> tuple[float, float | None, str]:
        """(factor network depth -> metres, the image fx used, where it came from)."""
        if K is not None:
            fx = float(check_K(K)[0, 0])
        elif fx is not None and (not np.isfinite(fx) or fx <= 0):
            raise ValueError(f"fx must be a positive number of pixels, got {fx}")
        if self.canonical_focal_px is None:
            return 1.0, None, "unused"
        if fx is None:
            if not self._warned_no_fx:
                self._warned_no_fx = True
                log.warning(
                    "no camera intrinsics given: assuming the model's canonical camera (fx = %.1f px for a "
                    "%d-pixel-wide image); metric scale is only right for such a lens - pass fx or K",
                    self.assumed_fx_px(image_hw),
                    image_hw[1],
                )
            return 1.0, self.assumed_fx_px(image_hw), "assumed"
        fx_net = network_focal_px(fx, image_hw[1], self.network_hw[1])
        return canonical_depth_scale(self.canonical_focal_px, fx_net), float(fx), "given"

    def _run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The backend on one preprocessed batch; its failures become ModelRunError."""
        try:
            return self.backend.run(x)
        except Exception as exc:  # whatever the backend library raises (OOM, device lost, bad graph)
            raise ModelRunError(f"{self.describe()} failed: {type(exc).__name__}: {exc}") from exc

    def _output_hw(self, image_hw: tuple[int, int], output: str | tuple[int, int]) -> tuple[int, int] | None:
        if output == "input":
            return tuple(image_hw)
        if output == "network":
            return None
        if isinstance(output, (tuple, list)) and len(output) == 2 and min(output) > 0:
            return int(output[0]), int(output[1])
        raise ValueError(f"output must be 'input', 'network' or (h, w), got {output!r}")

    def output_intrinsics(
        self, K: np.ndarray, image_hw: tuple[int, int], output: str | tuple[int, int] = "input"
    ) -> np.ndarray:
        """K of the input image (size ``image_hw``) -> K of the depth map ``infer(..., output)`` returns."""
        out_hw = self._output_hw(image_hw, output) or self.network_hw
        return scale_intrinsics(K, image_hw, out_hw)

    def describe(self) -> str:
        return self.backend.describe()

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> DepthEstimator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
