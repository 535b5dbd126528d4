"""Rebuild a model from a self-describing checkpoint (card -> create function -> state dict)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from adu_depth_core.bundled import DEFAULT_STUDENT, DEFAULT_TEACHER
from adu_depth_core.checkpoint import CheckpointError, ModelCard, load_checkpoint, read_card
from adu_depth_core.registry import Registry

ARCHS: Registry = Registry("architecture")


def bundled_or_path(path: str | os.PathLike, role: str) -> Path:
    """A checkpoint path; ``"default"`` is the bundled ``role`` ("teacher" or "student") network."""
    if str(path) != "default":
        return Path(path)
    bundled = {"teacher": DEFAULT_TEACHER, "student": DEFAULT_STUDENT}[role]
    if not bundled.is_file():
        raise CheckpointError(
            f"the bundled {role} is not installed ({bundled} is missing); pass a checkpoint path "
            "or reinstall adu-depth with its assets"
        )
    return bundled


def teacher_checkpoint(path: str | os.PathLike) -> Path:
    """A teacher checkpoint path; ``"default"`` is the bundled stereo teacher."""
    return bundled_or_path(path, "teacher")


@ARCHS.register("student")
def _student(**kwargs: Any) -> nn.Module:
    from adu_depth_core.models.student import create_student

    return create_student(**kwargs)


@ARCHS.register("teacher")
def _teacher(**kwargs: Any) -> nn.Module:
    from adu_depth_core.models.teacher import create_teacher

    return create_teacher(**kwargs)


def _as_fp32(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """fp16/bf16 tensors -> fp32; strip a DDP ``module.`` prefix."""
    out = {}
    for key, value in state.items():
        key = key[len("module.") :] if key.startswith("module.") else key
        out[key] = value.float() if torch.is_tensor(value) and value.is_floating_point() else value
    return out


def load_state_into(model: nn.Module, state: dict[str, torch.Tensor], source: str = "state dict") -> None:
    """Strictly load ``state`` (any float dtype) into ``model``; a mismatch raises CheckpointError."""
    try:
        missing, unexpected = model.load_state_dict(_as_fp32(state), strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise CheckpointError(f"{source} does not fit the model its card describes: {exc}") from exc
    if missing or unexpected:
        raise CheckpointError(
            f"{source} does not fit the model its card describes: {len(missing)} missing keys "
            f"(e.g. {missing[:3]}), {len(unexpected)} unexpected keys (e.g. {unexpected[:3]}); "
            "the card's arch/encoder/model_kwargs must match the weights"
        )


def build_from_card(card: ModelCard) -> nn.Module:
    """Instantiate the architecture a card names, without downloading or loading pretrained weights."""
    kwargs = dict(card.model_kwargs)
    kwargs.setdefault("encoder", card.encoder)
    kwargs["pretrained"] = False
    kwargs.pop("encoder_weights", None)
    try:
        return ARCHS.get(card.arch)(**kwargs)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"cannot build '{card.arch}' from the card's model_kwargs {kwargs}: {exc}"
        ) from exc


def load_model(path: str | os.PathLike, map_location: str = "cpu") -> tuple[nn.Module, ModelCard]:
    """Load a checkpoint -> ``(model.eval(), card)``; fp16 weights load into the fp32 model."""
    payload = load_checkpoint(path, map_location=map_location)
    card = read_card(payload)
    model = build_from_card(card)
    load_state_into(model, payload["model"], source=f"checkpoint {path}")
    return model.eval(), card
