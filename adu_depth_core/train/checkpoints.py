"""Training checkpoints: the shipped model + its card, plus everything needed to resume exactly.

Layout of a run folder::

    <run_dir>/config.yaml            resolved config
    <run_dir>/checkpoints/last.pt    newest (atomic), resumable
    <run_dir>/checkpoints/step_<n>.pt  the newest ``keep`` of them
    <run_dir>/model.pt               final slim checkpoint (card + shipped weights only)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from torch import nn

from adu_depth_core.checkpoint import CheckpointError, ModelCard, load_checkpoint, save_checkpoint

STEP_RE = re.compile(r"step_(\d+)\.pt$")


def split_state(task: nn.Module, shipped_prefix: str, exclude_prefixes: tuple[str, ...]) -> tuple[dict, dict]:
    """Task state -> (shipped model state, the rest minus excluded prefixes such as a frozen teacher)."""
    model, rest = {}, {}
    for k, v in task.state_dict().items():
        if shipped_prefix and k.startswith(shipped_prefix):
            model[k[len(shipped_prefix) :]] = v
        elif not shipped_prefix:
            model[k] = v
        elif not k.startswith(exclude_prefixes):
            rest[k] = v
    return model, rest


def merge_state(model_state: dict, rest: dict, shipped_prefix: str) -> dict:
    """Inverse of :func:`split_state` (excluded parts are absent)."""
    return {**{shipped_prefix + k: v for k, v in model_state.items()}, **rest}


def save_training_checkpoint(
    ckpt_dir: Path, step: int, *, model_state: dict, card: ModelCard, keep: int, **extra: Any
) -> Path:
    """Write ``step_<n>.pt`` then ``last.pt`` (both atomic) and prune old step files."""
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(ckpt_dir)
    path = ckpt_dir / f"step_{step:07d}.pt"
    save_checkpoint(path, model_state, card, step=step, **extra)
    save_checkpoint(ckpt_dir / "last.pt", model_state, card, step=step, **extra)
    for old in step_checkpoints(ckpt_dir)[max(keep, 1) :]:
        old.unlink(missing_ok=True)
    return path


def remove_stale_temps(ckpt_dir: Path) -> list[Path]:
    """Delete ``.<name>.pt.*.tmp`` files a killed checkpoint write left behind; the removed paths.

    Only one process writes a run's checkpoints, so any such file seen before a write is a leftover.
    """
    stale = [p for p in ckpt_dir.glob(".*.pt.*.tmp") if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def step_checkpoints(ckpt_dir: Path) -> list[Path]:
    """The ``step_<n>.pt`` files of a checkpoint folder, newest step first."""
    found = [(int(m.group(1)), p) for p in ckpt_dir.glob("step_*.pt") if (m := STEP_RE.search(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def find_resume_checkpoint(resume: str, run_dir: Path) -> Path:
    """``--resume auto`` -> ``<run_dir>/checkpoints/last.pt``; else the given path."""
    path = run_dir / "checkpoints" / "last.pt" if resume == "auto" else Path(resume)
    if path.parent.is_dir():
        remove_stale_temps(path.parent)
    if not path.is_file():
        steps = step_checkpoints(path.parent) if path.parent.is_dir() else []
        hint = (
            f"; the folder has {', '.join(p.name for p in steps)}: resume from the newest with --resume {steps[0]}"
            if steps
            else " (a run writes checkpoints/last.pt every train.ckpt_every steps)"
        )
        raise CheckpointError(f"cannot resume: {path} does not exist{hint}")
    return path


def load_training_checkpoint(path: Path) -> dict[str, Any]:
    """Load a resumable checkpoint; a slim model.pt (no optimiser state) is refused with a clear message."""
    try:
        payload = load_checkpoint(path)
    except CheckpointError as exc:
        steps = [p for p in step_checkpoints(Path(path).parent) if p != Path(path)]
        if not steps:
            raise
        raise CheckpointError(
            f"{exc}; the newest step checkpoint there is {steps[0]} (--resume {steps[0]})"
        ) from exc
    missing = [k for k in ("step", "optimizer", "scheduler", "task") if k not in payload]
    if missing:
        raise CheckpointError(
            f"{path} has no training state ({', '.join(missing)} missing): it is a model-only checkpoint; "
            "resume from <run_dir>/checkpoints/last.pt or step_*.pt"
        )
    return payload
