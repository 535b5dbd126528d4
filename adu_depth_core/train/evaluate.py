"""Evaluate a student or teacher on samples: Eigen + KITTI benchmark metrics, AUSE/AURG, report files.

The model sees what the runtime feeds it: the image resized to the card's input
size (``runtime.preprocess``), and its depth/sigma resized back to the ground
truth's resolution (``runtime.postprocess``); metrics are computed there, per image,
then averaged over images (Eigen-split convention).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from adu_depth_core.checkpoint import ModelCard
from adu_depth_core.config import to_dict
from adu_depth_core.metrics import NoValidPixels, depth_metrics, valid_pixels
from adu_depth_core.runtime.intrinsics import canonical_depth_scale, network_focal_px
from adu_depth_core.runtime.preprocess import parse_network_size, postprocess, preprocess
from adu_depth_core.scale import GroundScaler, ScaleConfig, apply_scale
from adu_depth_core.train import report
from adu_depth_core.uncertainty_metrics import (
    CURVE_METRICS,
    oracle_curve,
    sparsification_curve,
    uncertainty_metrics,
)

CURVE_STEPS = 50


@dataclass
class EvalOptions:
    """How to evaluate: crop, depth range (metres), network input size, optional median scaling."""

    crop: str | None = None  # "garg", "eigen" or None
    min_depth_m: float = 1e-3
    max_depth_m: float = 80.0
    input_hw: tuple[int, int] | None = None  # None: the card's input size
    median_scaling: bool = False  # per-image scale alignment (for cross-camera scale ambiguity)
    max_images: int | None = None
    figures: int = 4  # per-image figures written by write_report
    scale: ScaleConfig = field(default_factory=ScaleConfig)  # ground-plane metric scale (samples' K)


@dataclass
class EvalResult:
    """Mean/std over images, per-image rows, mean sparsification curves, and a few samples to draw."""

    mean: dict[str, float]
    std: dict[str, float]
    per_image: list[dict]
    curves: dict[str, dict[str, np.ndarray]]
    skipped: int = 0
    examples: list[dict] = field(default_factory=list)


@torch.no_grad()
def predict(
    model: nn.Module,
    card: ModelCard,
    left: np.ndarray,
    right: np.ndarray | None,
    input_hw: tuple[int, int],
    K: np.ndarray | None = None,
    baseline_m: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One H x W x 3 uint8 image (and its right view for a teacher) -> (depth_m, sigma_m) at H x W.

    ``K`` is the image's intrinsics: a teacher needs it (with ``baseline_m``) to turn disparity into
    depth; a canonical-camera student uses its fx for the metric scale (without K: the canonical camera).
    """
    device = next(model.parameters()).device
    h, w = input_hw
    x = torch.from_numpy(preprocess(left, h, w)).to(device)
    fx = None if K is None else network_focal_px(K[0, 0], left.shape[1], w)
    if card.arch == "teacher":
        if right is None:
            raise ValueError("the teacher needs stereo pairs: this dataset has no right images")
        if fx is None or not baseline_m or baseline_m <= 0:
            raise ValueError("the teacher needs the pair's intrinsics K and a positive baseline_m")
        out = model(x, torch.from_numpy(preprocess(right, h, w)).to(device), fx * float(baseline_m))
        scale = 1.0
    else:
        out = model(x)
        scale = canonical_depth_scale(card.canonical_focal_px, fx)
    depth = out["depth"].float() * scale
    sigma = math.sqrt(2.0) * torch.exp(out["log_b"].float()) * depth
    return postprocess(depth.cpu().numpy(), sigma.cpu().numpy(), left.shape[:2])


def _median_scale(pred: np.ndarray, gt: np.ndarray, opts: EvalOptions) -> float:
    p, g, _ = valid_pixels(pred, gt, opts.min_depth_m, opts.max_depth_m, opts.crop)
    return float(np.median(g) / np.median(p))


def image_metrics(
    pred: np.ndarray, sigma: np.ndarray, gt: np.ndarray, opts: EvalOptions
) -> tuple[dict[str, float], dict[str, dict[str, np.ndarray]]]:
    """Depth + uncertainty metrics of one image, and its sparsification/oracle curves."""
    rng = dict(min_depth=opts.min_depth_m, max_depth=opts.max_depth_m, crop=opts.crop)
    m = depth_metrics(pred, gt, **rng)
    m.update(uncertainty_metrics(pred, gt, sigma, steps=CURVE_STEPS, **rng))
    p, g, mask = valid_pixels(pred, gt, **rng)
    u = np.asarray(sigma, np.float64)[mask]
    curves = {
        k: {
            "by_uncertainty": sparsification_curve(p, g, u, k, CURVE_STEPS),
            "by_error": oracle_curve(p, g, k, CURVE_STEPS),
        }
        for k in CURVE_METRICS
    }
    return m, curves


@torch.no_grad()
def evaluate_model(
    model: nn.Module, card: ModelCard, samples: Iterable, opts: EvalOptions, progress: bool = True
) -> EvalResult:
    """Run ``model`` over ``samples`` (StereoSample-like: left, right, depth_m, source_id) and score it."""
    from tqdm import tqdm

    model.eval()
    input_hw = tuple(opts.input_hw or (card.input_height, card.input_width))
    rows, curve_sums, examples, skipped = [], {}, [], 0
    scaler = GroundScaler(opts.scale) if opts.scale.enabled else None
    for i, s in enumerate(tqdm(samples, desc="eval", disable=not progress, total=opts.max_images)):
        if opts.max_images is not None and i >= opts.max_images:
            break
        if s.depth_m is None:
            skipped += 1
            continue
        pred, sigma = predict(model, card, s.left, s.right, input_hw, s.K, getattr(s, "baseline_m", None))
        ground = {}
        if scaler is not None:
            state = scaler.update(pred, s.K)
            pred, sigma = apply_scale(pred, sigma, state.scale)
            ground = {"ground_scale": state.scale, "ground_used": state.used}
        gt = np.where(s.valid, s.depth_m, np.nan) if s.valid is not None else s.depth_m
        try:
            scale = _median_scale(pred, gt, opts) if opts.median_scaling else 1.0
            m, curves = image_metrics(pred * scale, sigma * scale, gt, opts)
        except NoValidPixels:
            skipped += 1
            continue
        rows.append({"index": i, "source_id": s.source_id, "scale": scale, **ground, **m})
        for k, c in curves.items():
            acc = curve_sums.setdefault(k, {n: np.zeros(CURVE_STEPS) for n in c})
            for n, v in c.items():
                acc[n] += v
        if len(examples) < opts.figures:
            examples.append(
                {"id": s.source_id, "image": s.left, "gt": gt, "pred": pred * scale, "sigma": sigma * scale}
            )
    if not rows:
        raise NoValidPixels("no evaluable image: every sample lacked ground truth in the depth range/crop")
    info_keys = ("index", "source_id", "scale", "ground_scale", "ground_used")
    metric_rows = [{k: v for k, v in r.items() if k not in info_keys} for r in rows]
    mean, std = report.mean_std(metric_rows)
    curves = {k: {n: v / len(rows) for n, v in c.items()} for k, c in curve_sums.items()}
    for c in curves.values():
        c["fractions"] = np.arange(CURVE_STEPS) / CURVE_STEPS
        c["random"] = np.full(CURVE_STEPS, c["by_uncertainty"][0])
    return EvalResult(mean, std, rows, curves, skipped, examples)


def write_report(result: EvalResult, out_dir: str | Path, title: str, meta: dict) -> Path:
    """Write per_image.csv, metrics.json, summary.md, sparsification.png and figures/*.png; returns summary.md."""
    out = Path(out_dir)
    report.write_csv(out / "per_image.csv", result.per_image)
    payload = {
        "mean": result.mean,
        "std_over_images": result.std,
        "images": len(result.per_image),
        "skipped": result.skipped,
        **meta,
    }
    report.write_text(out / "metrics.json", json.dumps(payload, indent=2, default=str))
    if result.curves:
        report.save_sparsification_figure(out / "sparsification.png", result.curves)
    figs = []
    for j, ex in enumerate(result.examples):
        name = f"figures/{j:03d}.png"
        report.save_sample_figure(
            out / name, ex["image"], ex["gt"], ex["pred"], ex["sigma"], title=str(ex["id"])
        )
        figs.append(name)
    lines = [f"# {title}", ""]
    lines += [f"- {k}: `{v}`" for k, v in meta.items()]
    lines += [
        f"- images: {len(result.per_image)} (skipped {result.skipped})",
        "",
        "## Eigen-split metrics",
        "",
    ]
    lines.append(report.markdown_table([("mean ± std over images", result.mean, result.std)], report.COLUMNS))
    lines += ["", "## KITTI benchmark metrics and AURG", ""]
    lines.append(report.markdown_table([("mean", result.mean, None)], report.EXTRA_COLUMNS))
    lines += ["", "Per-image values: `per_image.csv`. Sparsification curves: `sparsification.png`.", ""]
    lines += [f"![{f}]({f})" for f in figs]
    return report.write_text(out / "summary.md", "\n".join(lines) + "\n")


def parse_kv(items: list[str]) -> dict:
    """``["a=1", "b=[2, 3]"]`` -> {"a": 1, "b": [2, 3]} (values parsed as YAML)."""
    import yaml

    out = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"'{item}' must look like key=value")
        out[key.strip()] = yaml.safe_load(raw)
    return out


def run_eval_cli(args) -> int:
    """Body of ``adu-depth eval``."""
    from adu_depth_core.data import build_reader
    from adu_depth_core.models import load_model
    from adu_depth_core.train.distributed import torch_device_for

    model, card = load_model(args.model)
    model.to(torch_device_for(args.device))
    reader = build_reader(args.dataset, **parse_kv(args.data_kwargs))
    n = len(reader) if args.max_images is None else min(args.max_images, len(reader))
    from adu_depth_core.runtime.cli_args import scale_config_from_args

    opts = EvalOptions(
        scale=scale_config_from_args(args),
        crop=None if args.crop == "none" else args.crop,
        min_depth_m=args.min_depth if args.min_depth is not None else card.min_depth_m,
        max_depth_m=args.max_depth if args.max_depth is not None else card.max_depth_m,
        input_hw=parse_network_size(args.input_size) if args.input_size else None,
        median_scaling=args.median_scaling,
        max_images=n,
        figures=args.figures,
    )
    result = evaluate_model(model, card, (reader[i] for i in range(n)), opts)
    meta = {
        "model": args.model,
        "arch": card.arch,
        "dataset": args.dataset,
        "data": parse_kv(args.data_kwargs),
        **to_dict(opts),
    }
    summary = write_report(result, args.out, f"{card.arch} {args.model} on {args.dataset}", meta)
    print(report.markdown_table([(card.arch, result.mean, None)], report.COLUMNS), end="")
    print(f"report: {summary}")
    return 0
