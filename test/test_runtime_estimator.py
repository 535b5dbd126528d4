"""DepthEstimator: PyTorch and ONNX Runtime agree, bad model files fail clearly, ONNX runs without torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from adu_depth_core.runtime import (
    BackendUnavailableError,
    DepthEstimator,
    ImageError,
    ModelFileError,
    ModelLoadError,
    ModelRunError,
)
from adu_depth_core.runtime import estimator as estimator_mod
from adu_depth_core.runtime.backends import choose_backend, has_module

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory) -> Path:
    """One export cache for the whole session (the tiny checkpoint is exported once)."""
    return tmp_path_factory.getbasetemp() / "runtime-cache"


@pytest.fixture(scope="module")
def tiny_onnx(tiny_student_ckpt, shared_cache) -> Path:
    from adu_depth_core.runtime import cache, derived

    return derived.onnx_for_checkpoint(tiny_student_ckpt, None, cache.cache_dir(shared_cache))


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    from skimage import data

    return data.stereo_motorcycle()[0]  # 500 x 741 RGB


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.abs(b)))


def test_onnxruntime_matches_torch_on_a_real_image(tiny_student_ckpt, tiny_onnx, photo):
    ref = DepthEstimator.from_file(tiny_student_ckpt, backend="torch").infer(photo)
    est = DepthEstimator.from_file(tiny_onnx)  # auto -> onnxruntime on CPU
    assert est.backend.name == "onnxruntime" and est.network_hw == (64, 128)
    got = est.infer(photo)
    assert got.depth_m.shape == got.sigma_m.shape == photo.shape[:2]
    assert got.depth_m.dtype == got.sigma_m.dtype == np.float32
    assert _rel(got.depth_m, ref.depth_m) < 1e-4 and _rel(got.sigma_m, ref.sigma_m) < 1e-4
    assert np.all(got.depth_m >= 0.5 - 1e-4) and np.all(got.depth_m <= 80.0 + 1e-3)  # card range
    assert set(got.timings_ms) >= {"preprocess", "inference", "postprocess"}
    assert all(v >= 0 for v in got.timings_ms.values())


def test_network_size_output_and_its_intrinsics(tiny_onnx, photo):
    est = DepthEstimator.from_file(tiny_onnx, backend="onnxruntime")
    res = est.infer(photo, output="network")
    assert res.depth_m.shape == (64, 128) and res.network_hw == (64, 128)
    K = np.array([[700.0, 0, 370], [0, 700, 250], [0, 0, 1]])
    Kn = est.output_intrinsics(K, photo.shape[:2], "network")
    assert Kn[0, 0] == pytest.approx(700 * 128 / 741) and Kn[1, 1] == pytest.approx(700 * 64 / 500)
    np.testing.assert_allclose(est.output_intrinsics(K, photo.shape[:2]), K)
    assert est.infer(photo, output=(10, 20)).sigma_m.shape == (10, 20)
    with pytest.raises(ValueError, match="output must be"):
        est.infer(photo, output="full")


def test_sigma_follows_the_method_definition(tiny_student_ckpt, photo):
    """sigma = sqrt(2) * exp(log_b) * depth, against the model's own raw outputs."""
    import torch

    from adu_depth_core.models import load_model
    from adu_depth_core.runtime.preprocess import preprocess

    model, _ = load_model(tiny_student_ckpt)
    with torch.no_grad():
        out = model(torch.from_numpy(preprocess(photo, 64, 128)))
    expected = np.sqrt(2.0) * np.exp(out["log_b"].numpy()[0, 0]) * out["depth"].numpy()[0, 0]
    res = DepthEstimator.from_file(tiny_student_ckpt, backend="torch").infer(photo, output="network")
    np.testing.assert_allclose(res.sigma_m, expected, rtol=1e-5)


def test_checkpoint_through_onnxruntime_and_fp16(tiny_student_ckpt, shared_cache, photo):
    ref = DepthEstimator.from_file(tiny_student_ckpt, backend="torch").infer(photo)
    est = DepthEstimator.from_file(tiny_student_ckpt, backend="onnxruntime", cache_dir=shared_cache)
    assert _rel(est.infer(photo).depth_m, ref.depth_m) < 1e-4
    half = DepthEstimator.from_file(
        tiny_student_ckpt, "onnxruntime", precision="fp16", cache_dir=shared_cache
    )
    assert half.backend.input_dtype == np.float32  # fp16 inside, fp32 at the boundary
    assert _rel(half.infer(photo).depth_m, ref.depth_m) < 2e-2


def test_checkpoint_at_another_network_size(tiny_student_ckpt, shared_cache, photo):
    est = DepthEstimator.from_file(
        tiny_student_ckpt, "onnxruntime", input_size=(96, 160), cache_dir=shared_cache
    )
    assert est.network_hw == (96, 160) and est.infer(photo, output="network").depth_m.shape == (96, 160)
    with pytest.raises(ModelLoadError, match="multiples of 32"):
        DepthEstimator.from_file(tiny_student_ckpt, "torch", input_size=(100, 160))


def test_bundled_student_agrees_across_backends(tmp_path, photo):
    if not estimator_mod.DEFAULT_CHECKPOINT.is_file():
        pytest.skip(f"bundled student not trained yet ({estimator_mod.DEFAULT_CHECKPOINT} is absent)")
    ref = DepthEstimator.from_file("default", backend="torch").infer(photo)
    est = DepthEstimator.from_file("default", backend="onnxruntime", cache_dir=tmp_path)
    got = est.infer(photo)
    assert _rel(got.depth_m, ref.depth_m) < 1e-3 and _rel(got.sigma_m, ref.sigma_m) < 1e-3


def test_default_without_the_bundled_student_says_so(monkeypatch, tmp_path):
    monkeypatch.setattr(estimator_mod, "DEFAULT_CHECKPOINT", tmp_path / "student_default.pt")
    monkeypatch.setattr(estimator_mod, "DEFAULT_ONNX", tmp_path / "student_default.onnx")
    with pytest.raises(ModelFileError, match="bundled student is not installed"):
        DepthEstimator.from_file("default")


def test_default_prefers_a_shipped_onnx_for_onnxruntime(monkeypatch, tiny_onnx, tmp_path):
    monkeypatch.setattr(estimator_mod, "DEFAULT_CHECKPOINT", tmp_path / "absent.pt")
    monkeypatch.setattr(estimator_mod, "DEFAULT_ONNX", tiny_onnx)
    est = DepthEstimator.from_file("default")  # auto on CPU -> onnxruntime, no torch needed
    assert est.backend.name == "onnxruntime" and est.network_hw == (64, 128)


def test_auto_backend_choice():
    assert choose_backend("onnx", None) == "onnxruntime"
    assert choose_backend("checkpoint", None) == "torch"
    assert choose_backend("engine", None) == "tensorrt"
    assert choose_backend("checkpoint", "cpu", prefer_fast=True) == "onnxruntime"


def test_truncated_checkpoint(tiny_student_ckpt, tmp_path):
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(tiny_student_ckpt.read_bytes()[:5000])
    with pytest.raises(ModelFileError, match="corrupt or truncated"):
        DepthEstimator.from_file(bad, backend="torch")


def test_random_bytes_onnx(tmp_path):
    bad = tmp_path / "random.onnx"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ModelFileError, match="not a loadable ONNX model"):
        DepthEstimator.from_file(bad)


def test_truncated_onnx(tiny_onnx, tmp_path):
    bad = tmp_path / "truncated.onnx"
    bad.write_bytes(tiny_onnx.read_bytes()[: tiny_onnx.stat().st_size // 2])
    with pytest.raises(ModelFileError, match="not a loadable ONNX model"):
        DepthEstimator.from_file(bad)


def _identity_onnx(
    path: Path, in_name: str, shape: list[int], out_names: tuple[str, ...], card: bool
) -> Path:
    import onnx
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Identity", [in_name], [n]) for n in out_names]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in out_names],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if card:
        onnx.helper.set_model_props(
            model, {"adu_depth.card": json.dumps({"input_height": 32, "input_width": 32})}
        )
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize(
    ("in_name", "shape", "outs", "card", "message"),
    [
        ("x", [1, 3, 32, 32], ("depth_m", "sigma_m"), True, "one input 'image'"),
        ("image", [1, 3, 32, 32], ("depth",), True, "outputs \\['depth_m', 'sigma_m'\\]"),
        ("image", [1, 1, 32, 32], ("depth_m", "sigma_m"), True, "1 x 3 x H x W"),
        ("image", [1, 3, 32, 32], ("depth_m", "sigma_m"), False, "no adu-depth model card"),
    ],
)
def test_mismatched_onnx(tmp_path, in_name, shape, outs, card, message):
    path = _identity_onnx(tmp_path / "other.onnx", in_name, shape, outs, card)
    with pytest.raises(ModelFileError, match=message):
        DepthEstimator.from_file(path)


def test_engine_without_tensorrt(tmp_path):
    if has_module("tensorrt"):
        pytest.skip("TensorRT is installed here; this checks the message on machines without it")
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"\x00" * 64)
    with pytest.raises(BackendUnavailableError, match="tensorrt.*not importable.*JetPack"):
        DepthEstimator.from_file(engine)


def test_other_bad_requests(tiny_student_ckpt, tiny_onnx, tmp_path, photo):
    with pytest.raises(ModelFileError, match="not found"):
        DepthEstimator.from_file(tmp_path / "missing.onnx")
    (tmp_path / "model.bin").write_bytes(b"x")
    with pytest.raises(ModelFileError, match="ending in"):
        DepthEstimator.from_file(tmp_path / "model.bin")
    with pytest.raises(ModelLoadError, match="known: onnxruntime, tensorrt, torch"):
        DepthEstimator.from_file(tiny_onnx, backend="openvino")
    with pytest.raises(ModelFileError, match="torch backend runs checkpoints"):
        DepthEstimator.from_file(tiny_onnx, backend="torch")
    with pytest.raises(ModelLoadError, match="int8 runs only on the tensorrt backend"):
        DepthEstimator.from_file(tiny_student_ckpt, backend="torch", precision="int8")
    with pytest.raises(ModelLoadError, match="fp16 with the torch backend needs a CUDA"):
        DepthEstimator.from_file(tiny_student_ckpt, backend="torch", precision="fp16")
    with pytest.raises(ModelLoadError, match="re-export it for 96x160"):
        DepthEstimator.from_file(tiny_onnx, input_size=(96, 160))
    with pytest.raises(ImageError, match="uint8"):
        DepthEstimator.from_file(tiny_onnx).infer(photo.astype(np.float32))


NO_TORCH = """
import sys
sys.modules["torch"] = None  # every `import torch` now raises ImportError
import numpy as np
from adu_depth_core.runtime import BackendUnavailableError, DepthEstimator
est = DepthEstimator.from_file(sys.argv[1])
res = est.infer(np.load(sys.argv[2]))
np.save(sys.argv[3], np.stack([res.depth_m, res.sigma_m]))
try:
    DepthEstimator.from_file(sys.argv[4], backend="torch")
except BackendUnavailableError as exc:
    print("TORCH-ERROR:", exc)
print("BACKEND:", est.backend.name)
"""


def test_onnx_path_runs_where_torch_cannot_be_imported(tiny_student_ckpt, tiny_onnx, photo, tmp_path):
    np.save(tmp_path / "image.npy", photo)
    out = tmp_path / "out.npy"
    args = [str(tiny_onnx), str(tmp_path / "image.npy"), str(out), str(tiny_student_ckpt)]
    result = subprocess.run(
        [sys.executable, "-c", NO_TORCH, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert "BACKEND: onnxruntime" in result.stdout
    assert "TORCH-ERROR: the torch backend needs 'torch'" in result.stdout  # and says how to install it
    depth, sigma = np.load(out)
    ref = DepthEstimator.from_file(tiny_student_ckpt, backend="torch").infer(photo)
    assert _rel(depth, ref.depth_m) < 1e-4 and _rel(sigma, ref.sigma_m) < 1e-4


@pytest.mark.gpu
def test_torch_fp16_on_cuda_matches_fp32(tiny_student_ckpt, photo):
    ref = DepthEstimator.from_file(tiny_student_ckpt, backend="torch").infer(photo)
    half = DepthEstimator.from_file(tiny_student_ckpt, backend="torch", device="cuda", precision="fp16")
    assert _rel(half.infer(photo).depth_m, ref.depth_m) < 2e-2


def test_device_auto_resolves_to_what_this_machine_has(tiny_student_ckpt):
    """'auto' means CUDA only when a GPU is usable; on a CPU-only machine it must be the CPU."""
    import torch

    from adu_depth_core.runtime.backends import cuda_available, resolve_device

    assert resolve_device("cpu") == "cpu" and resolve_device(None) is None
    assert cuda_available() == torch.cuda.is_available()
    expected = "cuda:0" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto") == expected
    with DepthEstimator.from_file(tiny_student_ckpt, device="auto") as est:
        assert est.backend.device == expected


def test_a_teacher_checkpoint_is_refused_at_load_time(tiny_teacher_ckpt):
    """Issue 17: a stereo teacher loaded fine and failed later on a TypeError inside inference."""
    with pytest.raises(ModelFileError, match="'teacher' \\(stereo\\) checkpoint.*distill a student"):
        DepthEstimator.from_file(tiny_teacher_ckpt, backend="torch")


def test_cuda_without_a_gpu_is_a_model_load_error(tiny_student_ckpt):
    """Issue 17: torch's AssertionError ('not compiled with CUDA') escaped every handler."""
    from adu_depth_core.runtime.backends import cuda_available

    if cuda_available():
        pytest.skip("a CUDA GPU is usable here; this checks the refusal on machines without one")
    for device in ("cuda", "cuda:1"):
        with pytest.raises(BackendUnavailableError, match=f"device '{device}'.*no CUDA GPU.*'cpu'"):
            DepthEstimator.from_file(tiny_student_ckpt, backend="torch", device=device)


def test_any_backend_exception_becomes_a_model_load_error(tiny_student_ckpt, tmp_path):
    """A checkpoint whose card does not fit its weights (a shape mismatch) is a ModelLoadError too."""
    import torch

    payload = torch.load(tiny_student_ckpt, weights_only=True)
    payload["card"]["model_kwargs"]["encoder"] = "resnet18"
    payload["card"]["encoder"] = "resnet18"
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(ModelLoadError, match="does not fit"):
        DepthEstimator.from_file(tmp_path / "mismatch.pt", backend="torch")


def test_a_failing_backend_run_is_a_model_run_error(tiny_student_ckpt, photo):
    est = DepthEstimator.from_file(tiny_student_ckpt, backend="torch")
    est.close()  # a released model: the backend's own call fails (TypeError inside torch_backend)
    with pytest.raises(ModelRunError, match="torch fp32 on cpu.*failed: TypeError"):
        est.infer(photo)
