"""What the engine did: one record per task run and per handoff. Metrics and timelines read only this.

Records are kept as compact as the way a pass ran allows. A pass run task by task through simpy leaves one
OpEvent per task. A pass (or its rest) that ran alone in closed form is one AlonePass: its tasks ran back to back,
each in its time alone, so their events and the DRAM counter's steps follow from the plan and the start time,
and are replayed, with the same arithmetic, only when asked for (`ops`, a timeline). A pass run on the DRAM's
clock (passrun.py) is one TimedPass: its plan and each task's start and end, events made only when asked for.

Labels are the caller's: the log never looks inside them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from simulator.engine.dag import DagPlan
from simulator.engine.plan import AloneSteps, Plan


@dataclass(frozen=True, slots=True)
class OpEvent:
    """One task of a plan, or one handoff, as it ran."""

    pass_label: str     # the label the caller gave the pass or handoff
    name: str           # task name, or "handoff"
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
        ts, dur_us = us_span(self.start_s, self.end_s)
        return {"name": self.name, "cat": self.kind, "ph": "X", "pid": pid, "tid": tid, "ts": ts, "dur": dur_us,
                "args": {"pass": self.pass_label, "cores": list(self.cores), "flops": self.flops, "bytes": self.bytes,
                         "achieved_bandwidth_GB_s": self.bytes / dur / 1e9 if dur > 0 else 0.0,
                         "bound": "handoff" if self.kind == "handoff" else ("compute" if self.compute_bound else "memory"),
                         "contention_s": self.contention_s}}

    @property
    def contention_s(self) -> float:
        """Time lost to sharing DRAM or waiting on nothing else (zero, not float noise, when it ran alone)."""
        return _lost(self.duration_s, self.alone_s)


def us_span(start_s: float, end_s: float) -> tuple[float, float]:
    """(ts, dur) of a Chrome-trace slice in microseconds, to the nanosecond: the start and the end are rounded to
    whole nanoseconds, then dur = end - start, so that a slice ending where the next begins never crosses it
    (rounding ts and dur each on their own made 1 ns overlaps, which Perfetto's importer drops)."""
    start_ns, end_ns = round(start_s * 1e9), round(end_s * 1e9)
    return start_ns / 1000, (end_ns - start_ns) / 1000


def _lost(duration_s: float, alone_s: float) -> float:
    lost = duration_s - alone_s
    return lost if lost > 1e-9 * alone_s + 1e-12 else 0.0


@dataclass(slots=True)
class AlonePass:
    """A pass (or its rest, from node `first`) that ran alone, in closed form: `steps` (plan.AloneSteps) holds,
    per distinct task of the plan, its overhead, stream-or-compute time and DRAM rate; the plan's `order` says
    which one each node takes."""

    label: str
    pu: str
    cores: tuple[int, ...]
    plan: Plan
    steps: AloneSteps
    start_s: float
    end_s: float
    bytes: float
    first: int = 0          # the plan's first node run alone (a pass can become alone part-way)

    @property
    def ops_count(self) -> int:
        return len(self.plan.order) - self.first

    contention_s = 0.0     # it ran alone

    def times(self) -> Iterator[tuple[float, float]]:
        """(start, end) of each of its ops, in order (time_arrays, one at a time)."""
        starts, ends = self.time_arrays()
        return zip(starts.tolist(), ends.tolist())

    def time_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Each op's (start, end), as two arrays: its steps summed in run order from the pass's start
        (AloneSteps.offsets); the last op ends at end_s exactly (the closed form sums by distinct task, these in
        run order: they differ by float rounding)."""
        begins, ends = self.steps.offsets(self.plan.order[self.first:])
        ends = self.start_s + ends
        if len(ends):
            ends[-1] = self.end_s
        return self.start_s + begins, ends

    def events(self) -> Iterator[OpEvent]:
        return _pass_events(self, self.times())

    def counter_steps(self) -> Iterator[tuple[float, dict[str, float], float]]:
        """The DRAM counter's steps during the pass: (time, rates by PU, total): each streaming op's rate from the
        end of its overhead to its end."""
        order = np.asarray(self.plan.order[self.first:], dtype=int)
        starts, ends = self.time_arrays()
        rates = self.steps.rate_B_s[order]
        streams = rates > 0
        pu = self.pu
        for on, off, rate in zip((starts + self.steps.overhead_s[order])[streams].tolist(), ends[streams].tolist(),
                                 rates[streams].tolist()):
            yield on, {pu: rate}, rate
            yield off, {}, 0.0


@dataclass(frozen=True, slots=True)
class TimedPass:
    """A pass run task by task on the DRAM's clock (passrun.PassRun): its tasks ran back to back from node 0, and
    `starts`/`ends` hold each one's times (a pass abandoned, gone alone or handed back part-way has fewer)."""

    label: str
    pu: str
    cores: tuple[int, ...]
    plan: Plan
    starts: list[float]
    ends: list[float]
    first = 0

    @property
    def start_s(self) -> float:
        return self.starts[0]

    @property
    def end_s(self) -> float:
        return self.ends[-1]

    @property
    def ops_count(self) -> int:
        return len(self.starts)

    @property
    def bytes(self) -> float:
        nbytes = self.plan.column("bytes")
        return sum(nbytes[i] for i in self.plan.order[:len(self.starts)])

    @property
    def contention_s(self) -> float:
        alone = self.plan.column("alone_s")
        return sum(_lost(end - start, alone[i]) for i, start, end in zip(self.plan.order, self.starts, self.ends))

    def times(self) -> Iterator[tuple[float, float]]:
        return zip(self.starts, self.ends)

    def time_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.starts), np.asarray(self.ends)

    def events(self) -> Iterator[OpEvent]:
        return _pass_events(self, self.times())

    def summary(self) -> "PassSummary":
        """The same pass as its totals, without its ops' times."""
        return PassSummary(self.label, self.pu, self.cores, self.start_s, self.end_s, self.ops_count, self.bytes,
                           self.contention_s)


@dataclass(slots=True)
class PassSummary:
    """A pass run on the DRAM's clock, kept as its totals when no timeline is asked (the engine's keep_timeline
    off): the log then does not grow with the ops, and every result reads the same numbers."""

    label: str
    pu: str
    cores: tuple[int, ...]
    start_s: float
    end_s: float
    ops_count: int
    bytes: float
    contention_s: float
    first = 0

    def events(self) -> Iterator[OpEvent]:
        raise RuntimeError("the ops' times were not kept: make the engine with keep_timeline=True")


def _pass_events(entry: AlonePass | TimedPass, times: Iterator[tuple[float, float]]) -> Iterator[OpEvent]:
    """A pass entry's ops as events, from their (start, end) times."""
    plan, first = entry.plan, entry.first
    unique = plan.unique
    for i, name, (start, end) in zip(plan.order[first:], plan.names[first:], times):
        task = unique[i]
        yield OpEvent(entry.label, name, task.kind, entry.pu, entry.cores, start, end, task.flops, task.bytes,
                      task.alone_s, task.compute_bound)


@dataclass(frozen=True)
class DagTotals:
    """What results read of a DAG pass: its busy spans by group and role (handoff or not), merged, from its start;
    the bytes its nodes moved, their time lost to sharing DRAM, its tasks' summed time and their number."""

    spans: tuple[tuple[str, bool, np.ndarray], ...]     # (group, handoff?, its disjoint spans: (k, 2))
    bytes: float
    contention_s: float
    busy_s: float
    ops_count: int

    @classmethod
    def of(cls, events: list[OpEvent], t0: float) -> "DagTotals":
        by_group: dict[tuple[str, bool], list[tuple[float, float]]] = {}
        for e in events:
            by_group.setdefault((e.pu, e.kind == "handoff"), []).append((e.start_s - t0, e.end_s - t0))
        tasks = [e for e in events if e.kind != "handoff"]
        return cls(tuple((group, handoff, merged(s)) for (group, handoff), s in by_group.items()),
                   sum(e.bytes for e in events), sum(e.contention_s for e in events),
                   sum(e.duration_s for e in tasks), len(tasks))


@dataclass(frozen=True)
class DagAlone:
    """A DAG pass as it runs alone on the SoC (nothing else in flight): each node's start and end from the pass's
    start, its duration, the DRAM counter's steps (time from the start, rates by group, total), its peak, what
    each node takes alone, and its totals. A pure function of the plan and the engine's configuration, so the
    engine simulates it once per plan and replays it (Engine._dag_alone)."""

    starts: np.ndarray | None          # None (and no counter steps) when no timeline is kept
    ends: np.ndarray | None
    duration_s: float
    counter: tuple[tuple[float, dict, float], ...]
    peak_B_s: float
    alone_s: np.ndarray | None
    totals: DagTotals


class _DagRecord:
    """What a DAG pass's log entry answers from its `totals`."""

    __slots__ = ()
    first = 0

    @property
    def ops_count(self) -> int:
        return self.totals.ops_count

    @property
    def bytes(self) -> float:
        return self.totals.bytes

    @property
    def contention_s(self) -> float:
        return self.totals.contention_s


@dataclass(slots=True)
class DagSummary(_DagRecord):
    """A pass over several placements that ran beside other work, kept as its totals when no timeline is asked
    (the engine's keep_timeline off): the log then holds no event of its nodes."""

    label: str
    start_s: float
    end_s: float
    totals: DagTotals

    def events(self) -> Iterator[OpEvent]:
        raise RuntimeError("the ops' times were not kept: make the engine with keep_timeline=True")


@dataclass(slots=True)
class DagPass(_DagRecord):
    """A pass over several placements that ran alone: its nodes' times are its plan's run alone (DagAlone, shared
    by every pass of the plan) from `start_s`, made into events only when asked for."""

    label: str
    plan: DagPlan
    alone: DagAlone
    start_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.alone.duration_s

    @property
    def totals(self) -> DagTotals:
        return self.alone.totals

    def events(self) -> Iterator[OpEvent]:
        """Its nodes as events, in node order: tasks on their placements' groups, handoffs to their receiving PU."""
        t0, alone = self.start_s, self.alone
        for node, task, start, end, alone_s in zip(self.plan.nodes, self.plan.tasks(), alone.starts.tolist(),
                                                   alone.ends.tolist(), alone.alone_s.tolist()):
            place = node.placement
            if node.handoff:
                yield OpEvent(self.label, task.name, "handoff", place.pu.name, (), t0 + start, t0 + end, 0.0,
                              task.bytes, alone_s, False)
            else:
                yield OpEvent(self.label, task.name, task.kind, place.group, place.cores, t0 + start, t0 + end,
                              task.flops, task.bytes, alone_s, task.compute_bound)

    def counter_steps(self) -> Iterator[tuple[float, dict[str, float], float]]:
        t0 = self.start_s
        for t, rates, total in self.alone.counter:
            yield t0 + t, rates, total


@dataclass
class EventLog:
    entries: list[OpEvent | AlonePass | TimedPass | PassSummary | DagPass | DagSummary] = field(default_factory=list)   # in the order they were logged

    @property
    def ops(self) -> list[OpEvent]:
        """Every task and handoff as an event (pass records replayed): for tests, not hot paths."""
        return list(self.iter_ops())

    def iter_ops(self) -> Iterator[OpEvent]:
        """The same, one at a time (a timeline streams them to its file)."""
        for e in self.entries:
            if isinstance(e, OpEvent):
                yield e
            else:
                yield from e.events()

    def ops_count(self) -> int:
        return sum(e.kind != "handoff" if isinstance(e, OpEvent) else e.ops_count for e in self.entries)

    def events_count(self) -> int:
        """Tasks and handoffs: the slices of a timeline of this log."""
        return sum(1 if isinstance(e, OpEvent) else len(e.plan.nodes) if isinstance(e, DagPass) else e.ops_count
                   for e in self.entries)

    def bytes_total(self) -> float:
        return sum(e.bytes for e in self.entries)

    def contention_s(self) -> float:
        """Time lost to DRAM sharing; an alone pass lost none."""
        return sum(e.contention_s for e in self.entries)

    def duration_of(self, labels: set[str]) -> float:
        """Summed op time of the passes with these labels (handoffs excluded)."""
        total = 0.0
        for e in self.entries:
            if isinstance(e, _DagRecord):
                if e.label in labels:
                    total += e.totals.busy_s
            elif not isinstance(e, OpEvent):   # a pass entry: its ops ran back to back
                if e.label in labels:
                    total += e.end_s - e.start_s
            elif e.kind != "handoff" and e.pass_label in labels:
                total += e.end_s - e.start_s
        return total

    def spans(self, role_of: Callable[[str], str]) -> dict[str, dict[str, np.ndarray]]:
        """Every record's [start, end], by PU and by role (an (n, 2) array each): `role_of(label)` for passes,
        "handoff" for handoffs; one pass over the log (a pass record on one placement is one span: its tasks ran
        back to back; a DAG pass, its busy spans on each PU). A record's `pu` is its placement's DRAM group: one
        PU's name, or the clusters it spans joined by '+'."""
        plain: dict[tuple[str, str], list[tuple[float, float]]] = {}
        chunks: dict[tuple[str, str], list[np.ndarray]] = {}
        for e in self.entries:
            if isinstance(e, _DagRecord):    # busy on several PUs, each for parts of it
                role, t0 = role_of(e.label), e.start_s
                for group, handoff, spans in e.totals.spans:
                    for pu in group.split("+"):
                        chunks.setdefault((pu, "handoff" if handoff else role), []).append(spans + t0)
                continue
            if type(e) is OpEvent:
                role = "handoff" if e.kind == "handoff" else role_of(e.pass_label)
            else:
                role = role_of(e.label)
            for pu in e.pu.split("+"):          # a placement spanning clusters keeps each of them busy
                plain.setdefault((pu, role), []).append((e.start_s, e.end_s))
        out: dict[str, dict[str, np.ndarray]] = {}
        for key in list(dict.fromkeys([*plain, *chunks])):
            pu, role = key
            out.setdefault(pu, {})[role] = np.concatenate(
                [np.array(plain.get(key, []), dtype=float).reshape(-1, 2), *chunks.get(key, [])])
        return out


def merged(*spans: np.ndarray) -> np.ndarray:
    """The union of [start, end] intervals (arrays or lists of pairs) as disjoint intervals, in order: (k, 2)."""
    a = np.concatenate([np.asarray(s, dtype=float).reshape(-1, 2) for s in spans]) if spans else np.empty((0, 2))
    if not len(a):
        return a
    a = a[np.lexsort((a[:, 1], a[:, 0]))]
    reach = np.maximum.accumulate(a[:, 1])
    first = np.flatnonzero(np.concatenate(([True], a[1:, 0] > reach[:-1])))    # each block's first interval
    return np.stack((a[first, 0], np.maximum.reduceat(a[:, 1], first)), axis=1)


def union_s(*spans) -> float:
    """Length of the union of the [start, end] intervals of every argument."""
    blocks = merged(*spans)
    return float((blocks[:, 1] - blocks[:, 0]).sum())
