"""The core frame recipe: its buffered kernels equal the reference functions, buffers are reused, only
wanted outputs are made, output_resolution and the camera check behave, and the int8 path quantizes."""

from __future__ import annotations

import numpy as np
import pytest

from adu_depth_core.image_encodings import depth_to_mm
from adu_depth_core.recipe import OUTPUTS, FrameRecipe, RecipeConfig, kernels, output_topic
from adu_depth_core.runtime import colormap, geometry
from adu_depth_core.runtime.intrinsics import Intrinsics, make_K
from adu_depth_core.scale import apply_scale


def _maps(h=37, w=53, seed=0):
    rng = np.random.default_rng(seed)
    depth = rng.uniform(0.0, 100.0, (h, w)).astype(np.float32)
    depth[rng.random((h, w)) < 0.05] = np.nan
    sigma = (rng.uniform(0.0, 0.4, (h, w)) * depth).astype(np.float32)
    return depth, sigma


def test_clip_equals_scale_then_valid_range():
    depth, sigma = _maps()
    ref_d, ref_s = geometry.valid_depth_range(*apply_scale(depth, sigma, 1.3), 0.5, 80.0)
    got_d, got_s, invalid = kernels.clip_depth_range(kernels.Buffers(), depth, sigma, 0.5, 80.0, 1.3)
    np.testing.assert_array_equal(got_d, ref_d)
    np.testing.assert_array_equal(got_s, ref_s)
    np.testing.assert_array_equal(invalid, np.isnan(ref_d))
    assert got_d.dtype == got_s.dtype == np.float32


def test_mm_equals_depth_to_mm():
    depth, sigma = _maps()
    buf = kernels.Buffers()
    d, _, invalid = kernels.clip_depth_range(buf, depth, sigma, 0.1, 90.0)
    np.testing.assert_array_equal(kernels.depth_to_mm_into(buf, d, invalid), depth_to_mm(d))


@pytest.mark.parametrize("stride", [1, 3])
@pytest.mark.parametrize("with_rgb", [False, True])
def test_cloud_equals_backproject(stride, with_rgb):
    depth, sigma = _maps()
    depth[0, 0] = 0.0  # z <= 0 is invalid too
    K = make_K(40.0, 42.0, 26.0, 18.5)
    rgb = np.random.default_rng(1).integers(0, 255, depth.shape + (3,), dtype=np.uint8)
    ratio = geometry.sigma_limit_ratio(depth, sigma, 5.0, 0.25)
    xyz = geometry.backproject(depth, K, stride, ratio, 1.0)
    ref = geometry.to_point_array(xyz, rgb[::stride, ::stride] if with_rgb else None)
    builder = kernels.CloudBuilder()
    got = builder.build(depth, sigma, K, stride, 5.0, 0.25, rgb if with_rgb else None)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    assert got.tobytes() == ref.tobytes()
    again = builder.build(depth, sigma, K, stride, 5.0, 0.25, rgb if with_rgb else None)
    assert again is got  # the structured array is reused frame after frame


@pytest.mark.parametrize("fixed", [False, True])
def test_lut_colour_equals_colorize_depth(fixed):
    depth, sigma = _maps(seed=3)
    buf = kernels.Buffers()
    d, _, invalid = kernels.clip_depth_range(buf, depth, sigma, 0.1, 90.0)
    lo, hi = (2.0, 40.0) if fixed else colormap.value_range(d)
    got = kernels.colorize_into(buf, d, invalid, lo, hi, reverse=True)
    want = colormap.colorize_depth(d, 2.0, 40.0) if fixed else colormap.colorize_depth(d)
    np.testing.assert_array_equal(got, want)
    assert np.all(got[invalid] == 0)


def test_uncertainty_summary_is_the_median_and_kept_share_of_sigma_over_depth():
    depth = np.full((8, 8), 10.0, np.float32)
    sigma = np.full((8, 8), 1.0, np.float32)
    sigma[0, 0], sigma[0, 4], sigma[4, 0] = 4.0, 5.0, 2.0  # sampled pixels: (0,0) (0,4) (4,0) (4,4)
    depth[4, 4] = np.nan  # not valid: left out
    got = kernels.uncertainty_summary(depth, sigma, 0.25)
    assert got == {"relative_sigma_median": "0.400", "relative_sigma_kept": "0.333"}  # 0.2, 0.4, 0.5
    assert set(kernels.uncertainty_summary(depth, sigma, 0.0)) == {"relative_sigma_median"}  # filter off
    empty = kernels.uncertainty_summary(np.full((8, 8), np.nan, np.float32), sigma, 0.25)
    assert empty == {"relative_sigma_median": "none", "relative_sigma_kept": "none"}


def test_only_wanted_outputs_and_camera_checks(tiny_student_ckpt):
    from adu_depth_core.runtime import DepthEstimator

    est = DepthEstimator.from_file(tiny_student_ckpt, backend="torch")
    recipe = FrameRecipe(est)
    rgb = np.random.default_rng(0).integers(0, 255, (48, 100, 3), dtype=np.uint8)
    K = make_K(60.0, 60.0, 49.5, 23.5)
    cam = Intrinsics(100, 48, K, np.hstack([K, np.zeros((3, 1))]))
    out = recipe.run(rgb, cam, RecipeConfig(), {"depth"})
    assert set(out.arrays) == {"depth"} and out.camera is None and "points" not in out.timings_ms
    out = recipe.run(rgb, cam, RecipeConfig(output_resolution="network"), set(OUTPUTS))
    assert set(out.arrays) == {"depth", "uncertainty", "color", "points"}
    summary = kernels.uncertainty_summary(out.arrays["depth"], out.arrays["uncertainty"], 0.25)
    assert {k: out.notes[k] for k in summary} == summary and float(summary["relative_sigma_median"]) > 0
    assert out.arrays["depth"].shape == est.network_hw == (out.camera.height, out.camera.width)
    assert out.camera.K[0, 0] == pytest.approx(60.0 * est.network_hw[1] / 100)
    wrong = Intrinsics(50, 24, K, np.hstack([K, np.zeros((3, 1))]))
    out = recipe.run(rgb, wrong, RecipeConfig(), set(OUTPUTS))
    assert "points" not in out.arrays and out.camera is None
    assert [c for c, _ in out.problems] == ["camera_info"] and "24x50 (HxW)" in out.problems[0][1]


def test_output_table_and_config_checks():
    assert output_topic("/cam/", "points") == "/cam/points" and output_topic("", "depth") == "/depth"
    with pytest.raises(ValueError, match="color_min_depth_m"):
        RecipeConfig(color_min_depth_m=5.0, color_max_depth_m=2.0)
    with pytest.raises(ValueError, match="output_resolution"):
        RecipeConfig(output_resolution="half")


@pytest.mark.slow
def test_int8_onnx_runs_and_stays_near_fp32(tiny_student_ckpt, tmp_path):
    from adu_depth_core.export import export_checkpoint
    from adu_depth_core.quantize import accuracy_vs_fp32, precision_of, quantize_onnx_int8, synthetic_frames
    from adu_depth_core.runtime import DepthEstimator

    fp32, _ = export_checkpoint(tiny_student_ckpt, tmp_path / "m.onnx")
    frames = synthetic_frames(6, (64, 128))
    int8 = quantize_onnx_int8(fp32, tmp_path / "m.int8.onnx", frames[:4])
    assert precision_of(int8) == "int8" and precision_of(fp32) == "fp32"
    report = accuracy_vs_fp32(fp32, int8, frames[4:])
    assert 0.0 < report.absrel_vs_fp32 < 0.1  # really quantized (not identical), still close
    est = DepthEstimator.from_file(fp32, backend="onnxruntime", precision="int8", cache_dir=tmp_path / "c")
    assert est.backend.precision == "int8"
    assert np.isfinite(est.infer(frames[5]).depth_m).all()
