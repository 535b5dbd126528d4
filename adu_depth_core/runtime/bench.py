"""Latency benchmarking of the estimator: timing and percentile helpers, FLOP counts, a table.

Every measurement times ``DepthEstimator.infer`` end to end (pre-processing,
inference, post-processing back to the camera image size). Cases are run in
interleaved rounds so that a load change on a shared machine hits every
backend alike and their ratio stays meaningful.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np


def percentiles_ms(samples_ms: Iterable[float]) -> dict[str, float]:
    """p50 / p90 / p99 / mean / min of latency samples in milliseconds (linear interpolation)."""
    a = np.asarray(list(samples_ms), dtype=np.float64)
    if a.size == 0:
        raise ValueError("no samples")
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return {
        "p50": float(p50),
        "p90": float(p90),
        "p99": float(p99),
        "mean": float(a.mean()),
        "min": float(a.min()),
    }


def time_calls(fn: Callable[[], object], iters: int, warmup: int = 0) -> list[float]:
    """Call ``fn`` ``warmup`` times untimed, then ``iters`` times; wall-clock ms of each timed call."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        out.append(1000.0 * (time.perf_counter() - t0))
    return out


_COUNTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")


def _tensor_shapes(model, names: list[str]) -> dict[str, tuple[int, ...]]:
    """Concrete shapes of graph tensors: initializers directly, the rest by one ONNX Runtime run on zeros."""
    import onnx
    import onnxruntime as ort

    shapes = {t.name: tuple(t.dims) for t in model.graph.initializer if t.name in names}
    wanted = [n for n in dict.fromkeys(names) if n not in shapes]
    outputs = {o.name for o in model.graph.output}
    model.graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in wanted if n not in outputs)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    dtype = np.float16 if inp.type == "tensor(float16)" else np.float32
    values = session.run(wanted, {inp.name: np.zeros(inp.shape, dtype)})
    shapes.update({n: v.shape for n, v in zip(wanted, values)})
    return shapes


def onnx_gflop(onnx_path: str | Path) -> float:
    """Conv / ConvTranspose / Gemm / MatMul GFLOP (2 per multiply-add) of one forward pass of a fixed-size ONNX."""
    import onnx

    model = onnx.load(str(onnx_path))
    nodes = [n for n in model.graph.node if n.op_type in _COUNTED_OPS]
    shapes = _tensor_shapes(model, [t for n in nodes for t in (n.input[0], n.input[1], n.output[0])])
    macs = 0
    for n in nodes:
        x, w, out = shapes[n.input[0]], shapes[n.input[1]], shapes[n.output[0]]
        if n.op_type == "Conv":  # out elements x (C_in / groups) x kH x kW
            macs += int(np.prod(out)) * int(np.prod(w[1:]))
        elif n.op_type == "ConvTranspose":  # in elements x (C_out / groups) x kH x kW
            macs += int(np.prod(x)) * int(np.prod(w[1:]))
        else:  # out elements x inner dimension
            macs += int(np.prod(out)) * int(x[-1])
    return 2.0 * macs / 1e9


def torch_gflop(model, height: int, width: int) -> float:
    """GFLOP of one forward pass of a torch model at 1x3xHxW, by torch's FLOP counter."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.rand(1, 3, height, width))
    return counter.get_total_flops() / 1e9


@dataclass
class BenchRow:
    """One backend x precision x resolution; latencies of whole ``infer`` calls in ms."""

    backend: str
    precision: str
    resolution: str  # network input, "HxW"
    image: str  # camera image fed to infer, "HxW"
    status: str = "ok"  # or "skipped: reason"
    p50_ms: float = float("nan")
    p90_ms: float = float("nan")
    p99_ms: float = float("nan")
    mean_ms: float = float("nan")
    min_ms: float = float("nan")  # best call: closest to an unloaded machine when the CPU is shared
    fps: float = float("nan")  # 1000 / mean
    stages_p50_ms: dict[str, float] = field(default_factory=dict)
    gflop: float = float("nan")
    gflops: float = float("nan")  # achieved: gflop / p50 of the inference stage
    samples: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def measure(estimator, image: np.ndarray, iters: int) -> tuple[list[float], dict[str, list[float]]]:
    """``iters`` timed ``infer`` calls: total ms per call and per-stage ms lists."""
    totals, stages = [], {"preprocess": [], "inference": [], "postprocess": []}
    for _ in range(iters):
        t0 = time.perf_counter()
        result = estimator.infer(image)
        totals.append(1000.0 * (time.perf_counter() - t0))
        for k in stages:
            stages[k].append(result.timings_ms[k])
    return totals, stages


def finish_row(row: BenchRow, totals: list[float], stages: dict[str, list[float]], gflop: float) -> BenchRow:
    """Fill a row's statistics from its samples."""
    stats = percentiles_ms(totals)
    row.p50_ms, row.p90_ms, row.p99_ms, row.mean_ms = stats["p50"], stats["p90"], stats["p99"], stats["mean"]
    row.min_ms = stats["min"]
    row.fps = 1000.0 / stats["mean"]
    row.stages_p50_ms = {k: float(np.median(v)) for k, v in stages.items()}
    row.gflop = gflop
    row.gflops = gflop / (row.stages_p50_ms["inference"] / 1000.0)
    row.samples = len(totals)
    return row


def run_interleaved(
    cases: list[tuple[BenchRow, object, float]],
    image: np.ndarray,
    iters: int,
    warmup: int,
    rounds: int,
    progress=None,
) -> list[BenchRow]:
    """Benchmark (row, estimator, gflop) cases in ``rounds`` interleaved rounds of ``iters / rounds`` calls."""
    per_round = max(1, iters // rounds)
    for _, est, _ in cases:
        for _ in range(warmup):
            est.infer(image)
    samples = [([], {"preprocess": [], "inference": [], "postprocess": []}) for _ in cases]
    for _ in range(rounds):
        for (_, est, _), (totals, stages) in zip(cases, samples):
            t, s = measure(est, image, per_round)
            totals += t
            for k in stages:
                stages[k] += s[k]
            if progress is not None:
                progress.update(per_round)
    return [finish_row(row, t, s, gf) for (row, _, gf), (t, s) in zip(cases, samples)]


def _fmt(v: float, digits: int = 1) -> str:
    return "-" if v != v else f"{v:.{digits}f}"


_HEAD = (
    "backend",
    "prec",
    "network",
    "image",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "min ms",
    "FPS",
    "pre/inf/post ms",
)
_HEAD_FLOPS = ("GFLOP", "GFLOP/s")


def _cells(r: BenchRow) -> list[str]:
    st = r.stages_p50_ms
    stages = "/".join(_fmt(st.get(k, float("nan"))) for k in ("preprocess", "inference", "postprocess"))
    times = [_fmt(v) for v in (r.p50_ms, r.p90_ms, r.p99_ms, r.min_ms, r.fps)]
    return [r.backend, r.precision, r.resolution, r.image, *times, stages, _fmt(r.gflop, 3), _fmt(r.gflops)]


def format_table(rows: list[BenchRow]) -> str:
    """Plain-text table, one line per row; skipped rows follow with their reason."""
    lines = [list(_HEAD + _HEAD_FLOPS)] + [_cells(r) for r in rows if r.status == "ok"]
    notes = [f"{r.backend} {r.precision} {r.resolution}: {r.status}" for r in rows if r.status != "ok"]
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    text = [
        "  ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(ln, widths)))
        for ln in lines
    ]
    return "\n".join(text + notes)


def ratios(rows: list[BenchRow], num: str = "onnxruntime", den: str = "torch") -> dict[str, float]:
    """Speed-up of backend ``num`` over ``den`` (den p50 / num p50) per precision x resolution, same run."""
    by = {(r.backend, r.precision, r.resolution): r for r in rows if r.status == "ok"}
    out = {}
    for (b, prec, res), r in by.items():
        other = by.get((den, prec, res))
        if b == num and other is not None:
            out[f"{prec} {res}"] = other.p50_ms / r.p50_ms
    return out


@dataclass
class BenchConfig:
    """What ``adu-depth bench`` measures."""

    model: str  # checkpoint, .onnx, .engine or "default"
    backends: tuple[str, ...] = ("torch", "onnxruntime")
    precisions: tuple[str, ...] = ("fp32",)
    resolutions: tuple[tuple[int, int], ...] = ((192, 640), (352, 1216))
    image_hw: tuple[int, int] = (375, 1242)  # camera image fed to infer (KITTI size)
    iters: int = 50
    warmup: int = 5
    rounds: int = 5
    num_threads: int | None = None
    device: str | None = None
    cache_dir: Path | None = None


def _model_path(model: str) -> Path:
    """A path for ``model``; "default" prefers the bundled checkpoint (it can be run at any size)."""
    if model != "default":
        return Path(model)
    from adu_depth_core.runtime.estimator import DEFAULT_CHECKPOINT, _default_model

    return DEFAULT_CHECKPOINT if DEFAULT_CHECKPOINT.is_file() else _default_model("onnxruntime", None)


def resolution_gflop(path: Path, kind: str, hw: tuple[int, int], cache_dir: Path | None) -> float:
    """GFLOP of the model at one network size (NaN for engines, whose graph is opaque)."""
    from adu_depth_core.runtime import cache, derived

    if kind == "checkpoint":
        return onnx_gflop(derived.onnx_for_checkpoint(path, hw, cache.cache_dir(cache_dir)))
    return onnx_gflop(path) if kind == "onnx" else float("nan")


def _open_cases(cfg: BenchConfig, path: Path, hw: tuple[int, int], image: str) -> tuple[list, list[BenchRow]]:
    from adu_depth_core.runtime.backends import ModelLoadError
    from adu_depth_core.runtime.estimator import DepthEstimator

    cases, skipped = [], []
    for backend in cfg.backends:
        for prec in cfg.precisions:
            row = BenchRow(backend, prec, f"{hw[0]}x{hw[1]}", image)
            try:
                est = DepthEstimator.from_file(
                    path,
                    backend,
                    cfg.device,
                    prec,
                    input_size=hw,
                    num_threads=cfg.num_threads,
                    cache_dir=cfg.cache_dir,
                )
            except ModelLoadError as exc:
                row.status = f"skipped: {exc}"
                skipped.append(row)
                continue
            cases.append((row, est))
    return cases, skipped


def run_bench(cfg: BenchConfig, show_progress: bool = True) -> list[BenchRow]:
    """Every backend x precision x resolution of ``cfg``; unsupported combinations come back as skipped rows."""
    from tqdm import tqdm

    from adu_depth_core.runtime.backends import model_kind

    path = _model_path(cfg.model)
    kind = model_kind(path)
    image = np.random.default_rng(0).integers(0, 256, (*cfg.image_hw, 3), dtype=np.uint8)
    image_s = f"{cfg.image_hw[0]}x{cfg.image_hw[1]}"
    rows: list[BenchRow] = []
    for hw in cfg.resolutions:
        cases, skipped = _open_cases(cfg, path, hw, image_s)
        rows += skipped
        if not cases:
            continue
        gflop = resolution_gflop(path, kind, hw, cfg.cache_dir)
        per_round = max(1, cfg.iters // cfg.rounds)
        with tqdm(
            total=len(cases) * per_round * cfg.rounds,
            desc=f"bench {hw[0]}x{hw[1]}",
            disable=not show_progress,
        ) as bar:
            rows += run_interleaved(
                [(r, e, gflop) for r, e in cases], image, cfg.iters, cfg.warmup, cfg.rounds, bar
            )
        for _, est in cases:
            est.close()
    return rows
