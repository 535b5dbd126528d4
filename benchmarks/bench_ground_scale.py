"""Ground-plane metric scale: how much it fixes a wrong scale, and how steady it is over time.

    python benchmarks/bench_ground_scale.py                       # all three experiments, tables
    python benchmarks/bench_ground_scale.py --only streets --n 40 --json out/ground_scale.json

(a) ``streets``: synthetic streets, each seen from a random camera height and a random horizontal
    field of view (a random lens); the prior is the true mounting (height and the rig's tilt), by the bundled student and by the same student deliberately
    mis-scaled by 0.6x and 1.5x. Metric AbsRel without scale correction, with the per-frame
    ground-plane scale (each frame is its own camera: known height, scale from that frame
    alone), and with the median-scaled oracle (per-image median of ground truth / prediction).
(b) ``kitti``: the shared real KITTI object frames (camera height 1.65 m, LiDAR ground truth),
    the same three columns, read with ``data.kitti_object``. Evaluation only; skipped when
    ``../shared/data/real`` is absent.
(c) ``drive``: a camera moving along one street (>= 100 frames): frame-to-frame standard
    deviation of the applied log-scale, of the median log-depth on the road and of the median
    log-error over the image, without scale, with the raw per-frame scale (no temporal filter),
    with the default filter (outliers gated, window 1) and with smoothing over 9 frames.

Rendering is small (96x320 by default) so the whole run takes a few minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import numpy as np
from real_frames import KITTI_OBJECT_DIR

from adu_depth_core.checkpoint import atomic_write_bytes
from adu_depth_core.data import sequence
from adu_depth_core.data.synthetic import StereoSynthesizer, SynthConfig
from adu_depth_core.metrics import NoValidPixels, depth_metrics, valid_pixels
from adu_depth_core.runtime.estimator import DepthEstimator
from adu_depth_core.runtime.intrinsics import make_K
from adu_depth_core.scale import GroundPrior, GroundScaler, ScaleConfig, ScaleFilter, frame_scale

KITTI_CAMERA_HEIGHT_M = 1.65
MISSCALES = (1.0, 0.6, 1.5)
MAX_DEPTH_M = 80.0
# (c): no filter; the default (each accepted frame, outliers gated); smoothing over 9 frames
DRIVE_RUNS = {"per_frame": 1, "gated (default)": 1, "smoothed (window 9)": 9}


def abs_rel(pred: np.ndarray, gt: np.ndarray) -> float:
    return depth_metrics(pred, gt, 1e-3, MAX_DEPTH_M)["abs_rel"]


def oracle_scale(pred: np.ndarray, gt: np.ndarray) -> float:
    p, g, _ = valid_pixels(pred, gt, 1e-3, MAX_DEPTH_M)
    return float(np.median(g) / np.median(p))


def score(pred: np.ndarray, gt: np.ndarray, K: np.ndarray, prior: GroundPrior, rows: dict) -> None:
    """Append one frame's AbsRel without / with ground-plane scale / oracle, and the scale verdict."""
    est = frame_scale(pred, K, prior)
    s = est.scale if est.used else 1.0  # a frame without usable ground keeps the network's scale
    rows["none"].append(abs_rel(pred, gt))
    rows["ground"].append(abs_rel(pred * s, gt))
    ungated = est.scale if np.isfinite(est.scale) else 1.0  # every frame with a plane, confidence ignored
    rows["ground_ungated"].append(abs_rel(pred * ungated, gt))
    rows["oracle"].append(abs_rel(pred * oracle_scale(pred, gt), gt))
    rows["used"].append(est.used)
    rows["scale_err"].append(abs(np.log(s / oracle_scale(pred, gt))))


def summarise(rows: dict) -> dict:
    out = {k: float(np.mean(rows[k])) for k in ("none", "ground", "ground_ungated", "oracle")}
    out["used_share"] = float(np.mean(rows["used"]))
    out["median_abs_log_scale_error"] = float(np.median(rows["scale_err"]))
    out["ground_over_oracle"] = out["ground"] / out["oracle"]
    out["frames"] = len(rows["none"])
    return out


def streets(est: DepthEstimator, n: int, hw: tuple[int, int], seed: int) -> dict:
    """(a): random camera height (0.5-2.5 m) and horizontal FOV (40-100 deg) per street."""
    rng = np.random.default_rng(seed)
    base = StereoSynthesizer(SynthConfig(height=hw[0], width=hw[1]))
    rows = {
        m: {k: [] for k in ("none", "ground", "ground_ungated", "oracle", "used", "scale_err")}
        for m in MISSCALES
    }
    setup = []
    for i in range(n):
        height_m, fov_deg = rng.uniform(0.5, 2.5), rng.uniform(40.0, 100.0)
        fx = 0.5 * hw[1] / np.tan(np.deg2rad(fov_deg) / 2)
        K = make_K(fx, fx, (hw[1] - 1) / 2, (hw[0] - 1) / 2)
        view = sequence.view_at_height(base, 5_000_000 + 1000 * seed + i, height_m, K)
        pred = est.infer(view.rgb, K=K).depth_m  # a camera-aware student uses fx; others ignore it
        setup.append({"camera_height_m": round(height_m, 3), "hfov_deg": round(fov_deg, 1)})
        for m in MISSCALES:
            try:
                score(pred * m, view.depth_m, K, GroundPrior(height_m, view.up_normal), rows[m])
            except NoValidPixels:
                continue
    return {f"{m:g}x": summarise(rows[m]) for m in MISSCALES} | {"cameras": setup}


def kitti(est: DepthEstimator) -> dict | None:
    """(b): the shared KITTI frames (the project's kitti_object reader); None when they are not there."""
    from adu_depth_core.data.kitti_object import KittiObject

    if not KITTI_OBJECT_DIR.is_dir():
        return None
    rows = {k: [] for k in ("none", "ground", "ground_ungated", "oracle", "used", "scale_err")}
    per_frame = []
    for sample in KittiObject(KITTI_OBJECT_DIR):
        gt = np.where(sample.valid, sample.depth_m, np.nan)
        pred = est.infer(sample.left, K=sample.K).depth_m
        prior = GroundPrior(KITTI_CAMERA_HEIGHT_M)  # mounted level
        score(pred, gt, sample.K, prior, rows)
        frame = {k: (bool(v[-1]) if k == "used" else float(v[-1])) for k, v in rows.items()}
        verdict = frame_scale(pred, sample.K, prior)
        frame.update(id=sample.source_id, confidence=verdict.confidence, scale=verdict.scale)
        per_frame.append(frame | {"oracle_scale": oracle_scale(pred, gt)})
    return {"summary": summarise(rows), "frames": per_frame}


def _road_log_depth(depth: np.ndarray, gt: np.ndarray, ground_y: float, origin_y: float, K, rig) -> float:
    """Median log predicted depth over the pixels whose true surface is the road (bottom quarter)."""
    h = depth.shape[0]
    v = np.arange(h)[:, None]
    u = np.arange(depth.shape[1])[None, :]
    ray = np.stack([(u - K[0, 2]) / K[0, 0] + 0 * v, (v - K[1, 2]) / K[1, 1] + 0 * u, np.ones_like(gt)], -1)
    y_world = origin_y + (ray @ rig.T)[..., 1] * gt
    road = np.isfinite(gt) & (np.abs(y_world - ground_y) < 0.02) & (v >= 3 * h // 4)
    return float(np.median(np.log(depth[road])))


def drive(
    est: DepthEstimator, frames: int, hw: tuple[int, int], seed: int, step_m: float, height_m: float | None
) -> dict:
    """(c): per-frame vs filtered ground-plane scale along one street (camera at ``height_m`` or the scene's)."""
    synth = StereoSynthesizer(SynthConfig(height=hw[0], width=hw[1]))
    scene = synth.scene(seed)
    ground_y, rig = sequence.ground_height_m(scene), scene.rig_R.cpu().numpy().astype(np.float64)
    cam_h = ground_y if height_m is None else height_m
    runs = {
        name: GroundScaler(ScaleConfig("ground_plane", cam_h, window=w)) for name, w in DRIVE_RUNS.items()
    }
    runs["per_frame"].filter = ScaleFilter(1, gate=np.inf)  # no temporal filter at all
    keys = ("log_scale", "road_log_depth", "log_error", "abs_rel")
    logs = {k: {key: [] for key in keys} for k in ["none", *runs]}
    used = {k: 0 for k in runs}
    for view in sequence.drive(synth, seed, frames, step_m, height_m):
        pred = est.infer(view.rgb, K=view.K).depth_m
        valid = np.isfinite(view.depth_m) & (view.depth_m < MAX_DEPTH_M)
        for name in logs:
            s = 1.0
            if name in runs:
                state = runs[name].update(pred, view.K, prior=GroundPrior(cam_h, view.up_normal))
                s, used[name] = state.scale, used[name] + state.used
            logs[name]["log_scale"].append(np.log(s))
            logs[name]["road_log_depth"].append(
                _road_log_depth(pred * s, view.depth_m, ground_y, view.origin_m[1], view.K, rig)
            )
            logs[name]["log_error"].append(np.median(np.log(pred[valid] * s / view.depth_m[valid])))
            logs[name]["abs_rel"].append(abs_rel(pred * s, view.depth_m))
    out = {}
    for name, series in logs.items():
        out[name] = {
            "std_dlog_scale": float(np.std(np.diff(series["log_scale"]))),
            "std_dlog_road_depth": float(np.std(np.diff(series["road_log_depth"]))),
            "std_dlog_error": float(np.std(np.diff(series["log_error"]))),
            "mean_scale": float(np.exp(np.mean(series["log_scale"]))),
            "abs_rel": float(np.mean(series["abs_rel"])),
            "frames_used": used.get(name, 0),
        }
    return {"frames": frames, "step_m": step_m, "camera_height_m": cam_h, "runs": out}


def timing(est: DepthEstimator, sizes=((96, 320), (192, 640), (375, 1242)), repeats: int = 30) -> dict:
    """Median / max ms of one frame's ground-plane scale (frame_scale) on the student's depth at each size."""
    import time

    view = sequence.view_at_height(StereoSynthesizer(SynthConfig(height=96, width=320)), 3, 1.6)
    out = {}
    for h, w in sizes:
        pred = est.infer(view.rgb, output=(h, w)).depth_m
        K = est.output_intrinsics(view.K, (96, 320), (h, w))
        prior = GroundPrior(1.6, view.up_normal)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            frame_scale(pred, K, prior)
            times.append(1e3 * (time.perf_counter() - t0))
        out[f"{h}x{w}"] = {"median_ms": float(np.median(times)), "max_ms": float(np.max(times))}
    return out


def print_tables(results: dict) -> None:
    if "streets" in results:
        print("\n(a) synthetic streets, random camera height 0.5-2.5 m and HFOV 40-100 deg: AbsRel")
        print("| student | without | ground plane | oracle (median) | ground / oracle | frames used "
              "| ground, ungated |")  # fmt: skip
        print("|---|---|---|---|---|---|---|")
        for m in MISSCALES:
            r = results["streets"][f"{m:g}x"]
            print(f"| {m:g}x | {r['none']:.3f} | {r['ground']:.3f} | {r['oracle']:.3f} | "
                  f"{r['ground_over_oracle']:.3f} | {100 * r['used_share']:.0f}% | {r['ground_ungated']:.3f} |")  # fmt: skip
    if results.get("kitti"):
        r = results["kitti"]["summary"]
        print("\n(b) KITTI object frames (real, camera height 1.65 m): AbsRel")
        print("| frames | without | ground plane | oracle (median) | frames used | ground, ungated |")
        print("|---|---|---|---|---|---|")
        print(f"| {r['frames']} | {r['none']:.3f} | {r['ground']:.3f} | {r['oracle']:.3f} | "
              f"{100 * r['used_share']:.0f}% | {r['ground_ungated']:.3f} |")  # fmt: skip
        for f in results["kitti"]["frames"]:
            c, sc, o = f["confidence"], f["scale"], f["oracle_scale"]
            print(f"  {Path(f['id']).name}: confidence {c:.2f}, scale {sc:.3f} vs oracle {o:.3f}")
    elif "kitti" in results:
        print("\n(b) KITTI: skipped, no frames at " + str(KITTI_OBJECT_DIR))
    if "drive" in results:
        d = results["drive"]
        print(f"\n(c) driving sequence: {d['frames']} frames, {d['step_m']} m apart, "
              f"camera {d['camera_height_m']:.2f} m high")  # fmt: skip
        print("| scale | std of frame-to-frame d log-scale | std of d median log road depth "
              "| std of d median log error | AbsRel | frames used |")  # fmt: skip
        print("|---|---|---|---|---|---|")
        for name, r in d["runs"].items():
            print(f"| {name} | {r['std_dlog_scale']:.4f} | {r['std_dlog_road_depth']:.4f} | "
                  f"{r['std_dlog_error']:.4f} | {r['abs_rel']:.3f} | {r['frames_used']} |")  # fmt: skip
    if "timing" in results:
        print("\nground-plane scale per frame (frame_scale), one CPU thread:")
        print("| depth size | median ms | max ms |\n|---|---|---|")
        for size, r in results["timing"].items():
            print(f"| {size} | {r['median_ms']:.2f} | {r['max_ms']:.2f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", choices=("streets", "kitti", "drive"), action="append", help="run only these"
    )
    parser.add_argument("--n", type=int, default=60, help="(a) number of street frames")
    parser.add_argument("--frames", type=int, default=120, help="(c) frames of the driving sequence")
    parser.add_argument("--step-m", type=float, default=0.4, help="(c) camera advance per frame (m)")
    parser.add_argument(
        "--drive-height-m",
        type=float,
        default=None,
        help="(c) camera height (default: the scene's, 1.5-1.8 m)",
    )
    parser.add_argument("--size", default="96x320", help="render size HxW")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    hw = tuple(int(v) for v in args.size.lower().split("x"))
    est = DepthEstimator.from_file("default", "torch", "cpu", num_threads=args.threads)
    todo = args.only or ["streets", "kitti", "drive", "timing"]
    results: dict = {"model": est.describe(), "size": list(hw), "machine": platform.processor()}
    if "streets" in todo:
        results["streets"] = streets(est, args.n, hw, args.seed)
    if "kitti" in todo:
        results["kitti"] = kitti(est)
    if "drive" in todo:
        results["drive"] = drive(
            est, args.frames, hw, 8_000_000 + args.seed, args.step_m, args.drive_height_m
        )
    if "timing" in todo:
        results["timing"] = timing(est)
    print_tables(results)
    if args.json:
        text = json.dumps(results, indent=2)
        atomic_write_bytes(args.json, lambda f: f.write(text.encode("utf-8")))
        print(f"\nwrote {os.path.abspath(args.json)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
