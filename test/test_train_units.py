"""Training building blocks: resumable data order, per-sample seeding, config overrides, LR schedule,
checkpoint rotation, and the generic trainer's exact resume on a toy task (in-process, fast)."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from adu_depth_core.checkpoint import CheckpointError, ModelCard, save_checkpoint
from adu_depth_core.train.checkpoints import load_training_checkpoint, save_training_checkpoint
from adu_depth_core.train.config import (
    DataConfig,
    OptimConfig,
    RunConfig,
    TrainConfig,
    apply_overrides,
    load_train_config,
)
from adu_depth_core.train.optim import lr_factor
from adu_depth_core.train.sampling import ResumableBatchSampler, SeededDataset


def _take(it, n):
    return [next(it) for _ in range(n)]


def test_sampler_shards_are_disjoint_and_cover_the_epoch():
    n, bs, world = 23, 3, 2
    per_rank = [ResumableBatchSampler(n, bs, seed=5, rank=r, world_size=world) for r in range(world)]
    bpe = per_rank[0].batches_per_epoch
    assert bpe == (n // world) // bs
    epoch0 = [[i for b in _take(iter(s), bpe) for (_, i) in b] for s in per_rank]
    assert not set(epoch0[0]) & set(epoch0[1])
    assert len(set(epoch0[0]) | set(epoch0[1])) == world * bpe * bs
    # The next epoch is a different permutation.
    it = iter(per_rank[0])
    e0, e1 = _take(it, bpe), _take(it, bpe)
    assert {e for b in e1 for (e, _) in b} == {1}
    assert [i for b in e0 for (_, i) in b] != [i for b in e1 for (_, i) in b]


def test_sampler_started_at_batch_k_continues_the_same_stream():
    full = _take(iter(ResumableBatchSampler(17, 4, seed=1, rank=1, world_size=2)), 9)
    resumed = _take(iter(ResumableBatchSampler(17, 4, seed=1, rank=1, world_size=2, start_batch=5)), 4)
    assert resumed == full[5:]


def test_sampler_rejects_a_dataset_too_small_for_one_batch():
    with pytest.raises(ValueError, match="too few"):
        ResumableBatchSampler(5, 4, world_size=2)


class _RandomItems(torch.utils.data.Dataset):
    """Items drawn from the global RNGs, like an augmenting dataset."""

    def __len__(self):
        return 10

    def __getitem__(self, i):
        return (torch.rand(2), np.random.rand(), random.random())


def test_seeded_dataset_is_deterministic_per_epoch_and_index_and_restores_global_rng():
    ds = SeededDataset(_RandomItems(), seed=3)
    torch.manual_seed(0)
    state = torch.get_rng_state()
    a = ds[(1, 4)]
    assert torch.equal(torch.get_rng_state(), state)  # the caller's stream is untouched
    torch.manual_seed(123)
    np.random.seed(9)
    b = ds[(1, 4)]
    assert torch.equal(a[0], b[0]) and a[1] == b[1] and a[2] == b[2]
    c = ds[(2, 4)]
    assert not torch.equal(a[0], c[0])


def test_overrides_and_strict_keys(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("task: teacher\ndata: {height: 64, width: 128}\ntrain: {steps: 7}\n")
    cfg = load_train_config(path, ["train.steps=100", "optim.betas=[0.8, 0.9]", "data.kwargs.n=5"])
    assert cfg.task == "teacher" and cfg.train.steps == 100 and cfg.data.height == 64
    assert cfg.optim.betas == (0.8, 0.9) and cfg.data.kwargs == {"n": 5}
    again = TrainConfig.from_dict(cfg.to_dict())
    assert again == cfg
    with pytest.raises(ValueError, match="trian"):
        load_train_config(path, ["trian.steps=1"])
    with pytest.raises(ValueError, match="multiple of 32"):
        load_train_config(path, ["data.height=50"])
    with pytest.raises(ValueError, match="section.key=value"):
        apply_overrides({}, ["train.steps"])


def test_lr_warmup_then_cosine():
    total, warm, lo = 110, 10, 0.1
    assert lr_factor("cosine", 0, total, warm, lo) == pytest.approx(0.1)
    assert lr_factor("cosine", 9, total, warm, lo) == pytest.approx(1.0)
    for step in (10, 35, 60, 109):
        t = (step - warm) / (total - warm)
        expected = lo + (1 - lo) * 0.5 * (1 + math.cos(math.pi * t))
        assert lr_factor("cosine", step, total, warm, lo) == pytest.approx(expected)
    with pytest.raises(KeyError, match="cosine"):
        lr_factor("cosin", 20, total, warm, lo)


def test_checkpoint_rotation_keeps_the_newest_and_last(tmp_path):
    for step in (10, 20, 30, 40):
        save_training_checkpoint(
            tmp_path,
            step,
            model_state={"w": torch.tensor([float(step)])},
            card=ModelCard(),
            keep=2,
            task={},
            optimizer={},
            scheduler={},
        )
    assert sorted(p.name for p in tmp_path.glob("step_*.pt")) == ["step_0000030.pt", "step_0000040.pt"]
    last = load_training_checkpoint(tmp_path / "last.pt")
    assert last["step"] == 40 and last["model"]["w"].item() == 40.0
    save_checkpoint(tmp_path / "slim.pt", {"w": torch.zeros(1)}, ModelCard())
    with pytest.raises(CheckpointError, match="model-only"):
        load_training_checkpoint(tmp_path / "slim.pt")


class _ToyData(torch.utils.data.Dataset):
    def __len__(self):
        return 24

    def __getitem__(self, i):
        x = torch.rand(3, 8, 8)  # drawn from the (seeded) global RNG, like augmentation
        return {"left": x, "depth": x.mean(0, keepdim=True) * 10 + 1}


class _ToyTask(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Conv2d(4, 1, 3, padding=1),
        )

    def forward(self, batch):
        depth = nn.functional.softplus(self.model(batch["left"])) + 0.1
        l1 = (depth - batch["depth"]).abs().mean()
        return {"loss": l1, "l1": l1.detach(), "output": {"depth": depth, "log_b": torch.zeros_like(depth)}}


def _toy_fit(run_dir, steps, resume=None):
    from adu_depth_core.train.trainer import Trainer

    cfg = TrainConfig(
        task="teacher",
        data=DataConfig(batch_size=4, workers=0, height=32, width=32),
        optim=OptimConfig(lr=1e-2, warmup_steps=2),
        train=RunConfig(steps=steps, run_dir=str(run_dir), ckpt_every=3, log_every=2, image_every=0, seed=4),
    )
    torch.manual_seed(0)
    trainer = Trainer(_ToyTask(), _ToyData(), cfg, shipped="model", make_card=lambda m: ModelCard(metrics=m))
    return torch.load(trainer.fit(resume), weights_only=True)["model"]


def test_generic_trainer_resumes_bitwise_on_a_toy_task(tmp_path):
    full = _toy_fit(tmp_path / "full", 8)
    step3 = torch.load(tmp_path / "full" / "checkpoints" / "step_0000003.pt", weights_only=True)
    assert any(not torch.equal(step3["model"][k], full[k]) for k in full)  # steps 4..8 moved the weights
    resumed = _toy_fit(tmp_path / "again", 8, resume=tmp_path / "full" / "checkpoints" / "step_0000003.pt")
    for k in full:
        assert torch.equal(full[k], resumed[k]), k


def test_trainer_writes_tensorboard_scalars_and_images(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from adu_depth_core.train.trainer import Trainer

    cfg = TrainConfig(
        task="teacher",
        data=DataConfig(batch_size=4, workers=0, height=32, width=32),
        train=RunConfig(steps=4, run_dir=str(tmp_path), ckpt_every=10, log_every=2, image_every=2),
    )
    Trainer(_ToyTask(), _ToyData(), cfg, shipped="model", make_card=lambda m: ModelCard(metrics=m)).fit()
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    tags = events.Tags()
    assert {"train/loss", "train/l1", "train/lr", "train/grad_norm"} <= set(tags["scalars"])
    assert [e.step for e in events.Scalars("train/loss")] == [2, 4]
    assert tags["images"] == ["train/image_depth_sigma_gt"]
    saved = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert saved["train"]["steps"] == 4 and TrainConfig.from_dict(saved) == cfg


@pytest.mark.parametrize(
    "path", sorted(Path(__file__).parents[1].glob("config/train/*.yaml")), ids=lambda p: p.name
)
def test_shipped_training_configs_parse(path):
    if path.name.startswith("ablation"):
        from adu_depth_core.train.ablation import load_ablation_config, row_config

        cfg = load_ablation_config(path)
        assert row_config(cfg, "6", 0, "t.pt").loss.use_uncertainty_guidance
        assert not row_config(cfg, "1", 0, "t.pt").loss.response_distill
    else:
        cfg = load_train_config(path)
        assert cfg.task in ("teacher", "distill") and "size" not in cfg.data.kwargs
