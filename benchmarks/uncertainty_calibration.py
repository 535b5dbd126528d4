"""Is the predicted sigma the right size, and does the teacher's confidence weight spread?

    python benchmarks/uncertainty_calibration.py --teacher default --student default --n 24 \
        --json docs/results/uncertainty_calibration.json --plot docs/results/reliability.png

On held-out synthetic frames (street and room layouts, a random camera per frame, seeds far from
training) it reports per model: AUSE (AbsRel, RMSE; per image, averaged), the reliability bins of
sigma against the observed error (adu_depth_core/calibration.py) in log space (sigma / depth =
sqrt(2) b against |log d_hat - log d*|, exact under the Laplace model) and in metres (first order), and
for the teacher the distribution of the confidence the distillation uses (losses/uncertainty.py
``teacher_confidence``: ``c_T = exp(-b_T / T)`` normalised to mean 1 per image, at the network's
input size), raw and normalised, plus its spread at other temperatures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from real_frames import KITTI_OBJECT_DIR

from adu_depth_core.calibration import IDEAL_SHARE_WITHIN_SIGMA, SPACES, depth_errors, reliability
from adu_depth_core.config import LossConfig
from adu_depth_core.data.synthetic import SyntheticStereo
from adu_depth_core.losses import resize_confidence, teacher_confidence
from adu_depth_core.metrics import depth_metrics
from adu_depth_core.models import load_model
from adu_depth_core.models.loading import bundled_or_path
from adu_depth_core.runtime.intrinsics import network_focal_px
from adu_depth_core.runtime.preprocess import preprocess
from adu_depth_core.train.evaluate import predict
from adu_depth_core.train.report import save_reliability_figure
from adu_depth_core.uncertainty_metrics import uncertainty_metrics

PERCENTILES = (5, 25, 50, 75, 95)
TEMPERATURES = (1.0, 0.3, 0.1, 0.03, 0.01)
AFD_STRIDE = 16  # the coarsest feature stride c_T is pooled to


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", default="default", help="teacher checkpoint ('default' = bundled)")
    ap.add_argument("--student", default="default", help="student checkpoint ('default' = bundled)")
    ap.add_argument("--n", type=int, default=24, help="frames per layout")
    ap.add_argument("--seed", type=int, default=10_000_000, help="first scene seed (far from training)")
    ap.add_argument("--layouts", nargs="+", default=["street", "room"])
    ap.add_argument("--size", type=int, nargs=2, default=(192, 640), metavar=("H", "W"))
    ap.add_argument("--hfov", type=float, nargs=2, default=(40.0, 100.0), metavar=("LO", "HI"))
    ap.add_argument("--bins", type=int, default=12, help="quantile bins of sigma")
    ap.add_argument("--max-depth", type=float, default=80.0, help="evaluation depth cap (m)")
    ap.add_argument(
        "--real",
        action="store_true",
        help="also score the real frames (evaluation only, not plotted): Middlebury Motorcycle "
        "(scikit-image) and the shared KITTI object frames when ../shared/data/real/kitti_object exists",
    )
    ap.add_argument("--json", type=Path, default=None, help="write all numbers here")
    ap.add_argument("--plot", type=Path, default=None, help="write the reliability diagram here (PNG)")
    return ap.parse_args(argv)


@torch.no_grad()
def teacher_log_b(model, card, sample) -> tuple[torch.Tensor, torch.Tensor]:
    """The teacher's (log_b, depth_m) at its input size, as the distillation sees them (1 x 1 x h x w)."""
    h, w = card.input_height, card.input_width
    left = torch.from_numpy(preprocess(sample.left, h, w))
    right = torch.from_numpy(preprocess(sample.right, h, w))
    fb = network_focal_px(sample.K[0, 0], sample.left.shape[1], w) * sample.baseline_m
    out = model(left, right, fb)
    return out["log_b"].float(), out["depth"].float()


def spread(c: np.ndarray) -> dict[str, float]:
    """Percentiles, std, and the shares below 0.5 / 0.9 of a confidence sample."""
    pct = np.percentile(c, PERCENTILES)
    out = {f"p{p}": float(v) for p, v in zip(PERCENTILES, pct)}
    out.update(std=float(c.std()), below_0_5=float(np.mean(c < 0.5)), below_0_9=float(np.mean(c < 0.9)))
    out["max_over_min"] = float(c.max() / max(c.min(), 1e-30))
    return out


def confidence_report(log_bs: list[torch.Tensor], depths: list[torch.Tensor], temperature: float) -> dict:
    """Raw exp(-b), the normalised c_T at ``temperature`` (full size and pooled), b, and c_T at other T."""
    log_b = torch.cat([x.flatten() for x in log_bs]).numpy()
    b = np.exp(log_b)
    depth = torch.cat([x.flatten() for x in depths]).numpy()
    norm = [teacher_confidence(x, temperature) for x in log_bs]
    pooled = torch.cat([resize_confidence(c, AFD_STRIDE).flatten() for c in norm]).numpy()
    ranks = (np.argsort(np.argsort(b)), np.argsort(np.argsort(depth)))
    return {
        "temperature": temperature,
        "raw_exp_minus_b": spread(np.exp(-b / temperature)),
        "c_T": spread(torch.cat([c.flatten() for c in norm]).numpy()),
        f"c_T_stride{AFD_STRIDE}": spread(pooled),
        "b": {
            **{f"p{p}": float(v) for p, v in zip(PERCENTILES, np.percentile(b, PERCENTILES))},
            "std": float(b.std()),
        },
        "log_b_at_clamp": float(np.mean((log_b <= -5.999) | (log_b >= 2.999))),
        "spearman_b_depth": float(np.corrcoef(*ranks)[0, 1]),
        "c_T_std_at_temperature": {
            str(t): float(torch.cat([teacher_confidence(x, t).flatten() for x in log_bs]).std())
            for t in TEMPERATURES
        },
    }


def evaluate(models: dict, samples, args: argparse.Namespace, temperature: float) -> dict:
    """Per model: mean AUSE/AbsRel over images, reliability per space; the teacher's confidence spread."""
    rows = {name: {"images": [], **{s: ([], []) for s in SPACES}} for name in models}
    log_bs, depths = [], []
    rng = dict(min_depth=1e-3, max_depth=args.max_depth)
    for sample in samples:
        gt = np.where(sample.valid, sample.depth_m, np.nan) if sample.valid is not None else sample.depth_m
        for name, (model, card) in models.items():
            hw = (card.input_height, card.input_width)
            right = sample.right if card.arch == "teacher" else None
            if card.arch == "teacher" and right is None:
                continue  # a frame without its right view (KITTI object): the student only
            pred, sigma = predict(model, card, sample.left, right, hw, sample.K, sample.baseline_m)
            m = depth_metrics(pred, gt, **rng)
            m.update(uncertainty_metrics(pred, gt, sigma, **rng))
            rows[name]["images"].append({k: m[k] for k in ("abs_rel", "rmse", "ause_abs_rel", "ause_rmse")})
            for space in SPACES:
                e, s = depth_errors(pred, gt, sigma, space, **rng)
                rows[name][space][0].append(e)
                rows[name][space][1].append(s)
            if card.arch == "teacher":
                log_b, depth = teacher_log_b(model, card, sample)
                log_bs.append(log_b)
                depths.append(depth)
    out = {}
    for name, r in rows.items():
        if not r["images"]:
            continue
        out[name] = {k: float(np.mean([im[k] for im in r["images"]])) for k in r["images"][0]}
        for space in SPACES:
            out[name][space] = reliability(
                np.concatenate(r[space][0]), np.concatenate(r[space][1]), args.bins
            ).to_dict()
    if log_bs:
        out["confidence"] = confidence_report(log_bs, depths, temperature)
    return out


def real_results(models: dict, args: argparse.Namespace, temperature: float) -> dict:
    """The real frames as extra columns (never tuned on); KITTI skipped with a message when absent."""
    from adu_depth_core.data.kitti_object import KittiObject
    from adu_depth_core.data.middlebury import MiddleburyMotorcycle

    out = {"real: Middlebury Motorcycle": evaluate(models, [MiddleburyMotorcycle()[0]], args, temperature)}
    if KITTI_OBJECT_DIR.is_dir():
        kitti = KittiObject(KITTI_OBJECT_DIR)
        out["real: KITTI object (LiDAR)"] = evaluate(
            models, [kitti[i] for i in range(len(kitti))], args, temperature
        )
    else:
        print(f"skipping KITTI: {KITTI_OBJECT_DIR} is not there (the shared real frames)", file=sys.stderr)
    return out


def table(results: dict) -> str:
    """Markdown table: layout x model -> AUSE, calibration (log space), confidence spread (teacher)."""
    head = (
        "| frames | model | AbsRel | AUSE-AbsRel | AUSE-RMSE (m) | calib. error (log) | RMS err / RMS σ (log) "
        f"| share abs err < σ (ideal {IDEAL_SHARE_WITHIN_SIGMA:.3f}) | share in 95 % interval | calib. error (m) "
        "| c_T p5 / p50 / p95 | c_T std |"
    )
    lines = [head, "|" + "---|" * 12]
    for layout, res in results.items():
        conf = res.get("confidence", {}).get("c_T")
        for name in ("teacher", "student"):
            if name not in res:
                continue
            r, lg = res[name], res[name]["log"]
            c = "– | –"
            if name == "teacher" and conf:
                c = f"{conf['p5']:.3f} / {conf['p50']:.3f} / {conf['p95']:.3f} | {conf['std']:.4f}"
            lines.append(
                f"| {layout} | {name} | {r['abs_rel']:.3f} | {r['ause_abs_rel']:.4f} | {r['ause_rmse']:.3f} "
                f"| {lg['calibration_error']:.3f} | {lg['rms_ratio']:.2f} | {lg['share_within_sigma']:.3f} "
                f"| {lg['share_within_95']:.3f} | {r['metric']['calibration_error']:.3f} | {c} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_grad_enabled(False)
    models = {}
    for role, path in (("teacher", args.teacher), ("student", args.student)):
        model, card = load_model(bundled_or_path(path, role))
        models[role] = (model.eval(), card)
    temperature = LossConfig().conf_temperature
    results = {}
    for i, layout in enumerate(args.layouts):
        samples = SyntheticStereo(
            args.n, tuple(args.size), args.seed + i * args.n, layout, hfov_deg=tuple(args.hfov)
        )
        results[layout] = evaluate(models, (samples[j] for j in range(len(samples))), args, temperature)
        print(f"{layout}: {args.n} frames done", file=sys.stderr)
    if args.real:
        results.update(real_results(models, args, temperature))
    print(table(results))
    for layout, res in results.items():
        if "confidence" in res:
            print(f"{layout} teacher confidence:", json.dumps(res["confidence"], indent=1))
    if args.json:
        meta = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"config": meta, "results": results}, indent=1) + "\n")
    if args.plot:
        panels = {
            f"{layout}, {space} ({'sigma / depth' if space == 'log' else 'metres'})": {
                n: res[n][space] for n in ("teacher", "student")
            }
            for layout, res in results.items()
            if layout in args.layouts
            for space in SPACES
        }
        save_reliability_figure(args.plot, panels)
    return 0


if __name__ == "__main__":
    sys.exit(main())
