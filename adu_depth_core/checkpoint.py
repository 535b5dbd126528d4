"""Self-describing checkpoints: the model card travels with the weights.

A checkpoint is a ``torch.save``'d dict of plain types (loadable with
``weights_only=True``)::

    {"format": "adu-depth-checkpoint/1",
     "card": ModelCard as a dict,      # what export and the node need
     "model": state_dict,              # fp32 or fp16 tensors
     ...extra}                         # optimizer, step, rng, config, ...

Writes are atomic (temporary file + fsync + rename), so a crash mid-write never
leaves a half checkpoint where the last good one was.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "adu-depth-checkpoint/1"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
UNCERTAINTY_SEMANTICS = (
    "log_b is the log of the Laplace scale b of log-depth; "
    "sigma_m = sqrt(2) * exp(log_b) * depth_m is the first-order standard deviation of depth in metres"
)


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable or not an adu-depth checkpoint."""


@dataclass
class ModelCard:
    """Everything needed to rebuild, run and interpret a model without training flags."""

    arch: str = "student"  # "student" or "teacher"
    encoder: str = "efficientnet_lite0"
    model_kwargs: dict[str, Any] = field(default_factory=dict)  # create_student/create_teacher kwargs
    input_height: int = 192  # network input size, pixels (multiples of 32)
    input_width: int = 640
    mean: tuple[float, float, float] = IMAGENET_MEAN  # RGB in [0, 1], then (x - mean) / std
    std: tuple[float, float, float] = IMAGENET_STD
    min_depth_m: float = 1e-3  # the metric depth range the model is meant for
    max_depth_m: float = 80.0
    # student camera model: metric depth = network depth * fx_input / canonical_focal_px, fx_input being the
    # camera's fx after resizing to the network input; None = camera-unaware (network depth is metric)
    canonical_focal_px: float | None = None
    camera_model: str = "pinhole"
    uncertainty: str = UNCERTAINTY_SEMANTICS
    metrics: dict[str, float] = field(default_factory=dict)
    train_config: dict[str, Any] = field(default_factory=dict)
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelCard:
        known = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        for k in ("mean", "std"):
            if k in kw:
                kw[k] = tuple(float(x) for x in kw[k])
        return cls(**kw)


def _umask() -> int:
    """The process umask, read without changing it (os.umask would, racing other threads)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def atomic_write_bytes(path: str | os.PathLike, writer) -> Path:
    """Call ``writer(file_object)`` on a temporary file, fsync, then rename onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        with os.fdopen(fd, "wb") as f:
            writer(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_checkpoint(path: str | os.PathLike, model_state: dict, card: ModelCard, **extra: Any) -> Path:
    """Atomically write a checkpoint with its model card and any extra training state."""
    import torch

    payload = {"format": FORMAT, "card": card.to_dict(), "model": model_state, **extra}
    return atomic_write_bytes(path, lambda f: torch.save(payload, f))


def load_checkpoint(path: str | os.PathLike, map_location: str = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``); clear errors for missing or corrupt files."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path} (give a .pt written by adu-depth train/distill)")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for truncated/corrupt zips
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated ({type(exc).__name__}: {exc}); "
            "re-copy it or use the previous checkpoint in the run folder"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or "model" not in payload:
        raise CheckpointError(
            f"{path} is not an adu-depth checkpoint (expected format '{FORMAT}' with 'card' and 'model')"
        )
    return payload


def read_card(payload: dict[str, Any]) -> ModelCard:
    return ModelCard.from_dict(payload.get("card", {}))
