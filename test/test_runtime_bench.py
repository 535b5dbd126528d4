"""Benchmark helpers: percentiles, timing, FLOP counts from two independent counters, the bench run and CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from adu_depth_core.cli.main import main as cli_main
from adu_depth_core.runtime.bench import (
    BenchConfig,
    BenchRow,
    format_table,
    onnx_gflop,
    percentiles_ms,
    ratios,
    run_bench,
    time_calls,
    torch_gflop,
)


def _linear_percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def test_percentiles_match_a_hand_computation():
    rng = np.random.default_rng(0)
    samples = list(rng.exponential(10.0, 137))
    stats = percentiles_ms(samples)
    for q in (50, 90, 99):
        assert stats[f"p{q}"] == pytest.approx(_linear_percentile(samples, q))
    assert stats["mean"] == pytest.approx(sum(samples) / len(samples)) and stats["min"] == min(samples)
    with pytest.raises(ValueError):
        percentiles_ms([])


def test_time_calls_times_only_the_measured_calls():
    calls = []
    samples = time_calls(lambda: calls.append(1), iters=7, warmup=3)
    assert len(calls) == 10 and len(samples) == 7 and all(s >= 0 for s in samples)


def _single_conv_onnx(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((8, 2, 3, 3), np.float32), "w")  # 4 groups of 2 input channels
    conv = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1], strides=[2, 2], group=4)
    graph = helper.make_graph(
        [conv],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 16, 20])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_onnx_flops_of_a_grouped_strided_conv(tmp_path):
    # output 1 x 8 x 8 x 10; each output value needs (8 / 4) * 3 * 3 multiply-adds
    expected = 2 * (8 * 8 * 10) * (2 * 3 * 3) / 1e9
    assert onnx_gflop(_single_conv_onnx(tmp_path / "conv.onnx")) == pytest.approx(expected)


def test_onnx_and_torch_flop_counts_agree(tiny_student_ckpt, tmp_path_factory):
    from adu_depth_core.models import load_model
    from adu_depth_core.runtime import cache, derived

    root = cache.cache_dir(tmp_path_factory.getbasetemp() / "runtime-cache")
    onnx_path = derived.onnx_for_checkpoint(tiny_student_ckpt, None, root)
    model, _ = load_model(tiny_student_ckpt)
    from_torch = torch_gflop(model, 64, 128)
    assert from_torch > 0.05
    assert onnx_gflop(onnx_path) == pytest.approx(from_torch, rel=1e-6)


def test_bench_runs_every_case_and_reports_skips(tiny_student_ckpt, tmp_path_factory):
    cfg = BenchConfig(
        model=str(tiny_student_ckpt),
        precisions=("fp32", "fp16"),
        resolutions=((96, 160),),
        image_hw=(120, 250),
        iters=4,
        warmup=1,
        rounds=2,
        cache_dir=tmp_path_factory.getbasetemp() / "runtime-cache",
    )
    rows = run_bench(cfg, show_progress=False)
    ok = {(r.backend, r.precision) for r in rows if r.status == "ok"}
    assert ok == {("torch", "fp32"), ("onnxruntime", "fp32"), ("onnxruntime", "fp16")}
    skipped = [r for r in rows if r.status != "ok"]
    assert len(skipped) == 1 and "needs a CUDA device" in skipped[0].status
    for r in rows:
        if r.status == "ok":
            assert (
                r.samples == 4
                and r.p50_ms <= r.p90_ms <= r.p99_ms
                and r.fps == pytest.approx(1000 / r.mean_ms)
            )
            assert r.gflop > 0 and r.gflops == pytest.approx(r.gflop / (r.stages_p50_ms["inference"] / 1000))
            assert r.resolution == "96x160" and r.image == "120x250"
    assert set(ratios(rows)) == {"fp32 96x160"}  # no torch fp16 on CPU to compare with
    table = format_table(rows)
    assert table.count("\n") == 4 and "needs a CUDA device" in table


def test_ratio_is_torch_over_onnxruntime():
    rows = [
        BenchRow("torch", "fp32", "1x1", "1x1", p50_ms=30.0),
        BenchRow("onnxruntime", "fp32", "1x1", "1x1", p50_ms=10.0),
    ]
    assert ratios(rows) == {"fp32 1x1": pytest.approx(3.0)}


def test_bench_cli_writes_json(tiny_student_ckpt, tmp_path, tmp_path_factory, capsys):
    out = tmp_path / "bench.json"
    args = ["bench", "--model", str(tiny_student_ckpt), "--resolutions", "96x160", "--image-size", "100x200"]
    args += ["--iters", "2", "--warmup", "0", "--rounds", "1", "--json", str(out)]
    args += ["--cache-dir", str(tmp_path_factory.getbasetemp() / "runtime-cache")]
    assert cli_main(args) == 0
    text = capsys.readouterr().out
    assert "onnxruntime vs torch, fp32 96x160" in text and "p99 ms" in text
    payload = json.loads(out.read_text())
    assert {r["backend"] for r in payload["rows"]} == {"torch", "onnxruntime"}
    assert all(r["samples"] == 2 for r in payload["rows"])
