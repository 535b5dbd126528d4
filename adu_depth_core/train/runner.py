"""Wire a TrainConfig to the library: data, task (teacher or distillation), card, validation, Trainer.

``train(cfg)`` is what ``adu-depth train-teacher`` / ``adu-depth distill`` and the
ablation call; it works the same under ``torchrun``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from adu_depth_core.checkpoint import CheckpointError, ModelCard, load_checkpoint, read_card
from adu_depth_core.config import ModelConfig
from adu_depth_core.train import distributed as D
from adu_depth_core.train.config import DataConfig, TrainConfig, ValConfig, load_train_config


@dataclass
class TaskParts:
    """A built task and how the trainer should treat it."""

    task: nn.Module
    shipped: str  # attribute of the network that ships
    model_cfg: ModelConfig
    exclude_prefixes: tuple[str, ...] = ()
    card: ModelCard | None = None  # the starting checkpoint's card (adapt: the card is kept, not rebuilt)


def build_train_dataset(dc: DataConfig):
    """StereoDataset at the network size; ``data.kwargs`` may hold ``augment`` and ``skip_bad`` too."""
    from adu_depth_core.data import build_dataset

    if "size" in dc.kwargs:
        raise ValueError(
            "data.kwargs.size is not a reader option here: the network size data.height x data.width is "
            "passed to the reader (the synthetic one renders at it); remove data.kwargs.size"
        )
    return build_dataset(dc.dataset, size=(dc.height, dc.width), **dc.kwargs)


def build_task(cfg: TrainConfig) -> TaskParts:
    """TeacherTask (stage 1) or DistillationTask with the frozen teacher from ``teacher_checkpoint``."""
    from adu_depth_core.distill import TEACHER_PREFIX, DistillationTask, FrozenTeacher, TeacherTask

    if cfg.task == "teacher":
        teacher = init_weights(cfg.teacher.build(), cfg, cfg.teacher)
        return TaskParts(TeacherTask(teacher, cfg.loss), "teacher", cfg.teacher)
    if not cfg.teacher_checkpoint:
        raise ValueError(
            f"task {cfg.task} needs a trained teacher: pass --teacher CKPT (or set teacher_checkpoint)"
        )
    if cfg.task == "adapt":
        return _adapt_task(cfg)
    teacher = FrozenTeacher.from_checkpoint(cfg.teacher_checkpoint)
    student = init_weights(cfg.student.build(), cfg, cfg.student)
    task = DistillationTask(student, teacher, cfg.loss, cfg.student.canonical_focal_px)
    return TaskParts(task, "student", cfg.student, (TEACHER_PREFIX,))


def init_weights(model: nn.Module, cfg: TrainConfig, mc: ModelConfig) -> nn.Module:
    """``model`` with ``cfg.init_checkpoint``'s weights (fine-tuning), or as built when none is set.

    The checkpoint's card must describe the configured network (architecture, encoder, kwargs and, for
    a student, its canonical focal length, which fixes the meaning of its output): else CheckpointError.
    """
    if not cfg.init_checkpoint:
        return model
    from adu_depth_core.models.loading import bundled_or_path, load_state_into

    role = "teacher" if cfg.task == "teacher" else "student"
    path = bundled_or_path(cfg.init_checkpoint, role)
    payload = load_checkpoint(path)
    card, want = read_card(payload), model_card(mc, cfg, {})
    fields = ("arch", "encoder", "model_kwargs", "canonical_focal_px")
    differ = [
        f"{f}: {getattr(card, f)!r} vs configured {getattr(want, f)!r}"
        for f in fields
        if getattr(card, f) != getattr(want, f)
    ]
    if differ:
        raise CheckpointError(
            f"init_checkpoint {path} is not the configured {role}: "
            + "; ".join(differ)
            + f". Set the config's {role} section to the checkpoint's network (adu-depth info {path} shows it)"
        )
    load_state_into(model, payload["model"], str(path))
    return model


def _adapt_task(cfg: TrainConfig) -> TaskParts:
    """AdaptTeacherTask: a trainable copy of the checkpoint's teacher and the frozen original."""
    from adu_depth_core.adapt import ORIGINAL_PREFIX, AdaptTeacherTask
    from adu_depth_core.distill import FrozenTeacher
    from adu_depth_core.models import load_model
    from adu_depth_core.models.loading import teacher_checkpoint

    original = FrozenTeacher.from_checkpoint(cfg.teacher_checkpoint)
    teacher, card = load_model(teacher_checkpoint(cfg.teacher_checkpoint))
    teacher.requires_grad_(True)
    task = AdaptTeacherTask(teacher, original, cfg.adapt)
    return TaskParts(task, "teacher", cfg.teacher, (ORIGINAL_PREFIX,), card)


def adapted_card(card: ModelCard, cfg: TrainConfig, metrics: dict[str, float]) -> ModelCard:
    """The starting teacher's card with this run's input size (data.card_size, else the crop), metrics,
    config and a note of the adaptation."""
    from dataclasses import replace

    height, width = cfg.data.card_size or (cfg.data.height, cfg.data.width)
    return replace(
        card,
        input_height=int(height),
        input_width=int(width),
        metrics=dict(metrics),
        train_config=cfg.to_dict(),
        notes=f"adapted by adu-depth adapt-teacher (self-supervised) on {cfg.data.dataset} "
        f"from {cfg.teacher_checkpoint}",
    )


def model_card(mc: ModelConfig, cfg: TrainConfig, metrics: dict[str, float]) -> ModelCard:
    """The self-description of the trained network (input size: data.card_size, else the training crop)."""
    height, width = cfg.data.card_size or (cfg.data.height, cfg.data.width)
    return ModelCard(
        arch=mc.arch,
        encoder=mc.encoder,
        model_kwargs=mc.model_kwargs(),
        input_height=int(height),
        input_width=int(width),
        min_depth_m=mc.min_depth,
        max_depth_m=mc.max_depth,
        canonical_focal_px=mc.canonical_focal_px,
        metrics=dict(metrics),
        train_config=cfg.to_dict(),
        notes=f"trained by adu-depth {'train-teacher' if cfg.task == 'teacher' else 'distill'} on {cfg.data.dataset}",
    )


def make_validator(vc: ValConfig, cfg: TrainConfig, mc: ModelConfig):
    """``validate(model) -> mean metrics`` over the first ``num_images`` held-out samples (cached)."""
    from adu_depth_core.data import build_reader
    from adu_depth_core.train.evaluate import EvalOptions, evaluate_model

    reader = build_reader(vc.dataset, output_size=(cfg.data.height, cfg.data.width), **vc.kwargs)
    samples = [reader[i] for i in range(min(vc.num_images, len(reader)))]
    opts = EvalOptions(crop=vc.crop, min_depth_m=mc.min_depth, max_depth_m=mc.max_depth, figures=0)
    card = model_card(mc, cfg, {})

    def validate(model: nn.Module) -> dict[str, float]:
        return evaluate_model(model, card, samples, opts, progress=False).mean

    return validate


def train(cfg: TrainConfig, resume: str | None = None, info: D.DistInfo | None = None) -> Path:
    """Build everything from ``cfg`` and train; returns ``<run_dir>/model.pt``."""
    from adu_depth_core.train.checkpoints import find_resume_checkpoint
    from adu_depth_core.train.trainer import Trainer

    info = info or D.init_distributed(cfg.train.device)
    if cfg.train.threads > 0:
        import torch

        torch.set_num_threads(cfg.train.threads)
    D.seed_everything(cfg.train.seed)  # same initial weights on every rank
    parts = build_task(cfg)
    validate = make_validator(cfg.val, cfg, parts.model_cfg) if cfg.val.every > 0 and info.is_main else None
    trainer = Trainer(
        parts.task,
        build_train_dataset(cfg.data),
        cfg,
        shipped=parts.shipped,
        make_card=lambda m: (
            adapted_card(parts.card, cfg, m) if parts.card else model_card(parts.model_cfg, cfg, m)
        ),
        exclude_prefixes=parts.exclude_prefixes,
        validate=validate,
        info=info,
    )
    path = find_resume_checkpoint(resume, Path(cfg.train.run_dir)) if resume else None
    return trainer.fit(path)


def config_from_args(args: argparse.Namespace, task: str) -> TrainConfig:
    """--config + --set + --run-dir (+ --teacher); with only --resume CKPT, the checkpoint's own config."""
    overrides = list(args.overrides)
    if getattr(args, "run_dir", None):
        overrides.append(f"train.run_dir={args.run_dir}")
    if getattr(args, "teacher", None):
        overrides.append(f"teacher_checkpoint={args.teacher}")
    if getattr(args, "init", None):
        overrides.append(f"init_checkpoint={args.init}")
    overrides.append(f"task={task}")
    if args.config is None and args.resume not in (None, "auto"):
        saved = load_checkpoint(args.resume).get("config")
        if not saved:
            raise CheckpointError(f"{args.resume} carries no config; pass --config")
        return load_train_config(None, overrides, **saved)
    if args.config is None:
        raise ValueError("give --config YAML (see config/train/), or --resume CKPT to continue a run")
    return load_train_config(args.config, overrides)


def run_training_cli(args: argparse.Namespace, task: str) -> int:
    """Body of the train-teacher / distill subcommands."""
    cfg = config_from_args(args, task)
    info = D.init_distributed(cfg.train.device)
    try:
        path = train(cfg, resume=args.resume, info=info)
    finally:
        D.shutdown_distributed()
    if info.is_main:
        print(
            f"model: {path}\nrun folder: {cfg.train.run_dir} (TensorBoard: tensorboard --logdir {path.parent / 'tb'})"
        )
    sys.stdout.flush()
    return 0
