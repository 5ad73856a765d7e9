"""What the engine did: one record per task run, per handoff and per emitted token. Metrics read only this."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class OpEvent:
    """One task (op, layer or model node) or handoff, as it ran."""

    pass_label: str     # e.g. "target.prefill", "target.decode.5"
    name: str           # node name, e.g. "L3.q_proj"
    kind: str
    pu: str
    cores: tuple[int, ...]
    start_s: float
    end_s: float
    flops: float
    bytes: float
    alone_s: float      # what it would have taken alone on the SoC
    compute_bound: bool

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def trace_event(self, pid: int, tid: int) -> dict:
        """This op as a Chrome-trace complete event (microseconds), on process `pid`, track `tid`."""
        dur = self.duration_s
        return {"name": self.name, "cat": self.kind, "ph": "X", "pid": pid, "tid": tid,
                "ts": round(self.start_s * 1e6, 3), "dur": round(dur * 1e6, 3),
                "args": {"pass": self.pass_label, "cores": list(self.cores), "flops": self.flops, "bytes": self.bytes,
                         "achieved_bandwidth_GB_s": self.bytes / dur / 1e9 if dur > 0 else 0.0,
                         "bound": "handoff" if self.kind == "handoff" else ("compute" if self.compute_bound else "memory"),
                         "contention_s": self.contention_s}}

    @property
    def contention_s(self) -> float:
        """Time lost to sharing DRAM or waiting on nothing else (zero, not float noise, when it ran alone)."""
        lost = self.duration_s - self.alone_s
        return lost if lost > 1e-9 * self.alone_s + 1e-12 else 0.0


@dataclass
class EventLog:
    ops: list[OpEvent] = field(default_factory=list)
    samples: list[list[float]] = field(default_factory=list)   # per sample: when each output token reached the host
    sample_starts_s: list[float] = field(default_factory=list)

    def busy_s(self, pu: str) -> float:
        """Wall time during which at least one op ran on the PU (the union of its op intervals)."""
        return union_s([e for e in self.ops if e.pu == pu and e.kind != "handoff"])


def union_s(events) -> float:
    """Length of the union of the events' [start, end] intervals."""
    total, cur_start, cur_end = 0.0, None, None
    for start, end in sorted((e.start_s, e.end_s) for e in events):
        if cur_end is None or start > cur_end:
            if cur_end is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_end is not None:
        total += cur_end - cur_start
    return total
