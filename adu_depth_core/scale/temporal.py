"""A steady scale over time: outlier rejection on log-scales, and optional smoothing.

Per-frame ground-plane scales jitter: the network's road is not perfectly flat
and its global scale itself moves a little from frame to frame. The filter keeps
the last ``history`` accepted log-scales. A new value farther than ``gate`` (in
log units) from their median is rejected as an outlier, unless ``history // 2 + 1``
rejections in a row agree with each other: then the scale really changed and the
filter restarts from them. The output is the exponential of the trimmed mean
(the mean of the middle half) of the last ``window`` accepted values.

``window = 1`` (the default) follows each accepted frame: measured on synthetic
drives, the bundled student's own global scale flickers and the per-frame ground
scale cancels much of it, so depth flickers least. A longer window makes the
applied scale steadier but gives that compensation back (docs/ground_scale.md).
"""

from __future__ import annotations

from collections import deque

import numpy as np


class ScaleFilter:
    """Gate log-scales against the median of the last ``history``; output the trimmed mean of the last ``window``."""

    def __init__(self, window: int = 1, gate: float = 0.15, history: int = 9) -> None:
        if window < 1 or history < 1:
            raise ValueError(f"window and history must be >= 1, got {window}, {history}")
        if gate <= 0:
            raise ValueError(f"gate must be > 0 (log units), got {gate}")
        self.window, self.gate = int(window), float(gate)
        self.history = max(int(history), self.window)
        self._logs: deque[float] = deque(maxlen=self.history)
        self._rejected: list[float] = []

    @property
    def value(self) -> float | None:
        """The filtered scale, or None before the first accepted value."""
        if not self._logs:
            return None
        logs = np.sort(np.asarray(self._logs)[-self.window :])
        cut = len(logs) // 4
        return float(np.exp(logs[cut : len(logs) - cut].mean()))

    def __len__(self) -> int:
        return len(self._logs)

    def reset(self) -> None:
        """Forget everything (model reload, camera change)."""
        self._logs.clear()
        self._rejected = []

    def update(self, scale: float) -> bool:
        """Offer one frame's scale; True if it was accepted."""
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be finite and > 0, got {scale}")
        log_s = float(np.log(scale))
        if len(self._logs) < 3 or abs(log_s - np.median(self._logs)) <= self.gate:
            self._logs.append(log_s)
            self._rejected = []
            return True
        self._rejected.append(log_s)
        need = self.history // 2 + 1
        recent = np.asarray(self._rejected[-need:])
        if len(recent) == need and np.ptp(recent) <= 2 * self.gate:
            self._logs.clear()
            self._logs.extend(recent.tolist())
            self._rejected = []
            return True
        return False
