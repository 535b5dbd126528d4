"""A steady scale over time: a running median of log-scales with outlier rejection.

Per-frame ground-plane scales jitter (the network's road is not perfectly flat
and moves a little from frame to frame). The filter keeps the last ``window``
accepted log-scales and outputs the exponential of their trimmed mean (the mean
of the middle half: as robust as the median, smoother from frame to frame). A new value
farther than ``gate`` (in log units) from the current median is rejected as an
outlier, unless ``window // 2 + 1`` rejections in a row agree with each other:
then the scale really changed and the filter restarts from them.
"""

from __future__ import annotations

from collections import deque

import numpy as np


class ScaleFilter:
    """Trimmed mean of the last ``window`` accepted log-scales; ``window=1`` passes each accepted value through."""

    def __init__(self, window: int = 9, gate: float = 0.15) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        if gate <= 0:
            raise ValueError(f"gate must be > 0 (log units), got {gate}")
        self.window, self.gate = int(window), float(gate)
        self._logs: deque[float] = deque(maxlen=self.window)
        self._rejected: list[float] = []

    @property
    def value(self) -> float | None:
        """The filtered scale, or None before the first accepted value."""
        if not self._logs:
            return None
        logs = np.sort(np.asarray(self._logs))
        cut = len(logs) // 4
        return float(np.exp(logs[cut : len(logs) - cut].mean()))

    def __len__(self) -> int:
        return len(self._logs)

    def reset(self) -> None:
        """Forget everything (model reload, camera change)."""
        self._logs.clear()
        self._rejected = []

    def update(self, scale: float) -> bool:
        """Offer one frame's scale; True if it was accepted into the window."""
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be finite and > 0, got {scale}")
        log_s = float(np.log(scale))
        if len(self._logs) < 3 or self.window == 1 or abs(log_s - np.median(self._logs)) <= self.gate:
            self._logs.append(log_s)
            self._rejected = []
            return True
        self._rejected.append(log_s)
        recent = np.asarray(self._rejected[-(self.window // 2 + 1) :])
        if len(recent) == self.window // 2 + 1 and np.ptp(recent) <= 2 * self.gate:
            self._logs.clear()
            self._logs.extend(recent.tolist())
            self._rejected = []
            return True
        return False
