"""``adu-depth export``: checkpoint -> ONNX (+ fp16 ONNX, TensorRT engine), with a PyTorch parity check."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

COMMAND = "export"
HELP = "Export a checkpoint to ONNX (opset >= 17, model card in metadata) and check it against PyTorch"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", required=True, help="checkpoint (.pt) or 'default'; an .onnx with --tensorrt only"
    )
    parser.add_argument("--out", required=True, help="ONNX file to write")
    parser.add_argument("--height", type=int, default=None, help="network input height (default: the card's)")
    parser.add_argument("--width", type=int, default=None, help="network input width (default: the card's)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (>= 17)")
    parser.add_argument(
        "--dynamo", action="store_true", help="use the torch.export-based exporter (opset >= 18)"
    )
    parser.add_argument(
        "--fp16",
        action="store_true",
        help="also write an fp16 copy beside --out, its .onnx replaced by .fp16.onnx "
        "(student.onnx -> student.fp16.onnx; fp32 inputs/outputs)",
    )
    parser.add_argument(
        "--int8",
        action="store_true",
        help="also write <out>.int8.onnx (ONNX Runtime CPU int8, calibrated on synthetic frames)",
    )
    parser.add_argument("--int8-calib", type=int, default=16, help="synthetic calibration frames for --int8")
    parser.add_argument(
        "--max-int8-rel",
        type=float,
        default=0.05,
        help="fail if int8 depth differs from fp32 by more than this (mean relative difference)",
    )
    parser.add_argument(
        "--images", default=None, help="folder of images for the parity check (default: built-in photos)"
    )
    parser.add_argument(
        "--no-parity", action="store_true", help="skip the ONNX Runtime vs PyTorch comparison"
    )
    parser.add_argument(
        "--max-rel-diff", type=float, default=1e-3, help="fail if fp32 parity is worse than this"
    )
    trt = parser.add_argument_group("TensorRT (needs tensorrt + pycuda and a GPU)")
    trt.add_argument("--tensorrt", action="store_true", help="also build a TensorRT engine for this machine")
    trt.add_argument("--trt-precision", default="fp16", choices=("fp32", "fp16", "int8"))
    trt.add_argument("--calib-dir", default=None, help="images for int8 calibration")
    trt.add_argument("--engine", default=None, help="engine path (default: <out> with .engine)")
    trt.add_argument("--device", default="cuda:0")


def _print_parity(label: str, report) -> None:
    print(
        f"parity {label}: max relative difference depth {report.max_rel_depth:.3g}, sigma {report.max_rel_sigma:.3g} "
        f"(max abs depth {report.max_abs_depth_m:.3g} m) over {report.n_images} images"
    )


def _export(args: argparse.Namespace, model_path: Path, out: Path) -> int:
    from adu_depth_core import export as ex
    from adu_depth_core.models import load_model

    images = None
    if not args.no_parity:
        images = ex.load_images(args.images) if args.images else ex.default_parity_images()
    size = (args.height, args.width) if args.height and args.width else None
    path, report = ex.export_checkpoint(model_path, out, size, args.opset, args.dynamo, images)
    card = ex.read_onnx_card(path)
    print(
        f"wrote {path} (opset >= {args.opset}, input 1x3x{card.input_height}x{card.input_width}, model card in metadata)"
    )
    rc = 0
    if report is not None:
        _print_parity("fp32", report)
        if not report.max_rel <= args.max_rel_diff:
            print(
                f"error: parity {report.max_rel:.3g} exceeds --max-rel-diff {args.max_rel_diff}",
                file=sys.stderr,
            )
            rc = 1
    if args.fp16:
        half = ex.convert_onnx_fp16(path, out.with_suffix(".fp16.onnx"))
        print(f"wrote {half} (fp16 weights/activations, fp32 input/output)")
        if images is not None:
            _print_parity("fp16", ex.parity_check(load_model(model_path)[0], half, images))
    if args.int8:
        rc = max(rc, _export_int8(args, path, out, images))
    return rc


def _export_int8(args: argparse.Namespace, path: Path, out: Path, images) -> int:
    """int8 ONNX (ONNX Runtime CPU), checked against the fp32 file; 1 if it strays beyond --max-int8-rel."""
    from adu_depth_core import quantize as q

    int8 = q.quantize_onnx_int8(path, out.with_suffix(".int8.onnx"), n_calib=args.int8_calib)
    print(f"wrote {int8} (int8 QDQ, per-channel weights, calibrated on {args.int8_calib} synthetic frames)")
    if images is None:
        return 0
    report = q.accuracy_vs_fp32(path, int8, images)
    print(
        f"int8 vs fp32: AbsRel between them {report.absrel_vs_fp32:.3g}, "
        f"median relative depth difference {report.median_rel_depth:.3g} over {report.n_images} images"
    )
    if not report.absrel_vs_fp32 <= args.max_int8_rel:
        print(
            f"error: int8 differs from fp32 by {report.absrel_vs_fp32:.3g} (> --max-int8-rel)",
            file=sys.stderr,
        )
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    from adu_depth_core import export as ex
    from adu_depth_core.runtime.backends.base import BackendUnavailableError, ModelFileError
    from adu_depth_core.runtime.estimator import DEFAULT_CHECKPOINT

    model_path = DEFAULT_CHECKPOINT if args.model == "default" else Path(args.model)
    out = Path(args.out)
    try:
        if model_path.suffix.lower() == ".onnx":
            if not args.tensorrt:
                print(
                    "error: an .onnx model can only be turned into a TensorRT engine (--tensorrt)",
                    file=sys.stderr,
                )
                return 2
            onnx_path, rc = model_path, 0
        else:
            onnx_path, rc = out, _export(args, model_path, out)
        if args.tensorrt:
            engine = Path(args.engine) if args.engine else out.with_suffix(".engine")
            ex.build_tensorrt_engine(onnx_path, engine, args.trt_precision, args.calib_dir, args.device)
            print(f"wrote {engine} (+ .json sidecar: TensorRT version, GPU, precision, ONNX hash)")
    except (ModelFileError, BackendUnavailableError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return rc
