"""Pair messages of several topics by header stamp, within a tolerance, and count what has no partner.

Two passes over the bag: the first reads only header stamps (straight from the
CDR bytes, no decoding) and decides the pairs; the second streams the messages
and yields each matched frame as soon as all its parts have arrived, so memory
holds only frames whose parts are still in flight.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from adu_depth_core.bags.io import BagError, BagReader, RawMessage
from adu_depth_core.bags.messages import cdr_stamp_ns, stamp_ns


@dataclass
class MatchResult:
    """One-to-one pairs between stamp lists ``a`` and ``b`` (indices), and the indices left without partner."""

    pairs: list[tuple[int, int]]
    unmatched_a: list[int]
    unmatched_b: list[int]


def match_stamps(a_ns: Sequence[int], b_ns: Sequence[int], tolerance_ns: int) -> MatchResult:
    """Pair stamps one-to-one, closest first, never further apart than ``tolerance_ns``; ties go to the earlier index."""
    order_b = sorted(range(len(b_ns)), key=lambda j: b_ns[j])
    sorted_b = [b_ns[j] for j in order_b]
    candidates = []
    for i, t in enumerate(a_ns):
        lo = bisect.bisect_left(sorted_b, t - tolerance_ns)
        hi = bisect.bisect_right(sorted_b, t + tolerance_ns)
        candidates += [(abs(sorted_b[k] - t), i, order_b[k]) for k in range(lo, hi)]
    used_a: set[int] = set()
    used_b: set[int] = set()
    pairs = []
    for _, i, j in sorted(candidates):
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, j))
    return MatchResult(
        pairs=sorted(pairs),
        unmatched_a=[i for i in range(len(a_ns)) if i not in used_a],
        unmatched_b=[j for j in range(len(b_ns)) if j not in used_b],
    )


def scan_stamps(bag: BagReader, topics: Sequence[str]) -> tuple[dict[str, list[int]], str]:
    """Header stamps (ns) of every message of ``topics``, in recording order (0 stamps fall back to log time).

    A corrupt bag stops the scan: the stamps read so far come back with the error text.
    """
    stamps: dict[str, list[int]] = {t: [] for t in topics}
    try:
        for raw in bag.raw_messages(topics):
            stamps[raw.topic].append(cdr_stamp_ns(raw.data) or raw.log_time_ns)
    except BagError as exc:
        return stamps, str(exc)
    return stamps, ""


@dataclass
class MatchedFrame:
    """One matched frame: the anchor's stamp and the message of every role (decoded on first use,
    so a message that does not decode fails only its own frame)."""

    stamp_ns: int
    raws: dict[str, RawMessage] = field(repr=False)
    bag: BagReader = field(repr=False)
    _msgs: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def msgs(self) -> dict[str, Any]:
        if self._msgs is None:
            self._msgs = {role: self.bag.deserialize(raw) for role, raw in self.raws.items()}
        return self._msgs


@dataclass
class MatchPlan:
    """Which message (topic, ordinal) of each role belongs to which frame, and the unmatched counts."""

    roles: dict[str, str]  # role -> topic; the first role is the anchor
    groups: list[dict[str, int]]  # per frame: role -> ordinal of the message in its topic
    stamps: dict[str, list[int]]
    results: dict[str, MatchResult]  # partner role -> its match with the anchor
    tolerance_ns: int
    read_error: str = ""  # set when the bag is corrupt part-way: the plan covers what was readable

    @property
    def anchor(self) -> str:
        return next(iter(self.roles))

    def report(self) -> list[str]:
        """Human-readable lines: frames matched, frames without partner per role."""
        a = self.anchor
        tol_ms = self.tolerance_ns / 1e6
        lines = [
            f"{len(self.groups)} of {len(self.stamps[self.roles[a]])} {a} frames matched (tolerance {tol_ms:g} ms)"
        ]
        for role, res in self.results.items():
            lines.append(
                f"  {a} frames without a {role} partner: {len(res.unmatched_a)}; "
                f"{role} messages without a {a} partner: {len(res.unmatched_b)}"
            )
        return lines

    def unmatched(self) -> dict[str, int]:
        """Counts for summaries: '<anchor>_without_<role>' and '<role>_without_<anchor>'."""
        a = self.anchor
        out = {}
        for role, res in self.results.items():
            out[f"{a}_without_{role}"] = len(res.unmatched_a)
            out[f"{role}_without_{a}"] = len(res.unmatched_b)
        return out


def plan_matches(bag: BagReader, roles: dict[str, str], tolerance_ns: int) -> MatchPlan:
    """Pass 1: pair every partner role with the anchor (the first role) by header stamp."""
    topics = list(roles.values())
    if len(set(topics)) != len(topics):
        raise BagError(f"each role needs its own topic, got {roles}")
    stamps, read_error = scan_stamps(bag, topics)
    anchor, *partners = roles
    anchor_stamps = stamps[roles[anchor]]
    results = {r: match_stamps(anchor_stamps, stamps[roles[r]], tolerance_ns) for r in partners}
    per_anchor: dict[int, dict[str, int]] = {i: {anchor: i} for i in range(len(anchor_stamps))}
    for role, res in results.items():
        for i, j in res.pairs:
            per_anchor[i][role] = j
    groups = [g for _, g in sorted(per_anchor.items()) if len(g) == len(roles)]
    return MatchPlan(dict(roles), groups, stamps, results, tolerance_ns, read_error)


def iter_frames(bag: BagReader, plan: MatchPlan) -> Iterator[MatchedFrame]:
    """Pass 2: stream the bag and yield each planned frame once all its messages have been read."""
    need = {
        (plan.roles[role], k): (g, role) for g, group in enumerate(plan.groups) for role, k in group.items()
    }
    counters = dict.fromkeys(plan.roles.values(), 0)
    pending: dict[int, dict[str, RawMessage]] = {}
    for raw in bag.raw_messages(plan.roles.values()):
        k = counters[raw.topic]
        counters[raw.topic] += 1
        hit = need.pop((raw.topic, k), None)
        if hit is None:
            continue
        g, role = hit
        parts = pending.setdefault(g, {})
        parts[role] = raw
        if len(parts) == len(plan.roles):
            del pending[g]
            anchor_raw = parts[plan.anchor]
            stamp = plan.stamps[anchor_raw.topic][plan.groups[g][plan.anchor]]
            yield MatchedFrame(stamp, parts, bag)


class StampIndex:
    """Messages of a (small, slowly changing) topic such as camera_info, looked up by nearest header stamp."""

    def __init__(self, msgs: Sequence[Any]) -> None:
        pairs = sorted(((stamp_ns(m.header), i) for i, m in enumerate(msgs)), key=lambda p: p[0])
        self._stamps = [s for s, _ in pairs]
        self._msgs = [msgs[i] for _, i in pairs]

    @classmethod
    def from_bag(cls, bag: BagReader, topic: str) -> StampIndex:
        return cls([msg for _, msg in bag.messages([topic])])

    def __len__(self) -> int:
        return len(self._msgs)

    def nearest(self, t_ns: int) -> Any:
        """The message whose stamp is closest to ``t_ns`` (the earlier one on a tie)."""
        if not self._msgs:
            raise BagError("no messages to look up")
        k = bisect.bisect_left(self._stamps, t_ns)
        if k == len(self._stamps) or (k > 0 and t_ns - self._stamps[k - 1] <= self._stamps[k] - t_ns):
            k -= 1
        return self._msgs[k]
