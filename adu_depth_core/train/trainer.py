"""A generic training loop over a task module.

The task's ``forward(batch)`` returns ``{"loss": scalar, <term>: scalar, ..., "output": model dict}``;
the loop knows nothing of depth or distillation. It gives: AMP on CUDA, gradient
clipping, a warm-up + schedule LR, per-rank seeding, a tqdm bar, TensorBoard logs,
atomic checkpoints and an exact ``--resume`` (weights, optimiser, scheduler,
scaler, every rank's RNG state, data position), and DDP when launched by torchrun.
Frozen parts of the task (a teacher) are excluded from checkpoints by prefix and
must not be registered DDP parameters (the task keeps them outside, see ``distill.py``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from adu_depth_core.checkpoint import CheckpointError, ModelCard, save_checkpoint
from adu_depth_core.train import distributed as D
from adu_depth_core.train.checkpoints import (
    load_training_checkpoint,
    merge_state,
    save_training_checkpoint,
    split_state,
)
from adu_depth_core.train.config import TrainConfig, save_train_config
from adu_depth_core.train.logs import TensorBoardLog, TermAverager
from adu_depth_core.train.optim import build_optimizer, build_scheduler
from adu_depth_core.train.sampling import ResumableBatchSampler, SeededDataset

MAX_BAD_STEPS = 20  # consecutive non-finite gradient steps before giving up
PLAN_SKIP_STEPS, PLAN_AFTER_STEPS = 5, 25  # a time box times steps 6..25 of a process (warm-up excluded)


def to_device(batch: dict, device: torch.device, channels_last: bool = False) -> dict:
    """Move the tensors of a batch dict to ``device`` (others untouched); 4-D ones channels-last if asked."""
    nb = device.type == "cuda"
    fmt = torch.channels_last if channels_last else torch.preserve_format
    return {
        k: v.to(device, non_blocking=nb, memory_format=fmt if v.dim() == 4 else torch.preserve_format)
        if torch.is_tensor(v)
        else v
        for k, v in batch.items()
    }


class Trainer:
    """Trains ``task`` on ``dataset`` as ``cfg`` says; ``fit()`` returns the final model checkpoint path.

    shipped: attribute path of the network that ships inside the task (e.g. ``"student"``);
    its weights and ``make_card(metrics)`` form the model part of each checkpoint.
    exclude_prefixes: task state keys never saved (frozen parts loaded elsewhere).
    validate: ``validate(shipped_model) -> metrics`` on the main rank, or None.
    """

    def __init__(
        self,
        task: nn.Module,
        dataset: Dataset,
        cfg: TrainConfig,
        *,
        shipped: str,
        make_card: Callable[[dict[str, float]], ModelCard],
        exclude_prefixes: tuple[str, ...] = (),
        validate: Callable[[nn.Module], dict[str, float]] | None = None,
        collate_fn: Callable | None = None,
        info: D.DistInfo | None = None,
    ) -> None:
        self.task, self.dataset, self.cfg = task, dataset, cfg
        self.shipped_prefix = f"{shipped}." if shipped else ""
        self.shipped_model: nn.Module = task.get_submodule(shipped) if shipped else task
        self.make_card, self.validate = make_card, validate
        self.exclude_prefixes, self.collate_fn = tuple(exclude_prefixes), collate_fn
        self.info = info or D.init_distributed(cfg.train.device)
        self.run_dir = Path(cfg.train.run_dir)
        self.metrics: dict[str, float] = {}
        self.amp = bool(cfg.train.amp) and self.info.device.type == "cuda"
        self.cpu_bf16 = bool(cfg.train.cpu_bf16) and self.info.device.type == "cpu"

    # ----------------------------------------------------------------- set-up
    def _setup(self) -> None:
        tc, oc = self.cfg.train, self.cfg.optim
        if tc.threads > 0:
            torch.set_num_threads(tc.threads)
        self.task.to(self.info.device)
        if tc.channels_last:
            self.task.to(memory_format=torch.channels_last)
        self.params = [p for p in self.task.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("the task has no trainable parameters")
        self.optimizer = build_optimizer(self.params, oc.name, oc.lr, oc.weight_decay, tuple(oc.betas))
        self.scheduler = build_scheduler(
            self.optimizer, oc.schedule, lambda: self.cfg.train.steps, oc.warmup_steps, oc.min_lr_ratio
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)

    def _loader(self, start_step: int) -> DataLoader:
        dc, tc = self.cfg.data, self.cfg.train
        sampler = ResumableBatchSampler(
            len(self.dataset),
            dc.batch_size,
            seed=tc.seed,
            rank=self.info.rank,
            world_size=self.info.world_size,
            start_batch=start_step,
        )
        return DataLoader(
            SeededDataset(self.dataset, tc.seed),
            batch_sampler=sampler,
            num_workers=dc.workers,
            collate_fn=self.collate_fn,
            pin_memory=self.info.device.type == "cuda",
            # its own generator: creating the iterator must not consume the (checkpointed) global RNG
            generator=torch.Generator().manual_seed(tc.seed + self.info.rank),
        )

    def _wrap(self) -> nn.Module:
        if not self.info.distributed:
            return self.task
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.info.device.index] if self.info.device.type == "cuda" else None
        return DDP(self.task, device_ids=ids, find_unused_parameters=self.cfg.train.find_unused_parameters)

    # ------------------------------------------------------------ checkpoints
    def _state_parts(self) -> tuple[dict, dict]:
        return split_state(self.task, self.shipped_prefix, self.exclude_prefixes)

    def _card(self) -> ModelCard:
        card = self.make_card(dict(self.metrics))
        card.train_config = self.cfg.to_dict()
        return card

    def save(self, step: int) -> Path | None:
        """Checkpoint (collective: every rank calls it; the main rank writes)."""
        rngs = D.gather_objects(D.rng_state(), self.info)
        path = None
        if self.info.is_main:
            model_state, rest = self._state_parts()
            path = save_training_checkpoint(
                self.run_dir / "checkpoints",
                step,
                model_state=model_state,
                card=self._card(),
                keep=self.cfg.train.keep_checkpoints,
                task=rest,
                optimizer=self.optimizer.state_dict(),
                scheduler=self.scheduler.state_dict(),
                scaler=self.scaler.state_dict(),
                rng=rngs,
                world_size=self.info.world_size,
                metrics=dict(self.metrics),
                config=self.cfg.to_dict(),
            )
        D.barrier(self.info)
        return path

    def restore(self, path: Path) -> int:
        """Load a resumable checkpoint into task/optimiser/scheduler/scaler/RNG; returns its step."""
        payload = load_training_checkpoint(path)
        state = merge_state(payload["model"], payload["task"], self.shipped_prefix)
        missing, unexpected = self.task.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith(self.exclude_prefixes)]
        if missing or unexpected:
            raise CheckpointError(
                f"{path} does not match this task (missing {missing[:5]}, unexpected {unexpected[:5]}); "
                "resume with the config the run was started with"
            )
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        if payload.get("scaler"):
            self.scaler.load_state_dict(payload["scaler"])
        self.metrics = dict(payload.get("metrics", {}))
        step = int(payload["step"])
        rngs = payload.get("rng") or []
        if len(rngs) == self.info.world_size:
            D.set_rng_state(rngs[self.info.rank])
        else:  # a different number of ranks: data order is still exact, model-side randomness is re-seeded
            D.seed_everything(self.cfg.train.seed + 7919 * step + self.info.rank)
        return step

    # ------------------------------------------------------------------ steps
    def _autocast(self):
        if self.cpu_bf16:
            return torch.autocast(device_type="cpu", dtype=torch.bfloat16)
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=torch.float16)

    def train_step(self, model: nn.Module, batch: dict) -> tuple[dict, bool]:
        """One optimiser step; returns the task output and whether the gradients were finite."""
        model.train()
        with self._autocast():
            out = model(batch)
        loss = out["loss"]
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        clip = self.cfg.train.grad_clip if self.cfg.train.grad_clip > 0 else float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, clip)
        finite = bool(torch.isfinite(grad_norm))  # identical on every rank: gradients are all-reduced
        if self.amp:
            self.scaler.step(self.optimizer)  # skips the step itself on inf/NaN
        elif finite:
            self.optimizer.step()
        self.scaler.update()
        self.scheduler.step()
        out["grad_norm"] = grad_norm.detach() if finite else torch.tensor(float("nan"))
        out["lr"] = self.optimizer.param_groups[0]["lr"]
        return out, finite

    def _validate(self, step: int, log: TensorBoardLog | None) -> None:
        if self.validate is not None and self.info.is_main:
            was_training = self.shipped_model.training
            self.shipped_model.eval()
            with torch.no_grad():
                self.metrics = {k: float(v) for k, v in self.validate(self.shipped_model).items()}
            self.shipped_model.train(was_training)
            if log is not None:
                log.scalars("val", self.metrics, step)
        D.barrier(self.info)

    # ------------------------------------------------------------------- loop
    def fit(self, resume: Path | None = None) -> Path:
        """Train to ``train.steps``; returns ``<run_dir>/model.pt`` (card + shipped weights)."""
        from tqdm import tqdm

        tc = self.cfg.train
        t_begin = time.perf_counter()  # a time box (train.max_minutes) counts from here
        D.seed_everything(tc.seed + self.info.rank)
        self._setup()
        start = self.restore(resume) if resume is not None else 0
        if self.info.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            save_train_config(self.cfg, self.run_dir / "config.yaml")
        model = self._wrap()
        log = TensorBoardLog(self.run_dir / "tb", purge_step=start) if self.info.is_main else None
        terms, bad, t0 = TermAverager(), 0, time.perf_counter()
        batches = iter(self._loader(start))
        bar = tqdm(
            total=tc.steps, initial=start, disable=not self.info.is_main, desc="train", dynamic_ncols=True
        )
        step = start
        try:
            while step < tc.steps:
                step += 1
                if tc.max_minutes > 0 and step - start == PLAN_SKIP_STEPS + 1:
                    t_probe = time.perf_counter()
                batch = to_device(next(batches), self.info.device, self.cfg.train.channels_last)
                out, finite = self.train_step(model, batch)
                bad = 0 if finite else bad + 1
                if bad > MAX_BAD_STEPS:
                    raise FloatingPointError(
                        f"{bad} consecutive steps with non-finite gradients at step {step}; lower optim.lr or "
                        f"check the data; resume from {self.run_dir / 'checkpoints' / 'last.pt'}"
                    )
                terms.add(out)
                if tc.max_minutes > 0 and step - start == PLAN_AFTER_STEPS:
                    self._plan_steps(
                        step,
                        (time.perf_counter() - t_probe) / (PLAN_AFTER_STEPS - PLAN_SKIP_STEPS),
                        t_begin,
                        bar,
                    )
                self._after_step(step, batch, out, terms, log, bar, t0)
        finally:
            bar.close()
            if log is not None:
                log.close()
        return self._finish()

    def _plan_steps(self, step: int, s_per_step: float, t_begin: float, bar) -> None:
        """Time box: shorten train.steps to what fits in max_minutes at the measured speed (every rank
        takes the mean plan, so DDP ranks stop together) and record the plan in config.yaml."""
        tc = self.cfg.train
        left_s = tc.max_minutes * 60.0 - (time.perf_counter() - t_begin)
        fits = step + max(int(left_s / max(s_per_step, 1e-9)), 1)
        planned = int(D.mean_across_ranks({"steps": float(min(tc.steps, fits))}, self.info)["steps"])
        if planned < tc.steps:
            bar.write(
                f"time box: {s_per_step:.2f} s/step, {left_s / 60.0:.1f} min left -> training for "
                f"{planned} steps instead of {tc.steps}"
            )
            tc.steps = max(planned, step)
            bar.total = tc.steps
            bar.refresh()
            if self.info.is_main:
                save_train_config(self.cfg, self.run_dir / "config.yaml")

    def _after_step(self, step, batch, out, terms, log, bar, t0) -> None:
        tc = self.cfg.train
        bar.update(1)
        if step % max(tc.log_every, 1) == 0 or step == tc.steps:
            means = D.mean_across_ranks(terms.pop(), self.info)
            if log is not None:
                log.scalars("train", means, step)
                log.scalars("speed", {"steps_per_s": bar.n / max(time.perf_counter() - t0, 1e-9)}, step)
            bar.set_postfix({k: f"{v:.3g}" for k, v in means.items() if k in ("loss", "lr")})
        if log is not None and tc.image_every > 0 and step % tc.image_every == 0:
            log.batch_images(batch, out.get("output"), step)
        final = step == tc.steps
        if (self.cfg.val.every > 0 and step % self.cfg.val.every == 0) or final:
            self._validate(step, log)
        if step % max(tc.ckpt_every, 1) == 0 or final:
            self.save(step)

    def _finish(self) -> Path:
        """Write the slim final model (main rank) and, if asked, every rank's weights."""
        final = self.run_dir / "model.pt"
        D.broadcast_buffers(
            self.task, self.info, self.exclude_prefixes
        )  # BN statistics: rank 0's, as DDP does before each forward
        model_state, _ = self._state_parts()
        if self.info.is_main:
            save_checkpoint(final, model_state, self._card(), config=self.cfg.to_dict(), metrics=self.metrics)
        if self.cfg.train.save_rank_weights:
            save_checkpoint(self.run_dir / f"rank{self.info.rank}_final.pt", model_state, self._card())
        D.barrier(self.info)
        return final
