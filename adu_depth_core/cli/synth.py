"""``adu-depth synth``: render synthetic stereo frames into the folder-stereo format."""

from __future__ import annotations

import argparse
import sys

COMMAND = "synth"
HELP = "Render synthetic stereo street (or room, or workshop) scenes with exact depth into a folder-stereo directory."


def parse_size(text: str) -> tuple[int, int]:
    """'192x640' -> (192, 640)."""
    try:
        h, w = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be HxW like 192x640, got {text!r}") from None
    if h < 8 or w < 8:
        raise argparse.ArgumentTypeError(f"size must be at least 8x8, got {text!r}")
    return h, w


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output directory (left/, right/, depth/, calib.yaml)")
    parser.add_argument("--n", type=int, required=True, help="number of frames")
    parser.add_argument(
        "--size", type=parse_size, default=(192, 640), help="HxW render size (default 192x640)"
    )
    parser.add_argument("--seed", type=int, default=0, help="frame i is rendered from seed + i (default 0)")
    parser.add_argument(
        "--layout",
        default="street",
        help="scene layout: street (default), room or workshop (close-range clutter)",
    )
    parser.add_argument("--lidar", action="store_true", help="also write 64-beam LiDAR-like depth to lidar/")
    ranges = {
        "--hfov": "random camera per frame: horizontal field of view drawn from LO..HI degrees (per-frame "
        "K in calib/<stem>.yaml); default KITTI's camera scaled to --size",
        "--camera-height": "camera height above the road or floor drawn from LO..HI metres per frame "
        "(default: the layout's own range, street 1.0-2.2, room 1.1-1.7, workshop 0.3-1.6)",
    }
    for flag, text in ranges.items():
        parser.add_argument(flag, type=float, nargs=2, metavar=("LO", "HI"), default=None, help=text)
    parser.add_argument("--device", default="cpu", help="torch device for rendering (cpu, cuda, ...)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="keep frames already written, render the rest")
    mode.add_argument("--overwrite", action="store_true", help="re-render frames that already exist")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from adu_depth_core.data.folder import CALIB_FILE, read_calib
    from adu_depth_core.data.sample import DataError
    from adu_depth_core.data.synthetic import StereoSynthesizer, SynthConfig, render_to_folder

    if args.n < 1:
        print("error: --n must be at least 1", file=sys.stderr)
        return 2
    out = Path(args.out)
    h, w = args.size
    hfov = None if args.hfov is None else (float(args.hfov[0]), float(args.hfov[1]))
    cam_h = (
        None if args.camera_height is None else (float(args.camera_height[0]), float(args.camera_height[1]))
    )
    try:
        config = SynthConfig(
            height=h, width=w, layout=args.layout, lidar=args.lidar, hfov_deg=hfov, camera_height_m=cam_h
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        synth = StereoSynthesizer(config, args.device)
    except KeyError as exc:  # an unknown --layout: the registry names the known ones
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    meta = {"generator": {"layout": args.layout, "seed": args.seed, "lidar": bool(args.lidar)}}
    if hfov is not None:
        meta["generator"]["hfov_deg"] = list(hfov)
    if cam_h is not None:
        meta["generator"]["camera_height_m"] = list(cam_h)
    if (out / CALIB_FILE).exists() and not args.overwrite:
        if not args.resume:
            print(
                f"error: {out} already holds a dataset; pass --resume to complete it or --overwrite",
                file=sys.stderr,
            )
            return 2
        try:
            K, baseline_m, calib = read_calib(out)
        except DataError as exc:
            print(f"error: cannot resume: {exc}", file=sys.stderr)
            return 2
        if calib.get("generator") != meta["generator"] or (calib.get("height"), calib.get("width")) != (h, w):
            print(
                f"error: cannot resume {out}: it was made with {calib.get('generator')} at "
                f"{calib.get('height')}x{calib.get('width')}, not {meta['generator']} at {h}x{w}",
                file=sys.stderr,
            )
            return 2
    done = render_to_folder(synth, out, args.seed, args.n, resume=args.resume, **meta)
    print(f"wrote {done} frame(s) to {out} ({args.n - done} kept)")
    return 0
