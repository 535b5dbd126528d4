"""Resumable, rank-sharded data order with per-sample seeded augmentation.

The data position is a pure function of the batch counter: batch ``k`` of a
rank is fixed by ``(seed, k, rank, world_size)``. Each sample's random
augmentation is seeded from ``(seed, epoch, index)``, so the stream is the same
whether it is read with 0 or 8 workers, and after a resume from any step.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A well-mixed 63-bit seed for one sample of one epoch."""
    ss = np.random.SeedSequence([seed & 0xFFFFFFFF, epoch, index])
    return int(ss.generate_state(2, dtype=np.uint64)[0] >> np.uint64(1))


class ResumableBatchSampler(Sampler[list[tuple[int, int]]]):
    """Endless batches of ``(epoch, index)`` for one rank, starting at batch ``start_batch``.

    Every epoch is a fresh permutation of ``range(num_samples)`` (seeded by
    ``seed + epoch``), split evenly across ranks; incomplete batches are dropped.
    """

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        *,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
        start_batch: int = 0,
    ) -> None:
        per_rank = num_samples // world_size
        self.batches_per_epoch = per_rank // batch_size
        if self.batches_per_epoch < 1:
            raise ValueError(
                f"dataset has {num_samples} samples: too few for batch_size={batch_size} on "
                f"{world_size} rank(s); use a larger dataset or a smaller data.batch_size"
            )
        self.num_samples, self.batch_size = num_samples, batch_size
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.shuffle, self.start_batch = shuffle, start_batch

    def epoch_order(self, epoch: int) -> list[int]:
        """This rank's sample indices for one epoch."""
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            order = torch.randperm(self.num_samples, generator=g)
        else:
            order = torch.arange(self.num_samples)
        used = self.batches_per_epoch * self.batch_size * self.world_size
        return order[:used][self.rank :: self.world_size].tolist()

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        k = self.start_batch
        while True:
            epoch, pos = divmod(k, self.batches_per_epoch)
            order = self.epoch_order(epoch)
            for b in range(pos, self.batches_per_epoch):
                yield [(epoch, i) for i in order[b * self.batch_size : (b + 1) * self.batch_size]]
            k = (epoch + 1) * self.batches_per_epoch

    def __len__(self) -> int:  # endless; DataLoader only needs a number
        return 2**62


class SeededDataset(Dataset):
    """Wraps a map-style dataset: item ``(epoch, index)`` runs under a seed made from both.

    The caller's global RNG states (torch, numpy, random) are restored after
    each item, so reading data in the main process does not disturb training.
    """

    def __init__(self, inner: Dataset, seed: int) -> None:
        self.inner, self.seed = inner, seed

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, key: tuple[int, int] | int) -> Any:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        s = sample_seed(self.seed, epoch, index)
        np_state, py_state = np.random.get_state(), random.getstate()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(s)
            np.random.seed(s % 2**32)
            random.seed(s)
            try:
                return self.inner[index]
            finally:
                np.random.set_state(np_state)
                random.setstate(py_state)
