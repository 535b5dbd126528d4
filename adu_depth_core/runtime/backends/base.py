"""What every inference backend provides, the file kinds it accepts, and the shared errors."""

from __future__ import annotations

import importlib
import importlib.util
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from adu_depth_core.checkpoint import ModelCard

INPUT_NAME = "image"  # 1 x 3 x H x W float RGB in [0, 1]
OUTPUT_NAMES = ("depth_m", "sigma_m")  # 1 x 1 x H x W metres each
CARD_KEY = "adu_depth.card"  # ONNX metadata_props key holding the model card as JSON
FORMAT_KEY = "adu_depth.format"
PRECISION_KEY = "adu_depth.precision"  # "fp32" or "fp16": what the ONNX computes in
ONNX_FORMAT = "adu-depth-onnx/1"
PRECISIONS = ("fp32", "fp16", "int8")
TENSORRT_INSTALL = (
    "TensorRT comes with JetPack / the NVIDIA TensorRT Python wheel, pycuda with `pip install pycuda`"
)

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")
ONNX_SUFFIXES = (".onnx",)
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")


class ModelLoadError(RuntimeError):
    """A model cannot be loaded or run; the one error type callers catch, whatever the backend raised.

    ``DepthEstimator.from_file`` and ``DepthEstimator.infer`` turn every failure of a model file,
    device, backend library or backend run into this type (or a subclass) with a message that says
    what is wrong and what to do; the original exception is chained as ``__cause__``.
    """


class ModelFileError(ModelLoadError):
    """A model file is missing, corrupt, truncated, or not shaped like an adu-depth model."""


class BackendUnavailableError(ModelLoadError):
    """The library a backend needs is not installed (or cannot run on this machine)."""


class ModelRunError(ModelLoadError):
    """A loaded model failed while running on an image (backend error, device lost, out of memory)."""


STEREO_ARCHS = ("teacher",)  # stereo models: trained and distilled from, never run on one image


def check_runnable(card: ModelCard, source: str) -> None:
    """Refuse a model the runtime cannot run on one image (the stereo teacher) with a clear message."""
    if card.arch in STEREO_ARCHS:
        raise ModelFileError(
            f"{source} is a '{card.arch}' (stereo) checkpoint; the runtime runs monocular students: "
            "distill a student from it (`adu-depth distill`) or use model 'default'"
        )


@dataclass
class BackendOptions:
    """How to run a model; resolved once by ``DepthEstimator.from_file``."""

    device: str | None = None  # None: the backend's default ("cpu", or "cuda:0" for TensorRT)
    precision: str = "fp32"  # fp32 | fp16 | int8 (int8: TensorRT, or ONNX Runtime on CPU)
    num_threads: int | None = None  # CPU threads (torch / ONNX Runtime); None: the library default
    input_size: tuple[int, int] | None = None  # network (h, w) override; None: the model card's
    cache_dir: Path | None = None  # exported ONNX / built engines; None: the user cache dir
    calib_dir: Path | None = None  # images for int8 calibration (TensorRT)


def model_kind(path: Path) -> str:
    """'checkpoint', 'onnx' or 'engine' from the file suffix; ModelFileError for anything else."""
    suffix = path.suffix.lower()
    for kind, suffixes in (
        ("checkpoint", CHECKPOINT_SUFFIXES),
        ("onnx", ONNX_SUFFIXES),
        ("engine", ENGINE_SUFFIXES),
    ):
        if suffix in suffixes:
            return kind
    known = ", ".join(CHECKPOINT_SUFFIXES + ONNX_SUFFIXES + ENGINE_SUFFIXES)
    raise ModelFileError(f"don't know how to run '{path.name}': expected a model file ending in {known}")


def has_module(name: str) -> bool:
    """True if ``name`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def require(module: str, backend: str, install: str) -> ModuleType:
    """Import an optional dependency or raise BackendUnavailableError saying what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailableError(
            f"the {backend} backend needs '{module}', which is not importable here ({exc}); {install}"
        ) from exc


def card_from_json(text: str, source: str) -> ModelCard:
    """Parse a model card stored as JSON (ONNX metadata, engine sidecar)."""
    try:
        return ModelCard.from_dict(json.loads(text))
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{source} has an unreadable model card ({exc}); re-export the model") from exc


def check_io_shape(input_shape: list, source: str) -> None:
    """Refuse models whose single input is not (1 or N) x 3 x H x W."""
    if len(input_shape) != 4 or input_shape[1] not in (3, "3"):
        raise ModelFileError(
            f"{source} takes input of shape {input_shape}, but an adu-depth model takes one "
            f"'{INPUT_NAME}' of shape 1 x 3 x H x W (RGB in [0, 1]); export it with `adu-depth export`"
        )


class Backend(ABC):
    """One loaded model on one device; ``run`` maps a preprocessed batch to depth and sigma."""

    name: str = "?"

    def __init__(self, card: ModelCard, input_hw: tuple[int, int], precision: str, device: str) -> None:
        self.card, self.input_hw, self.precision, self.device = card, input_hw, precision, device

    @property
    def input_dtype(self) -> type:
        """dtype ``run`` wants for its input (float32 unless the model takes fp16 directly)."""
        return np.float32

    @abstractmethod
    def run(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(1, 3, h, w) array in [0, 1] -> (depth_m, sigma_m), each (1, 1, h, w) float32 numpy, on host."""

    @abstractmethod
    def close(self) -> None:
        """Release device memory and sessions (idempotent)."""

    def describe(self) -> str:
        h, w = self.input_hw
        return f"{self.name} {self.precision} on {self.device}, input {h}x{w}"


def session_options(ort, num_threads: int | None):
    """All graph optimisations, sequential execution, no spin-waiting pool threads (they steal the cores)."""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.inter_op_num_threads = 1
    if num_threads:
        so.intra_op_num_threads = int(num_threads)
    so.log_severity_level = 3  # errors only
    # Idle pool threads sleep instead of spinning after each run: the frame's own work (resize, colour,
    # cloud, messages) runs right after inference on the same few cores and would otherwise wait for them.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return so
