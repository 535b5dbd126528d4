"""int8 vs fp32 on CPU (ONNX Runtime): speed at the network size, and accuracy on held-out scenes and KITTI.

    python benchmarks/bench_int8.py --model default,random --network 192x640 --threads 2 --json int8.json
    python benchmarks/bench_int8.py --model default --variants all --kitti ../shared/data/real/kitti_object

The fp32 ONNX of each model is exported at ``--network``; each int8
variant (activation/weight types; ``--variants all`` adds signed activations) is made by ``adu_depth_core.quantize``
(calibrated on synthetic street frames of other seeds). Speed: the backend's
``run`` on one preprocessed frame, fp32 and int8 variants in turn frame by frame
(``--rounds`` x ``--frames`` each) so load drifts cancel in the ratio. Accuracy: AbsRel against the ground truth of
``--held-out`` synthetic scenes (seeds not used for calibration) and of the
KITTI object frames (LiDAR), for fp32 and int8 through ``DepthEstimator`` with
the frame's K (evaluation only).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

VARIANTS = {"int8 (u8 act, s8 w)": ("quint8", "qint8"), "int8 (s8 act, s8 w)": ("qint8", "qint8")}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--model",
        default="random",
        help="comma list of checkpoints, 'default', 'random' (random weights); all timed in turn",
    )
    p.add_argument("--variants", default="shipped", choices=("shipped", "all"), help="int8 variants to time")
    p.add_argument("--network", default="192x640", help="HxW network input")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds of --frames runs each")
    p.add_argument("--frames", type=int, default=10)
    p.add_argument("--calib", type=int, default=16, help="synthetic calibration frames")
    p.add_argument("--held-out", type=int, default=8, help="synthetic held-out scenes for accuracy")
    p.add_argument("--kitti", default="", help="KITTI object root (training/image_2, velodyne, calib)")
    p.add_argument("--json", type=Path, default=None)
    return p.parse_args(argv)


def checkpoint_for(model: str, hw: tuple[int, int], tmp: Path) -> Path:
    """The checkpoint to quantize: a file, the bundled student, or a random-weight one (bench_node's)."""
    from bench_node import resolve_model

    from adu_depth_core.runtime.estimator import DEFAULT_CHECKPOINT

    ns = argparse.Namespace(model=model, network=f"{hw[0]}x{hw[1]}", height=hw[0], width=hw[1])
    found = resolve_model(ns, tmp)
    return DEFAULT_CHECKPOINT if found == "default" else Path(found)


def time_runs(estimators: dict, hw, rounds: int, frames: int) -> dict[str, list[float]]:
    """ms per backend run (network only), variants interleaved frame by frame."""
    x = np.random.default_rng(0).random((1, 3, *hw), dtype=np.float32)
    times = {k: [] for k in estimators}
    for est in estimators.values():
        est.backend.run(x)  # warm-up
    for _ in range(rounds * frames):  # frame by frame in turn, so load drifts hit every variant alike
        for name, est in estimators.items():
            t0 = time.perf_counter()
            est.backend.run(x)
            times[name].append(1e3 * (time.perf_counter() - t0))
    return times


def absrel(estimators: dict, samples) -> dict[str, float]:
    """Mean AbsRel per estimator over samples (left image, depth_m ground truth, K)."""
    from adu_depth_core.metrics import depth_metrics

    out = {k: [] for k in estimators}
    for s in samples:
        for name, est in estimators.items():
            pred = est.infer(s.left, K=s.K).depth_m
            out[name].append(depth_metrics(pred, s.depth_m)["abs_rel"])
    return {k: float(np.mean(v)) for k, v in out.items()}


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from adu_depth_core.data.synthetic import SyntheticStereo
    from adu_depth_core.export import export_checkpoint
    from adu_depth_core.quantize import CALIB_SEED, quantize_onnx_int8, synthetic_frames
    from adu_depth_core.runtime import DepthEstimator

    hw = tuple(int(v) for v in args.network.split("x"))
    models = [m.strip() for m in args.model.split(",") if m.strip()]
    variants = VARIANTS if args.variants == "all" else dict(list(VARIANTS.items())[:1])
    res: dict = {"models": models, "network": args.network, "threads": args.threads, "quantize_s": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        calib = synthetic_frames(args.calib, hw)
        files = {}  # (model, variant) -> ONNX
        for m in models:
            fp32, _ = export_checkpoint(checkpoint_for(m, hw, tmp), tmp / f"{m}_fp32.onnx", input_size=hw)
            files[(m, "fp32")] = fp32
            for name, (act, w) in variants.items():
                t0 = time.perf_counter()
                out = tmp / f"{m}_{act}_{w}.onnx"
                files[(m, name)] = quantize_onnx_int8(fp32, out, calib, activation_type=act, weight_type=w)
                res["quantize_s"][f"{m} {name}"] = time.perf_counter() - t0
        ests = {
            k: DepthEstimator.from_file(p, backend="onnxruntime", num_threads=args.threads)
            for k, p in files.items()
        }
        times = time_runs(ests, hw, args.rounds, args.frames)  # every model and variant in turn
        held = SyntheticStereo(args.held_out, size=hw, seed=CALIB_SEED + 1000, hfov_deg=(60.0, 100.0))
        synth = absrel(ests, [held[i] for i in range(len(held))])
        kitti = {}
        if args.kitti:
            from adu_depth_core.data.kitti_object import KittiObject

            frames = KittiObject(args.kitti)
            kitti = absrel(ests, [frames[i] for i in range(len(frames))])
    res["rows"] = rows = {}
    for (m, v), t in times.items():
        p50, ref = float(np.median(t)), float(np.median(times[(m, "fp32")]))
        rows[f"{m} {v}"] = {
            "p50_ms": p50,
            "fps": 1e3 / p50,
            "speedup_vs_fp32": ref / p50,
            "absrel_synthetic": synth[(m, v)],
            "absrel_kitti": kitti.get((m, v), float("nan")),
            "absrel_change_synthetic": synth[(m, v)] / synth[(m, "fp32")] - 1.0,
            "absrel_change_kitti": kitti[(m, v)] / kitti[(m, "fp32")] - 1.0 if kitti else float("nan"),
        }
    print(f"\nint8 vs fp32, ONNX Runtime CPU, network {args.network}, {args.threads} threads")
    head = f"{'model, variant':<32}{'p50 ms':>9}{'FPS':>8}{'x fp32':>8}"
    print(head + f"{'AbsRel synth':>14}{'(change)':>10}{'AbsRel KITTI':>14}{'(change)':>10}")
    for k, r in rows.items():
        print(
            f"{k:<32}{r['p50_ms']:>9.1f}{r['fps']:>8.1f}{r['speedup_vs_fp32']:>8.2f}"
            f"{r['absrel_synthetic']:>14.4f}{100 * r['absrel_change_synthetic']:>+9.2f}%"
            f"{r['absrel_kitti']:>14.4f}{100 * r['absrel_change_kitti']:>+9.2f}%"
        )
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
