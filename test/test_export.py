"""ONNX export: opset, model card in metadata, checker, parity with PyTorch on real images, fp16, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adu_depth_core import export as ex
from adu_depth_core.checkpoint import load_checkpoint, read_card
from adu_depth_core.cli.main import main as cli_main


@pytest.fixture(scope="module")
def exported(tiny_student_ckpt, tmp_path_factory) -> tuple[Path, ex.ParityReport]:
    out = tmp_path_factory.mktemp("export") / "tiny.onnx"
    return ex.export_checkpoint(tiny_student_ckpt, out, parity_images=ex.default_parity_images())


def _meta(path: Path) -> dict[str, str]:
    import onnx

    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def test_onnx_has_opset_card_and_passes_the_checker(exported, tiny_student_ckpt):
    import onnx

    path, _ = exported
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    meta = _meta(path)
    assert meta["adu_depth.format"] == "adu-depth-onnx/1" and meta["adu_depth.precision"] == "fp32"
    card = json.loads(meta["adu_depth.card"])
    assert card == read_card(load_checkpoint(tiny_student_ckpt)).to_dict()
    assert ex.read_onnx_card(path).min_depth_m == 0.5
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert model.graph.input[0].name == "image" and dims == [1, 3, 64, 128]
    assert [o.name for o in model.graph.output] == ["depth_m", "sigma_m"]


def test_parity_with_pytorch_on_real_images_is_tight(exported):
    _, report = exported
    assert report.n_images == 2
    assert report.max_rel_depth < 1e-4 and report.max_rel_sigma < 1e-4
    assert report.max_rel == max(report.max_rel_depth, report.max_rel_sigma)


def test_parity_check_detects_a_different_model(exported, tiny_student_ckpt):
    """The check can fail: other weights give a large difference."""
    import torch

    from adu_depth_core.models import load_model

    model, _ = load_model(tiny_student_ckpt)
    with torch.no_grad():
        for p in model.heads.parameters():
            p.add_(0.5)
    report = ex.parity_check(model, exported[0], ex.default_parity_images()[:1])
    assert report.max_rel > 1e-2


def test_export_refuses_old_opsets_and_odd_sizes(tiny_student_ckpt, tmp_path):
    from adu_depth_core.models import load_model

    model, card = load_model(tiny_student_ckpt)
    with pytest.raises(ValueError, match="opset must be >= 17"):
        ex.export_onnx(model, card, tmp_path / "old.onnx", opset=16)
    with pytest.raises(ValueError, match="multiples of 32"):
        ex.export_onnx(model, card, tmp_path / "odd.onnx", input_size=(50, 128))
    assert not (tmp_path / "old.onnx").exists() and not (tmp_path / "odd.onnx").exists()


def test_fp16_onnx_keeps_fp32_io_and_stays_close(exported, tiny_student_ckpt, tmp_path):
    import onnx

    from adu_depth_core.models import load_model

    half = ex.convert_onnx_fp16(exported[0], tmp_path / "tiny.fp16.onnx")
    model = onnx.load(str(half))
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer)
    assert _meta(half)["adu_depth.precision"] == "fp16"
    report = ex.parity_check(load_model(tiny_student_ckpt)[0], half, ex.default_parity_images())
    assert 1e-6 < report.max_rel_depth < 1e-2  # really fp16 (not identical), still close
    again = ex.convert_onnx_fp16(half, tmp_path / "twice.onnx")  # already fp16: copied, not converted again
    assert again.read_bytes() == half.read_bytes()
    from adu_depth_core.runtime import DepthEstimator

    assert DepthEstimator.from_file(half).backend.precision == "fp16"  # the file says what it computes in


def test_cli_export_at_another_size_prints_parity(tiny_student_ckpt, tmp_path, capsys):
    out = tmp_path / "cli.onnx"
    args = [
        "export",
        "--model",
        str(tiny_student_ckpt),
        "--out",
        str(out),
        "--height",
        "64",
        "--width",
        "192",
    ]
    rc = cli_main([*args, "--fp16"])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert out.is_file() and out.with_suffix(".fp16.onnx").is_file()
    assert (
        ex.read_onnx_card(out).input_width == 192
        and ex.read_onnx_card(out.with_suffix(".fp16.onnx")).input_width == 192
    )
    line = next(s for s in text.splitlines() if s.startswith("parity fp32"))
    assert float(line.split("depth ")[1].split(",")[0]) < 1e-4
    assert "parity fp16" in text and "1x3x64x192" in text


def test_cli_export_refuses_bad_inputs(tiny_student_ckpt, tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(tiny_student_ckpt.read_bytes()[:1000])
    assert cli_main(["export", "--model", str(bad), "--out", str(tmp_path / "x.onnx"), "--no-parity"]) == 2
    assert "corrupt or truncated" in capsys.readouterr().err
    (tmp_path / "m.onnx").write_bytes(b"0")
    assert cli_main(["export", "--model", str(tmp_path / "m.onnx"), "--out", str(tmp_path / "y.onnx")]) == 2
    assert "--tensorrt" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.slow
def test_dynamo_exporter_gives_the_same_outputs(tiny_student_ckpt, tmp_path):
    import onnx

    path, report = ex.export_checkpoint(
        tiny_student_ckpt,
        tmp_path / "dyn.onnx",
        dynamo=True,
        opset=18,
        parity_images=ex.default_parity_images()[:1],
    )
    assert max(o.version for o in onnx.load(str(path)).opset_import if o.domain in ("", "ai.onnx")) >= 18
    assert report.max_rel < 1e-4


def test_load_images_reads_a_folder(tmp_path):
    import cv2

    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 0] = 255
    cv2.imwrite(str(tmp_path / "a.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    (tmp_path / "b.jpg").write_bytes(b"not a jpeg")
    images = ex.load_images(tmp_path)
    assert len(images) == 1 and tuple(images[0][0, 0]) == (255, 0, 0)
    with pytest.raises(ValueError, match="no images"):
        ex.load_images(tmp_path / "a.png")


def test_sibling_convs_are_merged_exactly(tmp_path):
    """Two convs on one input (one without bias) become one Conv + Split with identical outputs."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from adu_depth_core.runtime.onnx_graph import merge_sibling_convs

    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.normal(size=(1, 4, 3, 3)).astype(np.float32), "wa"),
        numpy_helper.from_array(rng.normal(size=(1,)).astype(np.float32), "ba"),
        numpy_helper.from_array(rng.normal(size=(2, 4, 3, 3)).astype(np.float32), "wb"),
    ]
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Conv", ["r", "wa", "ba"], ["a"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["r", "wb"], ["b"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["r", "wb"], ["c"], pads=[0, 0, 0, 0]),  # other attributes: not merged
    ]
    shapes = {"a": [1, 1, 8, 8], "b": [1, 2, 8, 8], "c": [1, 2, 6, 6]}
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in shapes.items()]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])], outs
    )
    graph.initializer.extend(inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    x = rng.normal(size=(1, 4, 8, 8)).astype(np.float32)
    before = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})
    assert merge_sibling_convs(model) == 2
    onnx.checker.check_model(model, full_check=True)
    assert [n.op_type for n in model.graph.node].count("Conv") == 2 and "Split" in [
        n.op_type for n in model.graph.node
    ]
    after = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})
    for b, a in zip(before, after):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_exported_graph_has_one_conv_per_torch_conv_except_the_merged_heads(exported, tiny_student_ckpt):
    import onnx
    import torch

    from adu_depth_core.models import load_model

    model, _ = load_model(tiny_student_ckpt)
    n_torch = sum(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    ops = [n.op_type for n in onnx.load(str(exported[0])).graph.node]
    assert ops.count("Conv") == n_torch - 1 and ops.count("Split") == 1


@pytest.mark.slow
def test_cli_export_int8_checks_accuracy_against_fp32(tiny_student_ckpt, tmp_path, capsys):
    out = tmp_path / "q.onnx"
    args = ["export", "--model", str(tiny_student_ckpt), "--out", str(out), "--int8", "--int8-calib", "4"]
    rc = cli_main(args)
    text = capsys.readouterr().out
    assert rc == 0, text
    assert _meta(out.with_suffix(".int8.onnx"))["adu_depth.precision"] == "int8"
    line = next(s for s in text.splitlines() if s.startswith("int8 vs fp32"))
    assert 0.0 < float(line.split("them ")[1].split(",")[0]) < 0.05
    assert cli_main([*args, "--max-int8-rel", "1e-9"]) == 1  # an impossible bound fails the export
    assert "int8 differs from fp32" in capsys.readouterr().err
