"""Command-line arguments shared by ``adu-depth infer``, ``bench``, ``export`` and the scale options of ``infer``, ``bag-run``, ``bag-eval`` and ``eval`` (argparse only, no heavy imports)."""

from __future__ import annotations

import argparse

BACKEND_CHOICES = ("auto", "torch", "onnxruntime", "tensorrt")
PRECISION_CHOICES = ("fp32", "fp16", "int8")


def parse_hw(text: str) -> tuple[int, int]:
    """'192x640' -> (192, 640)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH such as 192x640, got '{text}'") from None
    if h <= 0 or w <= 0:
        raise argparse.ArgumentTypeError(f"sizes must be positive, got '{text}'")
    return h, w


def positive_int(text: str) -> int:
    """An argparse type for counts and strides: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def max_threads() -> int:
    """The most CPU threads a command accepts: 4 per CPU here (more only oversubscribes, or hangs)."""
    import os

    return 4 * (os.cpu_count() or 1)


def thread_count(text: str) -> int:
    """An argparse type for --threads: 1 .. max_threads()."""
    value = positive_int(text)
    if value > max_threads():
        raise argparse.ArgumentTypeError(
            f"{value} threads is more than {max_threads()} (4 per CPU of this machine); use at most that"
        )
    return value


def add_max_pixels_argument(parser: argparse.ArgumentParser) -> None:
    """--max-input-pixels: refuse larger images (PNG/JPEG judged by their header, before decoding)."""
    from adu_depth_core.image_size import DEFAULT_MAX_INPUT_PIXELS

    parser.add_argument(
        "--max-input-pixels",
        type=int,
        default=DEFAULT_MAX_INPUT_PIXELS,
        help="skip images with more pixels than this (PNG/JPEG sizes read from the header, "
        f"before decoding); 0 = no limit (default {DEFAULT_MAX_INPUT_PIXELS})",
    )


def add_model_arguments(parser: argparse.ArgumentParser, model_default: str | None = "default") -> None:
    """--model, --backend, --device, --precision, --threads, --cache-dir."""
    parser.add_argument(
        "--model",
        default=model_default,
        required=model_default is None,
        help="checkpoint (.pt), ONNX (.onnx), TensorRT engine (.engine/.plan) or 'default' (the bundled student)",
    )
    parser.add_argument("--backend", default="auto", choices=BACKEND_CHOICES, help="inference backend")
    parser.add_argument(
        "--device", default=None, help="cpu, cuda or cuda:N (default: cpu; cuda:0 for TensorRT)"
    )
    parser.add_argument("--precision", default="fp32", choices=PRECISION_CHOICES, help="numeric precision")
    parser.add_argument(
        "--threads",
        type=thread_count,
        default=None,
        help="CPU threads for torch / ONNX Runtime (at most 4 per CPU)",
    )
    parser.add_argument("--cache-dir", default=None, help="where exported ONNX / built engines are cached")


def estimator_from_args(args: argparse.Namespace):
    """The DepthEstimator that ``add_model_arguments``' options describe (its description goes to stderr)."""
    import sys

    from adu_depth_core.runtime.estimator import DepthEstimator

    est = DepthEstimator.from_file(
        args.model,
        args.backend,
        args.device,
        args.precision,
        num_threads=args.threads,
        cache_dir=args.cache_dir,
    )
    print(f"model: {est.describe()}", file=sys.stderr)
    return est


def add_scale_arguments(parser: argparse.ArgumentParser) -> None:
    """--scale-mode, --camera-height-m, --camera-pitch-deg/--camera-roll-deg, --scale-window, --scale-min-confidence."""
    from adu_depth_core.scale.scaler import SCALE_MODES

    group = parser.add_argument_group("metric scale from the camera mounting (docs/ground_scale.md)")
    group.add_argument(
        "--scale-mode",
        default="none",
        choices=SCALE_MODES,
        help="'ground_plane': rescale depth and sigma so the ground lies camera-height below the camera",
    )
    group.add_argument(
        "--camera-height-m", type=float, default=1.65, help="camera height above the ground (m)"
    )
    group.add_argument("--camera-pitch-deg", type=float, default=0.0, help="camera pitch, > 0 looking down")
    group.add_argument("--camera-roll-deg", type=float, default=0.0, help="camera roll, > 0 right side down")
    group.add_argument(
        "--scale-window",
        type=positive_int,
        default=1,
        help="frames the applied scale averages (frames in order form one stream); 1 = each frame's own",
    )
    group.add_argument(
        "--scale-min-confidence",
        type=float,
        default=0.5,
        help="use a frame's scale only at this confidence (0-1)",
    )


def scale_config_from_args(args: argparse.Namespace):
    """The ScaleConfig that ``add_scale_arguments``' options describe (ValueError if inconsistent)."""
    from adu_depth_core.scale import ScaleConfig

    return ScaleConfig.from_settings(args)
