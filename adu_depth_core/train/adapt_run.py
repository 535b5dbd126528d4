"""The ``adapt-teacher`` run: its default config, the CLI flags on top, and the pre-flight pair checks."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from adu_depth_core.train.config import TrainConfig, load_train_config

DEFAULT_STEPS = 2000
MAX_DEFAULT_WIDTH = 640  # the default crop: the images' size rounded to 32, scaled down to at most this wide


def default_adapt_config(data_dir: str, teacher: str, run_dir: str) -> dict[str, Any]:
    """The adapt-teacher defaults for a folder dataset (``--config`` / ``--set`` change any of them)."""
    return {
        "task": "adapt",
        "teacher_checkpoint": teacher,
        "data": {
            "dataset": "folder",
            # no flip: the task already sees both views (the stereo hflip trick); small zoom-and-crop
            "kwargs": {"root": data_dir, "augment": {"flip_prob": 0.0, "scale_range": [1.0, 1.25]}},
            "batch_size": 2,
            "workers": 1,
        },
        "val": {"every": 0},
        "optim": {"lr": 1.0e-4, "warmup_steps": 50, "schedule": "cosine"},
        "train": {
            "steps": DEFAULT_STEPS,
            "log_every": 10,
            "image_every": 200,
            "ckpt_every": 100,
            "keep_checkpoints": 2,
            "run_dir": run_dir,
        },
    }


def default_size(data_dir: str) -> tuple[int, int]:
    """The first pair's size rounded to multiples of 32, scaled down to at most MAX_DEFAULT_WIDTH wide."""
    from adu_depth_core.data.folder import FolderStereo
    from adu_depth_core.stereo import network_size

    h, w = FolderStereo(data_dir)[0].left.shape[:2]
    scale = min(1.0, MAX_DEFAULT_WIDTH / w)
    return network_size((h * scale, w * scale))


def parse_size(text: str) -> tuple[int, int]:
    """``HxW`` -> (H, W)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must look like 256x512 (HxW, multiples of 32), got '{text}'") from None
    return h, w


def adapt_config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Defaults (or --config YAML, or a --resume checkpoint's own config) + flags + --set overrides."""
    from adu_depth_core.checkpoint import CheckpointError, load_checkpoint

    overrides = ["task=adapt"]
    if args.resume not in (None, "auto") and args.config is None and not args.data:
        saved = load_checkpoint(args.resume).get("config")
        if not saved:
            raise CheckpointError(f"{args.resume} carries no config; pass --data and --out again")
        return load_train_config(None, overrides + list(args.overrides), **saved)
    if args.resume == "auto" and args.out and not args.data and args.config is None:
        last = Path(args.out) / "checkpoints" / "last.pt"
        if last.is_file():
            return load_train_config(
                None, overrides + list(args.overrides), **load_checkpoint(last)["config"]
            )
    if not args.out:
        raise ValueError("give --out DIR (the run folder)")
    if args.config is None and not args.data:
        raise ValueError("give --data DIR (a folder dataset of rectified stereo pairs) or --config YAML")
    base = {} if args.config else default_adapt_config(args.data, args.teacher, args.out)
    overrides += [f"train.run_dir={args.out}", f"teacher_checkpoint={args.teacher}"]
    if args.data and args.config:
        overrides += ["data.dataset=folder", f"data.kwargs.root={args.data}"]
    if args.steps is not None:
        overrides.append(f"train.steps={args.steps}")
    if args.device:
        overrides.append(f"train.device={args.device}")
    if args.size:
        h, w = parse_size(args.size)
        overrides += [f"data.height={h}", f"data.width={w}"]
    elif args.data and not args.config:
        h, w = default_size(args.data)
        overrides += [f"data.height={h}", f"data.width={w}"]
    return load_train_config(args.config, overrides + list(args.overrides), **base)


def preflight(cfg: TrainConfig, rectification: bool = True, max_pairs: int = 8) -> dict:
    """Check the configured dataset's pairs (right image, sizes, baseline, rectification) before training."""
    from adu_depth_core.data import build_reader
    from adu_depth_core.pair_checks import check_pairs

    kwargs = {k: v for k, v in cfg.data.kwargs.items() if k not in ("augment", "skip_bad")}
    return check_pairs(build_reader(cfg.data.dataset, **kwargs), max_pairs, rectification)
