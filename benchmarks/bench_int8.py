"""int8 vs fp32 on CPU (ONNX Runtime): speed at the network size, and accuracy on held-out scenes and KITTI.

    python benchmarks/bench_int8.py --model random --network 192x640 --threads 2 --json int8.json
    python benchmarks/bench_int8.py --model default --network 192x640 --kitti ../shared/data/real/kitti_object

The fp32 ONNX is exported from the checkpoint at ``--network``; each int8
variant (activation/weight types) is made by ``adu_depth_core.quantize``
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
    p.add_argument("--model", default="random", help="checkpoint, 'default', or 'random' (random weights)")
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
    res: dict = {"model": args.model, "network": args.network, "threads": args.threads, "variants": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fp32, _ = export_checkpoint(checkpoint_for(args.model, hw, tmp), tmp / "fp32.onnx", input_size=hw)
        calib = synthetic_frames(args.calib, hw)
        files = {"fp32": fp32}
        for name, (act, w) in VARIANTS.items():
            t0 = time.perf_counter()
            files[name] = quantize_onnx_int8(
                fp32, tmp / f"{act}_{w}.onnx", calib, activation_type=act, weight_type=w
            )
            res["variants"][name] = {"quantize_s": time.perf_counter() - t0}
        ests = {
            k: DepthEstimator.from_file(p, backend="onnxruntime", num_threads=args.threads)
            for k, p in files.items()
        }
        times = time_runs(ests, hw, args.rounds, args.frames)
        fps = {k: 1e3 / float(np.median(v)) for k, v in times.items()}
        held = SyntheticStereo(args.held_out, size=hw, seed=CALIB_SEED + 1000, hfov_deg=(60.0, 100.0))
        synth = absrel(ests, [held[i] for i in range(len(held))])
        kitti = {}
        if args.kitti:
            from adu_depth_core.data.kitti_object import KittiObject

            frames = KittiObject(args.kitti)
            kitti = absrel(ests, [frames[i] for i in range(len(frames))])
    rows = {}
    for k in files:
        rows[k] = {
            "p50_ms": float(np.median(times[k])),
            "fps": fps[k],
            "speedup_vs_fp32": fps[k] / fps["fp32"],
            "absrel_synthetic": synth[k],
            "absrel_kitti": kitti.get(k, float("nan")),
        }
        rows[k].update(res["variants"].get(k, {}))
    res["rows"] = rows
    print(
        f"\nint8 vs fp32, ONNX Runtime CPU, network {args.network}, model {args.model}, {args.threads} threads"
    )
    print(f"{'variant':<22}{'p50 ms':>9}{'FPS':>8}{'x fp32':>8}{'AbsRel synth':>14}{'AbsRel KITTI':>14}")
    for k, r in rows.items():
        print(
            f"{k:<22}{r['p50_ms']:>9.1f}{r['fps']:>8.1f}{r['speedup_vs_fp32']:>8.2f}"
            f"{r['absrel_synthetic']:>14.4f}{r['absrel_kitti']:>14.4f}"
        )
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
