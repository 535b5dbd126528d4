"""``adu-depth infer``: depth, uncertainty, colour maps and point clouds for images, folders or videos."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

COMMAND = "infer"
HELP = "Run a depth model on an image, a folder of images or a video and write depth/sigma files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from adu_depth_core.runtime.cli_args import (
        add_max_pixels_argument,
        add_model_arguments,
        add_scale_arguments,
        positive_int,
    )

    add_model_arguments(parser)
    add_max_pixels_argument(parser)
    parser.add_argument("--input", required=True, help="an image, a folder of images, or a video file")
    parser.add_argument("--out", required=True, help="output folder (created)")
    cam = parser.add_argument_group(
        "intrinsics, in pixels of the input image: fx sets a camera-aware model's metric scale; the full K "
        "(or --fx alone, principal point at the centre) gives PLY point clouds"
    )
    for name in ("fx", "fy", "cx", "cy"):
        cam.add_argument(f"--{name}", type=float, default=None)
    cam.add_argument(
        "--calib", default=None, help="ROS camera_info YAML or {fx, fy, cx, cy[, width, height]} YAML"
    )
    parser.add_argument(
        "--network-size", action="store_true", help="write outputs at network size, not input size"
    )
    parser.add_argument(
        "--max-sigma", type=float, default=None, help="drop PLY points with sigma above this (m)"
    )
    parser.add_argument(
        "--depth-range",
        type=float,
        nargs=2,
        default=None,
        metavar=("MIN_M", "MAX_M"),
        help="fixed colour range for depth (default: 2nd-98th percentile of each image)",
    )
    parser.add_argument("--every", type=positive_int, default=1, help="video: use every N-th frame")
    parser.add_argument(
        "--max-frames", type=positive_int, default=None, help="video: stop after this many frames"
    )
    add_scale_arguments(parser)


def _intrinsics(args: argparse.Namespace):
    """(K, calib (h, w) or None) from --calib or --fx/--fy/--cx/--cy, or (None, None) without intrinsics.

    With --fx (and --fy) but no principal point, K is None here and built per image by ``_image_K``.
    """
    from adu_depth_core.runtime.files import load_calib
    from adu_depth_core.runtime.intrinsics import check_K, make_K

    given = [getattr(args, n) for n in ("fx", "fy", "cx", "cy")]
    if args.calib:
        return load_calib(Path(args.calib))
    if all(v is not None for v in given):
        return check_K(make_K(*given)), None
    if args.fx is None and any(v is not None for v in given):
        raise ValueError("give --fx (optionally with --fy, --cx, --cy), or --calib")
    if (args.cx is None) != (args.cy is None):
        raise ValueError("give both --cx and --cy, or neither (the image centre is used)")
    return None, None


def _image_K(args: argparse.Namespace, K, calib_hw, image_hw):
    """The intrinsics of one input image (None without any)."""
    from adu_depth_core.runtime.files import intrinsics_for
    from adu_depth_core.runtime.intrinsics import check_K, make_K

    if K is not None:
        return intrinsics_for(K, calib_hw, image_hw)
    if args.fx is None:
        return None
    h, w = image_hw
    cx, cy = (args.cx, args.cy) if args.cx is not None else ((w - 1) / 2.0, (h - 1) / 2.0)
    return check_K(make_K(args.fx, args.fy if args.fy is not None else args.fx, cx, cy))


def _frames(args: argparse.Namespace):
    """(iterator of (name, rgb or exception), total or None)."""
    from adu_depth_core.runtime.files import list_inputs, read_rgb, video_frame_count, video_frames

    kind, files = list_inputs(Path(args.input))
    if kind == "video":
        total = video_frame_count(files[0])
        total = None if total is None else -(-total // args.every)
        if args.max_frames is not None:
            total = args.max_frames if total is None else min(total, args.max_frames)
        return video_frames(files[0], args.every, args.max_frames, args.max_input_pixels), total

    def images():
        for f in files:
            try:
                yield f.stem, read_rgb(f, args.max_input_pixels)
            except ValueError as exc:
                yield f.stem, exc

    return images(), len(files)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from adu_depth_core.runtime.cli_args import estimator_from_args, scale_config_from_args
    from adu_depth_core.runtime.files import save_outputs
    from adu_depth_core.scale import GroundScaler, apply_scale

    try:
        K, calib_hw = _intrinsics(args)
        scale_cfg = scale_config_from_args(args)
        if scale_cfg.enabled and K is None and args.fx is None:
            raise ValueError("--scale-mode ground_plane needs intrinsics: --fx (--fy --cx --cy) or --calib")
        frames, total = _frames(args)
        est = estimator_from_args(args)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out, failed, done, total_ms = Path(args.out), [], 0, 0.0
    scaler, scales = (GroundScaler(scale_cfg) if scale_cfg.enabled else None), []
    output = "network" if args.network_size else "input"
    for name, rgb in tqdm(frames, total=total, desc="infer", unit="img"):
        if isinstance(rgb, Exception):
            failed.append(f"{name}: {rgb}")
            continue
        K_img = _image_K(args, K, calib_hw, rgb.shape[:2])
        res = est.infer(rgb, output=output, K=K_img)
        k_out = None if K_img is None else est.output_intrinsics(K_img, rgb.shape[:2], output)
        if scaler is not None:
            state = scaler.update(res.depth_m, k_out)
            res.depth_m, res.sigma_m = apply_scale(res.depth_m, res.sigma_m, state.scale)
            scales.append({"name": name, **state.as_notes()})
        colour = rgb if not args.network_size else _resize_rgb(rgb, res.depth_m.shape)
        save_outputs(out, name, res.depth_m, res.sigma_m, colour, k_out, args.depth_range, args.max_sigma)
        done, total_ms = done + 1, total_ms + res.timings_ms["total"]
    est.close()
    print(f"wrote {done} results to {out}" + (f" ({total_ms / done:.1f} ms per image)" if done else ""))
    if scales:
        _write_scales(out / "scales.csv", scales)
    for line in failed:
        print(f"failed: {line}", file=sys.stderr)
    return 1 if failed or not done else 0


def _resize_rgb(rgb, hw):
    from adu_depth_core.runtime.preprocess import resize_image

    return resize_image(rgb, *hw)


def _write_scales(path: Path, rows: list[dict]) -> None:
    """Per-frame applied scale, confidence, used and reason as CSV, and a one-line summary."""
    import csv

    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    used = sum(r["scale_used"] == "true" for r in rows)
    print(
        f"ground-plane scale: last {rows[-1]['scale_applied']}, {used} of {len(rows)} frames used -> {path}"
    )
