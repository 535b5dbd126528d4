"""TensorRT engines: build from ONNX (fp32 / fp16 / int8 with image calibration), cache, and validate.

An engine only runs on the TensorRT version and GPU model that built it. Each
engine therefore gets a sidecar ``<engine>.json`` recording TensorRT version,
GPU name, precision, the ONNX's SHA-256 and the model card; cached engines are
named by a key of the first four, and an engine whose sidecar names another
TensorRT or GPU is refused before TensorRT ever sees it (and rebuilt when its
ONNX is at hand). Needs ``tensorrt`` and ``pycuda`` only when building.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from adu_depth_core.checkpoint import ModelCard
from adu_depth_core.runtime.backends.base import INPUT_NAME, ModelFileError
from adu_depth_core.runtime.cache import file_sha256, key_of, write_atomic

LOG = logging.getLogger(__name__)
ENGINE_FORMAT = "adu-depth-engine/1"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff")


def sidecar_path(engine_path: Path) -> Path:
    """``model.engine`` -> ``model.engine.json``."""
    return engine_path.with_name(engine_path.name + ".json")


def engine_meta(
    trt_version: str,
    gpu_name: str,
    precision: str,
    onnx_path: Path,
    onnx_sha256: str,
    card: ModelCard,
    input_hw,
) -> dict:
    """The sidecar content for an engine built now, here."""
    return {
        "format": ENGINE_FORMAT,
        "tensorrt": trt_version,
        "gpu": gpu_name,
        "precision": precision,
        "onnx_path": str(Path(onnx_path).resolve()),  # absolute: rebuilds work from any directory
        "onnx_sha256": onnx_sha256,
        "input_hw": list(input_hw),
        "card": card.to_dict(),
    }


def engine_key(trt_version: str, gpu_name: str, precision: str, onnx_sha256: str) -> str:
    """Cache key: an engine is reusable only for the same TensorRT version, GPU, precision and ONNX."""
    return key_of(trt_version, gpu_name, precision, onnx_sha256)


def read_meta(engine_path: Path) -> dict | None:
    """The engine's sidecar, or None when there is none; ModelFileError when it is unreadable."""
    side = sidecar_path(engine_path)
    if not side.is_file():
        return None
    try:
        meta = json.loads(side.read_text())
    except (OSError, ValueError) as exc:
        raise ModelFileError(
            f"engine sidecar {side} is unreadable ({exc}); delete it and rebuild the engine"
        ) from exc
    if not isinstance(meta, dict) or meta.get("format") != ENGINE_FORMAT:
        raise ModelFileError(f"{side} is not an adu-depth engine sidecar (format '{ENGINE_FORMAT}')")
    return meta


def engine_mismatch(meta: dict, trt_version: str, gpu_name: str) -> str | None:
    """Why an engine described by ``meta`` cannot run here, or None if it can."""
    if meta.get("tensorrt") != trt_version:
        return (
            f"it was built with TensorRT {meta.get('tensorrt')} but this machine has TensorRT {trt_version}"
        )
    if meta.get("gpu") != gpu_name:
        return f"it was built for GPU '{meta.get('gpu')}' but this machine has '{gpu_name}'"
    return None


def write_engine(engine_path: Path, serialized: bytes, meta: dict) -> Path:
    """Atomically write engine bytes then its sidecar (sidecar last: an engine without one is never trusted)."""
    write_atomic(engine_path, serialized)
    write_atomic(sidecar_path(engine_path), json.dumps(meta, indent=2).encode())
    return engine_path


def calibration_images(folder: Path, limit: int = 500) -> list[Path]:
    """Sorted image files of a calibration folder; ValueError if it has none."""
    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in calibration folder {folder}")
    return files


def make_calibrator(trt, cuda, files: list[Path], input_hw: tuple[int, int], cache_file: Path):
    """An entropy calibrator feeding preprocessed images one at a time (int8 build only)."""
    import cv2

    from adu_depth_core.runtime.preprocess import preprocess

    class ImageCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.index = 0
            self.device_mem = cuda.mem_alloc(3 * input_hw[0] * input_hw[1] * 4)

        def get_batch_size(self) -> int:
            return 1

        def get_batch(self, names):
            while self.index < len(files):
                bgr = cv2.imread(str(files[self.index]), cv2.IMREAD_COLOR)
                self.index += 1
                if bgr is None:
                    LOG.warning("calibration: cannot read %s, skipped", files[self.index - 1])
                    continue
                x = preprocess(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), *input_hw)
                cuda.memcpy_htod(self.device_mem, np.ascontiguousarray(x))
                return [int(self.device_mem)]
            return None

        def read_calibration_cache(self):
            return cache_file.read_bytes() if cache_file.is_file() else None

        def write_calibration_cache(self, cache) -> None:
            write_atomic(cache_file, bytes(cache))

    return ImageCalibrator()


def _parse_onnx(trt, builder, logger, onnx_path: Path):
    major = int(trt.__version__.split(".")[0])
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH) if major < 10 else 0
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelFileError(f"TensorRT cannot parse {onnx_path}: {errors}")
    return network, parser


def build_serialized(
    trt,
    cuda,
    onnx_path: Path,
    precision: str,
    input_hw: tuple[int, int],
    calib_dir: Path | None = None,
    workspace_gib: float = 2.0,
) -> bytes:
    """Build an engine from ONNX for one input size; int8 calibrates on ``calib_dir`` images."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network, _parser = _parse_onnx(trt, builder, logger, onnx_path)
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    profile = None
    if any(d < 0 for d in network.get_input(0).shape):  # dynamic ONNX: fix it to this size
        profile = builder.create_optimization_profile()
        shape = (1, 3, *input_hw)
        profile.set_shape(INPUT_NAME, shape, shape, shape)
        config.add_optimization_profile(profile)
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)  # int8 layers fall back to fp16, not fp32
    if precision == "int8":
        if calib_dir is None:
            raise ValueError(
                "int8 needs calibration images: pass a folder of typical camera images (--calib-dir)"
            )
        config.set_flag(trt.BuilderFlag.INT8)
        cache_file = onnx_path.with_name(onnx_path.name + f".{input_hw[0]}x{input_hw[1]}.calib")
        files = calibration_images(calib_dir)
        config.int8_calibrator = make_calibrator(trt, cuda, files, input_hw, cache_file)
        if profile is not None:
            config.set_calibration_profile(profile)
    LOG.warning("building a TensorRT %s engine from %s (takes minutes, done once)", precision, onnx_path.name)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT failed to build an engine from {onnx_path}; see the TensorRT log above")
    return bytes(serialized)


def build_engine_file(
    trt,
    cuda,
    gpu_name: str,
    onnx_path: Path,
    engine_path: Path,
    precision: str,
    card: ModelCard,
    input_hw,
    calib_dir,
) -> Path:
    """Build and write an engine with its sidecar."""
    serialized = build_serialized(trt, cuda, onnx_path, precision, input_hw, calib_dir)
    meta = engine_meta(
        trt.__version__, gpu_name, precision, onnx_path, file_sha256(onnx_path), card, input_hw
    )
    return write_engine(engine_path, serialized, meta)


def cached_engine_path(
    cache: Path, onnx_path: Path, trt_version: str, gpu_name: str, precision: str, input_hw
) -> Path:
    """Where the cache keeps the engine for this ONNX on this TensorRT/GPU at this precision and size."""
    key = engine_key(
        trt_version, gpu_name, f"{precision}-{input_hw[0]}x{input_hw[1]}", file_sha256(onnx_path)
    )
    return cache / "engines" / f"{onnx_path.stem}-{key}.engine"
