"""Node health: rates, per-stage latency, drops and errors -> diagnostic_msgs/DiagnosticArray.

Thread-safe (the subscription callbacks, the inference worker and the
diagnostics timer all touch it). Errors are grouped by a short category
(``encoding``, ``camera_info``, ``model``, ...): each category is logged at most
once per throttle period, and the status level is the worst problem seen since
the previous report, or a standing condition (no model, incompatible QoS).
A stale-input check turns the status WARN, then ERROR, while no frame arrives
(or none is answered: published, or skipped because nobody listens).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

OK, WARN, ERROR = 0, 1, 2  # DiagnosticStatus levels as ints (the message stores them as one byte)
ANSWERED = ("processed", "skipped_no_subscriber")  # a frame the node dealt with as it should
_LEVEL_NAMES = {OK: "OK", WARN: "WARN", ERROR: "ERROR"}


@dataclass
class Problem:
    """Bookkeeping for one error category."""

    level: int
    message: str
    count: int = 0
    last_s: float = 0.0
    logged_s: float = -1e18
    suppressed: int = 0


class Rate:
    """Events per second over a sliding window of timestamps (monotonic seconds)."""

    def __init__(self, window: int = 64) -> None:
        self._t: deque[float] = deque(maxlen=window)

    def tick(self, now_s: float) -> None:
        self._t.append(now_s)

    def hz(self, now_s: float, horizon_s: float = 5.0) -> float:
        recent = [t for t in self._t if now_s - t <= horizon_s]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-9)


class NodeHealth:
    """Counters and windows the depth node updates; ``to_msg`` builds the /diagnostics message."""

    COUNTERS = (
        "received",
        "processed",
        "dropped_stale",
        "rejected",
        "skipped_no_model",
        "skipped_no_subscriber",
        "worker_restarts",
    )

    def __init__(self, name: str, throttle_s: float = 5.0, window: int = 100) -> None:
        self.name = name
        self.throttle_s = throttle_s
        self.hardware_id = ""
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(self.COUNTERS, 0)
        self._stages: dict[str, deque[float]] = {}
        self._window = window
        self._in_rate, self._out_rate = Rate(), Rate()
        self._problems: dict[str, Problem] = {}
        self._standing: dict[str, tuple[int, str]] = {}
        self._notes: dict[str, str] = {}
        self._published: dict[str, int] = {}
        self._last_report_s = time.monotonic()
        self.stale_warn_s, self.stale_error_s = 0.0, 0.0  # 0 = off
        self._watch_since_s: float | None = None  # None: no input expected (no subscription)
        self._last_s = {"received": 0.0, "answered": 0.0}

    # -- updates ------------------------------------------------------------------------------------

    def count(self, counter: str, n: int = 1) -> None:
        now = time.monotonic()
        with self._lock:
            self._counts[counter] += n
            if counter == "received":
                self._in_rate.tick(now)
                self._last_s["received"] = now
            elif counter in ANSWERED:
                self._last_s["answered"] = now
                if counter == "processed":
                    self._out_rate.tick(now)

    def count_published(self, output: str) -> None:
        """One message published on ``output`` (depth, points, ...)."""
        with self._lock:
            self._published[output] = self._published.get(output, 0) + 1

    def watch_input(self, expected: bool) -> None:
        """Start (the clock starts now) or stop the stale-input check, e.g. on subscribe / unsubscribe."""
        with self._lock:
            self._watch_since_s = time.monotonic() if expected else None

    def stage_ms(self, stage: str, latency_ms: float) -> None:
        with self._lock:
            self._stages.setdefault(stage, deque(maxlen=self._window)).append(float(latency_ms))

    def note(self, key: str, value: str) -> None:
        """A free-form key/value shown as is (e.g. which outputs the last frame published)."""
        with self._lock:
            self._notes[key] = value

    def problem(self, category: str, message: str, level: int = WARN) -> str | None:
        """Record a problem; returns the line to log now, or None while throttled."""
        now = time.monotonic()
        with self._lock:
            p = self._problems.setdefault(category, Problem(level, message))
            p.level, p.message, p.last_s = level, message, now
            p.count += 1
            if now - p.logged_s < self.throttle_s:
                p.suppressed += 1
                return None
            suffix = f" ({p.suppressed} similar since the last message)" if p.suppressed else ""
            p.logged_s, p.suppressed = now, 0
            return f"[{category}] {message}{suffix}"

    def set_standing(self, key: str, level: int, message: str) -> None:
        """A condition that lasts until cleared (no model loaded, no camera_info yet)."""
        with self._lock:
            self._standing[key] = (level, message)

    def clear_standing(self, key: str) -> None:
        with self._lock:
            self._standing.pop(key, None)

    # -- reading ------------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def stage_summary(self) -> dict[str, tuple[float, float, float]]:
        """{stage: (mean, p50, max)} in milliseconds over the window."""
        with self._lock:
            snap = {k: np.asarray(v) for k, v in self._stages.items() if v}
        return {k: (float(v.mean()), float(np.median(v)), float(v.max())) for k, v in snap.items()}

    def status(self) -> DiagnosticStatus:
        """One DiagnosticStatus; level = worst standing condition or problem since the last call."""
        now = time.monotonic()
        stages = self.stage_summary()
        with self._lock:
            since = self._last_report_s
            self._last_report_s = now
            fresh = [(c, p) for c, p in self._problems.items() if p.last_s >= since]
            issues = list(self._standing.values()) + [(p.level, f"[{c}] {p.message}") for c, p in fresh]
            issues += self._stale(now)
            values = self._values(now, stages)
        level = max((lv for lv, _ in issues), default=OK)
        ordered = dict.fromkeys(
            m for lv, m in sorted(issues, key=lambda x: -x[0])
        )  # a standing one may repeat
        msg = "; ".join(ordered) if issues else "ok"
        st = DiagnosticStatus(level=bytes([level]), name=self.name, message=msg, hardware_id=self.hardware_id)
        st.values = [KeyValue(key=k, value=v) for k, v in values]
        return st

    def _stale(self, now: float) -> list[tuple[int, str]]:
        """WARN / ERROR while no frame arrived, or none was answered, for the configured time."""
        if self._watch_since_s is None:
            return []
        checks = (
            ("received", "check the camera topic (the 'image' remapping), that it publishes, and input_qos"),
            ("answered", "frames arrive but every one was rejected or failed; see last_error"),
        )
        found = []
        for key, hint in checks:
            age = now - max(self._last_s[key], self._watch_since_s)
            level = max(
                (
                    lv
                    for lim, lv in ((self.stale_warn_s, WARN), (self.stale_error_s, ERROR))
                    if 0 < lim <= age
                ),
                default=OK,
            )
            if level > OK:
                found.append((level, f"[stale_input] no image {key} for {age:.1f} s ({hint})"))
        return sorted(found, key=lambda x: -x[0])[:1]  # the worse one; 'received' first on a tie

    def _values(self, now: float, stages: dict[str, tuple[float, float, float]]) -> list[tuple[str, str]]:
        out = [
            ("input_rate_hz", f"{self._in_rate.hz(now):.2f}"),
            ("output_rate_hz", f"{self._out_rate.hz(now):.2f}"),
        ]
        out += [(f"frames_{k}", str(v)) for k, v in self._counts.items()]
        out += [(f"published_{k}", str(v)) for k, v in sorted(self._published.items())]
        for key, t in self._last_s.items():
            out.append((f"last_{key}_age_s", f"{now - t:.1f}" if t else "never"))
        out += sorted(self._notes.items())
        for stage, (mean, p50, mx) in sorted(stages.items()):
            out += [
                (f"{stage}_ms_mean", f"{mean:.2f}"),
                (f"{stage}_ms_p50", f"{p50:.2f}"),
                (f"{stage}_ms_max", f"{mx:.2f}"),
            ]
        for cat, p in sorted(self._problems.items()):
            out += [(f"errors_{cat}", str(p.count))]
        last = max(self._problems.items(), key=lambda kv: kv[1].last_s, default=None)
        if last is not None:
            out += [
                ("last_error", f"[{last[0]}] {last[1].message}"),
                ("last_error_age_s", f"{now - last[1].last_s:.1f}"),
            ]
        return out

    def to_msg(self, stamp) -> DiagnosticArray:
        """DiagnosticArray with this node's status, stamped ``stamp`` (builtin_interfaces/Time)."""
        arr = DiagnosticArray()
        arr.header.stamp = stamp
        arr.status = [self.status()]
        return arr


def level_value(level: int | bytes) -> int:
    """A DiagnosticStatus level (the message's one byte, or an int) as an int."""
    return level[0] if isinstance(level, bytes) else int(level)


def level_name(level: int | bytes) -> str:
    """'OK' / 'WARN' / 'ERROR' for a DiagnosticStatus level."""
    return _LEVEL_NAMES.get(level_value(level), str(level_value(level)))
