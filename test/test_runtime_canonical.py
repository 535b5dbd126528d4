"""The canonical-camera student at run time: fx sets the metric scale, the same on every backend."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from adu_depth_core.runtime import DepthEstimator
from adu_depth_core.runtime.preprocess import preprocess

F_CANONICAL = 100.0


@pytest.fixture(scope="module")
def canonical_ckpt(tmp_path_factory):
    """A small random-weight canonical-camera student checkpoint (real format and card)."""
    import torch

    from adu_depth_core.checkpoint import ModelCard, save_checkpoint
    from adu_depth_core.models import create_student

    torch.manual_seed(1)
    kwargs = {"encoder": "efficientnet_lite0", "min_depth": 0.2, "max_depth": 200.0}
    model = create_student(pretrained=False, **kwargs).eval()
    card = ModelCard(
        model_kwargs=kwargs,
        input_height=64,
        input_width=128,
        min_depth_m=0.5,
        max_depth_m=80.0,
        canonical_focal_px=F_CANONICAL,
    )
    path = tmp_path_factory.mktemp("canonical") / "canonical_student.pt"
    save_checkpoint(path, model.state_dict(), card)
    return path


@pytest.fixture(scope="module")
def canonical_onnx(canonical_ckpt, tmp_path_factory):
    pytest.importorskip("onnxruntime")
    from adu_depth_core.export import export_checkpoint

    path, _ = export_checkpoint(canonical_ckpt, tmp_path_factory.mktemp("onnx") / "canonical.onnx")
    return path


def _image(h=90, w=200, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _estimators(ckpt, onnx_path):
    return {
        "torch": DepthEstimator.from_file(ckpt, backend="torch", device="cpu"),
        "onnxruntime": DepthEstimator.from_file(onnx_path, backend="onnxruntime", num_threads=1),
    }


def test_doubling_fx_doubles_depth_and_sigma_on_every_backend(canonical_ckpt, canonical_onnx):
    rgb, f = _image(), 150.0
    results = {}
    for name, est in _estimators(canonical_ckpt, canonical_onnx).items():
        with est:
            one, two = est.infer(rgb, fx=f), est.infer(rgb, fx=2 * f)
            raw = est.backend.run(preprocess(rgb, 64, 128))[0][0, 0]
            at_network = est.infer(rgb, output="network", fx=f).depth_m
        np.testing.assert_allclose(two.depth_m, 2 * one.depth_m, rtol=1e-6)
        np.testing.assert_allclose(two.sigma_m, 2 * one.sigma_m, rtol=1e-6)
        assert one.fx_px == f and one.fx_source == "given"
        # metres = network depth * fx_network / f_canonical, fx_network = fx * 128 / 200 (resize to 64x128)
        np.testing.assert_allclose(at_network, raw * (f * 128 / 200) / F_CANONICAL, rtol=1e-6)
        results[name] = one.depth_m
    np.testing.assert_allclose(results["onnxruntime"], results["torch"], rtol=1e-4, atol=1e-4)


def test_K_and_fx_give_the_same_metres(canonical_ckpt):
    rgb = _image()
    K = np.array([[180.0, 0, 99.5], [0, 180.0, 44.5], [0, 0, 1]])
    with DepthEstimator.from_file(canonical_ckpt, backend="torch", device="cpu") as est:
        np.testing.assert_array_equal(est.infer(rgb, K=K).depth_m, est.infer(rgb, fx=180.0).depth_m)
        with pytest.raises(ValueError, match="fx"):
            est.infer(rgb, fx=-3.0)


def test_without_intrinsics_the_canonical_camera_is_assumed_and_said_once(canonical_ckpt, caplog):
    rgb = _image()
    with DepthEstimator.from_file(canonical_ckpt, backend="torch", device="cpu") as est:
        with caplog.at_level(logging.WARNING, logger="adu_depth_core.runtime.estimator"):
            first, second = est.infer(rgb), est.infer(rgb)
        assumed = est.assumed_fx_px(rgb.shape[:2])
        given = est.infer(rgb, fx=assumed)
    warnings = [r for r in caplog.records if "canonical camera" in r.getMessage()]
    assert len(warnings) == 1, "the assumption is logged once, not per frame"
    assert first.fx_source == "assumed" and first.fx_px == pytest.approx(F_CANONICAL * 200 / 128)
    np.testing.assert_allclose(first.depth_m, given.depth_m, rtol=1e-6)
    np.testing.assert_array_equal(first.depth_m, second.depth_m)


def test_a_camera_unaware_model_ignores_fx(tiny_student_ckpt):
    rgb = _image()
    with DepthEstimator.from_file(tiny_student_ckpt, backend="torch", device="cpu") as est:
        a, b = est.infer(rgb, fx=100.0), est.infer(rgb, fx=400.0)
    np.testing.assert_array_equal(a.depth_m, b.depth_m)
    assert a.fx_px is None and a.fx_source == "unused"


@pytest.mark.tensorrt
def test_tensorrt_gives_the_same_metres(canonical_onnx):
    rgb = _image()
    with DepthEstimator.from_file(canonical_onnx, backend="tensorrt") as trt:
        one, two = trt.infer(rgb, fx=150.0), trt.infer(rgb, fx=300.0)
    np.testing.assert_allclose(two.depth_m, 2 * one.depth_m, rtol=1e-5)
