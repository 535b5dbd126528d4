"""TensorRT engines: cache keys and refusal of foreign engines (runs everywhere), real builds (TensorRT only)."""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pytest

from adu_depth_core.checkpoint import ModelCard
from adu_depth_core.runtime.backends import tensorrt_backend as tb
from adu_depth_core.runtime.backends import tensorrt_engine as te
from adu_depth_core.runtime.backends.base import BackendOptions, ModelFileError
from adu_depth_core.runtime.cache import file_sha256


def _write_engine(path: Path, onnx_path: Path, trt_version: str, gpu: str) -> Path:
    meta = te.engine_meta(
        trt_version, gpu, "fp16", onnx_path, file_sha256(onnx_path), ModelCard(), (192, 640)
    )
    return te.write_engine(path, b"serialized engine bytes", meta)


def test_engine_key_changes_with_every_component():
    base = ("10.3.0", "Orin", "fp16", "abc")
    keys = {te.engine_key(*base)}
    for i, other in enumerate(("8.6.1", "RTX 4090", "int8", "abd")):
        changed = list(base)
        changed[i] = other
        keys.add(te.engine_key(*changed))
    assert len(keys) == 5


def test_mismatch_reasons_name_what_differs():
    meta = {"tensorrt": "8.6.1", "gpu": "Orin"}
    assert te.engine_mismatch(meta, "8.6.1", "Orin") is None
    assert "built with TensorRT 8.6.1 but this machine has TensorRT 10.3.0" in te.engine_mismatch(
        meta, "10.3.0", "Orin"
    )
    assert "built for GPU 'Orin' but this machine has 'NVIDIA H100'" in te.engine_mismatch(
        meta, "8.6.1", "NVIDIA H100"
    )


def test_sidecar_round_trip_and_corruption(tmp_path):
    onnx_path = tmp_path / "m.onnx"
    onnx_path.write_bytes(b"onnx")
    engine = _write_engine(tmp_path / "m.engine", onnx_path, "10.3.0", "Orin")
    meta = te.read_meta(engine)
    assert meta["tensorrt"] == "10.3.0" and meta["onnx_sha256"] == file_sha256(onnx_path)
    assert meta["input_hw"] == [192, 640] and ModelCard.from_dict(meta["card"]) == ModelCard()
    assert te.read_meta(tmp_path / "other.engine") is None
    te.sidecar_path(engine).write_text("{not json")
    with pytest.raises(ModelFileError, match="unreadable"):
        te.read_meta(engine)
    te.sidecar_path(engine).write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ModelFileError, match="not an adu-depth engine sidecar"):
        te.read_meta(engine)


def test_foreign_engine_without_its_onnx_is_refused(tmp_path):
    onnx_path = tmp_path / "gone.onnx"
    onnx_path.write_bytes(b"onnx")
    engine = _write_engine(tmp_path / "m.engine", onnx_path, "8.6.1", "Orin")
    onnx_path.unlink()
    here = types.SimpleNamespace(__version__="10.3.0")  # only the version string of "this machine's" TensorRT
    with pytest.raises(
        ModelFileError, match="refusing TensorRT engine .*built with TensorRT 8.6.1.*adu-depth export"
    ):
        tb._checked_engine(here, None, "Orin", engine, BackendOptions(cache_dir=tmp_path / "cache"))


def test_foreign_engine_is_rebuilt_from_its_onnx(tmp_path, monkeypatch):
    """The decision and the cache path are real; only the TensorRT build itself is replaced (no TensorRT here)."""
    onnx_path = tmp_path / "m.onnx"
    onnx_path.write_bytes(b"onnx bytes")
    engine = _write_engine(tmp_path / "m.engine", onnx_path, "10.0.1", "Orin")
    built = []

    def fake_build(trt, cuda, gpu, onnx, path, precision, card, input_hw, calib_dir):
        built.append((gpu, onnx, precision, tuple(input_hw)))
        meta = te.engine_meta(trt.__version__, gpu, precision, onnx, file_sha256(onnx), card, input_hw)
        return te.write_engine(path, b"rebuilt", meta)

    monkeypatch.setattr(te, "build_engine_file", fake_build)
    here = types.SimpleNamespace(__version__="10.3.0")
    path, meta = tb._checked_engine(here, None, "Orin", engine, BackendOptions(cache_dir=tmp_path / "cache"))
    assert built == [("Orin", onnx_path, "fp16", (192, 640))]
    assert path.parent == tmp_path / "cache" / "engines" and meta["tensorrt"] == "10.3.0"
    assert te.read_meta(engine)["tensorrt"] == "10.0.1"  # the user's file is left alone
    again, _ = tb._checked_engine(here, None, "Orin", path, BackendOptions(cache_dir=tmp_path / "cache"))
    assert again == path and len(built) == 1  # a matching engine is used as is


def test_calibration_folder_must_hold_images(tmp_path):
    with pytest.raises(ValueError, match="no images"):
        te.calibration_images(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.png").write_bytes(b"x")
    (tmp_path / "a.JPG").write_bytes(b"x")
    assert [p.name for p in te.calibration_images(tmp_path)] == ["a.JPG", "b.png"]


# ---- real TensorRT (skipped where tensorrt + pycuda are absent) ----


@pytest.fixture(scope="module")
def tiny_onnx(tiny_student_ckpt, tmp_path_factory) -> Path:
    from adu_depth_core.runtime import cache, derived

    return derived.onnx_for_checkpoint(
        tiny_student_ckpt, None, cache.cache_dir(tmp_path_factory.getbasetemp() / "runtime-cache")
    )


@pytest.mark.tensorrt
@pytest.mark.parametrize(("precision", "tol"), [("fp32", 1e-3), ("fp16", 2e-2)])
def test_tensorrt_matches_onnxruntime(tiny_onnx, tmp_path, precision, tol):
    from skimage import data

    from adu_depth_core.runtime import DepthEstimator

    photo = data.stereo_motorcycle()[0]
    ref = DepthEstimator.from_file(tiny_onnx, backend="onnxruntime").infer(photo)
    with DepthEstimator.from_file(tiny_onnx, "tensorrt", "cuda:0", precision, cache_dir=tmp_path) as est:
        got = est.infer(photo)
    assert np.max(np.abs(got.depth_m - ref.depth_m) / ref.depth_m) < tol


@pytest.mark.tensorrt
def test_tensorrt_engine_cache_is_reused_and_stale_engines_rebuilt(tiny_onnx, tmp_path):
    from adu_depth_core.runtime import DepthEstimator

    DepthEstimator.from_file(tiny_onnx, "tensorrt", precision="fp16", cache_dir=tmp_path).close()
    (engine,) = (tmp_path / "engines").glob("*.engine")
    stamp = engine.stat().st_mtime_ns
    DepthEstimator.from_file(tiny_onnx, "tensorrt", precision="fp16", cache_dir=tmp_path).close()
    assert engine.stat().st_mtime_ns == stamp
    meta = te.read_meta(engine)
    meta["tensorrt"] = "0.0.0-elsewhere"
    te.sidecar_path(engine).write_text(json.dumps(meta))
    with DepthEstimator.from_file(engine, "tensorrt", cache_dir=tmp_path / "rebuilt") as est:
        assert est.network_hw == (64, 128)
    assert list((tmp_path / "rebuilt" / "engines").glob("*.engine"))


@pytest.mark.tensorrt
def test_truncated_engine_is_a_clear_error(tiny_onnx, tmp_path):
    from adu_depth_core.export import build_tensorrt_engine
    from adu_depth_core.runtime import DepthEstimator

    engine = build_tensorrt_engine(tiny_onnx, tmp_path / "m.engine", "fp16")
    engine.write_bytes(engine.read_bytes()[:1000])
    with pytest.raises(ModelFileError, match="could not load"):
        DepthEstimator.from_file(engine)
