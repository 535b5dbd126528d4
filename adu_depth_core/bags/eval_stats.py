"""Streaming accumulators for bag-eval: error by distance, mean sparsification curves, worst frames, CSV rows.

Each keeps O(1) memory in the number of frames (the worst-frame list keeps k frames).
"""

from __future__ import annotations

import csv
import heapq
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


class DistanceBins:
    """Absolute and relative error summed in fine ground-truth distance bins over [0, max_depth_m]."""

    def __init__(self, max_depth_m: float, n_bins: int = 400) -> None:
        self.edges_m = np.linspace(0.0, max_depth_m, n_bins + 1)
        self.count = np.zeros(n_bins, np.int64)
        self.abs_err_m = np.zeros(n_bins)
        self.sq_err_m2 = np.zeros(n_bins)
        self.abs_rel = np.zeros(n_bins)

    def add(self, pred_m: np.ndarray, gt_m: np.ndarray) -> None:
        """1-D arrays of valid pixels (pred clamped, gt inside the range)."""
        n = len(self.count)
        k = np.clip(np.searchsorted(self.edges_m, gt_m, side="right") - 1, 0, n - 1)
        err = np.abs(pred_m - gt_m)
        self.count += np.bincount(k, minlength=n)
        self.abs_err_m += np.bincount(k, err, minlength=n)
        self.sq_err_m2 += np.bincount(k, err * err, minlength=n)
        self.abs_rel += np.bincount(k, err / gt_m, minlength=n)

    def coarse(self, n_out: int = 16) -> dict[str, list[float]]:
        """About ``n_out`` equal-width bins over the occupied distance range: centre, count, MAE, RMSE, AbsRel."""
        occupied = np.nonzero(self.count)[0]
        if occupied.size == 0:
            return {"centre_m": [], "count": [], "mae_m": [], "rmse_m": [], "abs_rel": []}
        lo, hi = occupied[0], occupied[-1] + 1
        groups = np.array_split(np.arange(lo, hi), min(n_out, hi - lo))
        out: dict[str, list[float]] = {"centre_m": [], "count": [], "mae_m": [], "rmse_m": [], "abs_rel": []}
        for g in groups:
            c = int(self.count[g].sum())
            if c == 0:
                continue
            out["centre_m"].append(float((self.edges_m[g[0]] + self.edges_m[g[-1] + 1]) / 2))
            out["count"].append(c)
            out["mae_m"].append(float(self.abs_err_m[g].sum() / c))
            out["rmse_m"].append(float(np.sqrt(self.sq_err_m2[g].sum() / c)))
            out["abs_rel"].append(float(self.abs_rel[g].sum() / c))
        return out


class CurveMean:
    """Mean over frames of fixed-length curves (sparsification and oracle), per metric."""

    def __init__(self) -> None:
        self.sums: dict[str, np.ndarray] = {}
        self.count = 0

    def add(self, curves: dict[str, np.ndarray]) -> None:
        for key, curve in curves.items():
            self.sums[key] = self.sums.get(key, 0.0) + np.asarray(curve, np.float64)
        self.count += 1

    def mean(self) -> dict[str, list[float]]:
        return {k: (v / self.count).tolist() for k, v in self.sums.items()} if self.count else {}


@dataclass(order=True)
class _Ranked:
    score: float
    seq: int
    frame: dict[str, Any] = field(compare=False)


class WorstFrames:
    """The ``k`` frames with the highest score (e.g. AbsRel), with their maps, for plots."""

    def __init__(self, k: int = 4) -> None:
        self.k = k
        self._heap: list[_Ranked] = []
        self._seq = 0

    def offer(self, score: float, frame: dict[str, Any]) -> None:
        """Keep ``frame`` (a dict of maps and labels) if it is among the k worst so far."""
        if self.k <= 0 or not np.isfinite(score):
            return
        self._seq += 1
        item = _Ranked(float(score), -self._seq, frame)
        if len(self._heap) < self.k:
            heapq.heappush(self._heap, item)
        elif item > self._heap[0]:
            heapq.heapreplace(self._heap, item)

    def worst_first(self) -> list[tuple[float, dict[str, Any]]]:
        return [(r.score, r.frame) for r in sorted(self._heap, reverse=True)]


class CsvLog:
    """Per-frame CSV, one flushed row per frame (a crash keeps every row written before it)."""

    def __init__(self, path: str | os.PathLike, columns: list[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("w", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._file, fieldnames=columns, extrasaction="ignore")
        self._writer.writeheader()
        self._file.flush()
        self.rows = 0

    def write(self, row: dict[str, Any]) -> None:
        self._writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        self._file.flush()
        self.rows += 1

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
