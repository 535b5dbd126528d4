"""Typed training configuration, resolved once and saved with the run and in every checkpoint.

YAML layout (every section optional; unknown keys are errors)::

    task: distill            # "teacher" (stage 1), "distill" (stage 2) or "adapt" (teacher, no labels)
    teacher_checkpoint: runs/teacher/model.pt   # distill: the frozen teacher (or --teacher)
    init_checkpoint: default # fine-tune: start from these weights (or --init); default = bundled
    data:  {dataset: synthetic, kwargs: {...}, height: 192, width: 640, batch_size: 8, workers: 2}
    val:   {dataset: synthetic, kwargs: {...}, num_images: 16, every: 500, crop: null}
    student: ModelConfig     # the network that ships (task distill)
    teacher: ModelConfig     # trained in stage 1, frozen in stage 2
    loss:  LossConfig
    adapt: AdaptConfig       # task adapt: self-supervised loss weights
    optim: {name: adamw, lr: 2e-4, weight_decay: 1e-2, schedule: cosine, warmup_steps: 100, ...}
    train: {steps: 20000, amp: true, grad_clip: 1.0, seed: 0, log_every: 20, ckpt_every: 1000, ...}

``--set section.key=value`` overrides any key (the value is parsed as YAML).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from adu_depth_core.config import LossConfig, ModelConfig, from_dict, save_yaml, to_dict

TASKS = ("teacher", "distill", "adapt")  # adapt: the teacher on unlabeled pairs (adapt-teacher)


@dataclass
class DataConfig:
    """Training data: a dataset from the data registry, the crop size fed to the network, batching."""

    dataset: str = "synthetic"
    kwargs: dict[str, Any] = field(default_factory=dict)  # passed to build_dataset(name, **kwargs)
    height: int = 192  # network input, pixels (multiples of 32)
    width: int = 640
    batch_size: int = 8  # per rank
    workers: int = 2
    # the input size written into the model card (what the runtime resizes images to); None = height x width.
    # Differs from the training crop when training on crops of larger images (KITTI: crops 352x704, card 352x1216)
    card_size: tuple[int, int] | None = None


@dataclass
class ValConfig:
    """Held-out evaluation during training (rank 0); ``every: 0`` switches it off."""

    dataset: str = "synthetic"
    kwargs: dict[str, Any] = field(default_factory=dict)
    num_images: int = 16
    every: int = 0
    crop: str | None = None  # "garg", "eigen" or None


@dataclass
class AdaptConfig:
    """Self-supervised adaptation of the teacher (``adu-depth adapt-teacher``): loss weights and switches."""

    w_photo: float = 1.0  # photometric reconstruction, both views (0.85 SSIM + 0.15 L1)
    ssim_weight: float = 0.85
    w_lr: float = 1.0  # left-right consistency (stereo hflip trick for the right view)
    w_smooth: float = 1e-3  # edge-aware smoothness of mean-normalised disparity
    w_anchor: float = 0.1  # forgetting guard: agreement with the frozen original on its confident pixels
    anchor_min_confidence: float = 0.9  # the original's exp(-b) at or above which its pixel anchors
    w_sgbm: float = 0.0  # optional sparse pseudo-labels: OpenCV SGBM matches passing its left-right check
    sgbm_block: int = 5
    # BatchNorm layers keep the original's statistics (eval mode): a few small batches of one domain would
    # otherwise replace them within a few steps
    freeze_bn: bool = True

    def __post_init__(self) -> None:
        for name in ("w_photo", "w_lr", "w_smooth", "w_anchor", "w_sgbm"):
            if getattr(self, name) < 0:
                raise ValueError(f"adapt.{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.ssim_weight <= 1.0 or not 0.0 < self.anchor_min_confidence <= 1.0:
            raise ValueError("adapt.ssim_weight must be in [0, 1] and adapt.anchor_min_confidence in (0, 1]")


@dataclass
class OptimConfig:
    """Optimiser and learning-rate schedule (names from ``train.optim`` registries)."""

    name: str = "adamw"
    lr: float = 2e-4
    weight_decay: float = 1e-2
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: str = "cosine"  # constant | cosine | linear | step
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05


@dataclass
class RunConfig:
    """Loop length, numerics, seeding, logging and checkpoint cadence, output folder."""

    steps: int = 20000
    # > 0: a time box. After PLAN_AFTER_STEPS steps the run measures its speed and shortens `steps` so that
    # it ends after about this many minutes of this process (the LR schedule follows the new length, and
    # config.yaml records it); 0 = run all `steps`
    max_minutes: float = 0.0
    amp: bool = True  # fp16 autocast + GradScaler; only on CUDA (ignored on CPU)
    cpu_bf16: bool = False  # bf16 autocast on CPU (AMX/AVX-512 BF16 CPUs: ~1.7x faster steps)
    channels_last: bool = False  # channels-last memory format for the task and its image tensors
    grad_clip: float = 1.0  # max global grad norm; 0 = off
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    log_every: int = 20
    image_every: int = 500  # TensorBoard depth/uncertainty images; 0 = off
    ckpt_every: int = 1000
    keep_checkpoints: int = 3  # step_*.pt kept besides last.pt
    run_dir: str = "runs/default"
    threads: int = 0  # torch.set_num_threads per rank; 0 = leave as is
    find_unused_parameters: bool = True  # DDP: some rows of the ablation leave modules unused
    save_rank_weights: bool = False  # each rank writes rank<r>_final.pt (DDP consistency checks)


@dataclass
class TrainConfig:
    """Everything a training run needs; ``to_dict`` is what the run folder and checkpoints store."""

    task: str = "distill"
    teacher_checkpoint: str | None = None  # stage-1 checkpoint (distill); --teacher sets it
    # fine-tuning: the trained network (student for distill, teacher for task teacher) starts from this
    # checkpoint's weights ("default" = the bundled one); its card must describe the configured network
    init_checkpoint: str | None = None
    data: DataConfig = field(default_factory=DataConfig)
    val: ValConfig = field(default_factory=ValConfig)
    student: ModelConfig = field(default_factory=ModelConfig)
    teacher: ModelConfig = field(default_factory=lambda: ModelConfig(arch="teacher"))
    loss: LossConfig = field(default_factory=LossConfig)
    adapt: AdaptConfig = field(default_factory=AdaptConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: RunConfig = field(default_factory=RunConfig)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got '{self.task}'")
        if self.init_checkpoint and self.task == "adapt":
            raise ValueError("init_checkpoint is for teacher/distill; adapt starts from teacher_checkpoint")
        sizes = {"data.height": self.data.height, "data.width": self.data.width}
        if self.data.card_size is not None:
            sizes.update(
                {"data.card_size[0]": self.data.card_size[0], "data.card_size[1]": self.data.card_size[1]}
            )
        for name, v in sizes.items():
            if v <= 0 or v % 32:
                raise ValueError(f"{name} must be a positive multiple of 32, got {v}")

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        return from_dict(cls, d)


def apply_overrides(d: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` strings (value parsed as YAML) to a nested dict, in place."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"override '{item}' must look like section.key=value (e.g. train.steps=100)")
        node = d
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"override '{item}': '{p}' is not a section")
        node[parts[-1]] = yaml.safe_load(raw)
    return d


def load_train_config(
    path: str | Path | None, overrides: list[str] | None = None, **defaults: Any
) -> TrainConfig:
    """Read a YAML file (or start from defaults), apply ``--set`` overrides, validate into a TrainConfig."""
    d: dict[str, Any] = dict(defaults)
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path} (see config/train/*.yaml for examples)")
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(
                f"{path}: a training config must be a mapping of sections, got {type(loaded).__name__}"
            )
        d.update(loaded)
    apply_overrides(d, list(overrides or []))
    return TrainConfig.from_dict(d)


def save_train_config(cfg: TrainConfig, path: str | Path) -> Path:
    """Write the resolved config as YAML (atomically)."""
    return save_yaml(cfg, path)
