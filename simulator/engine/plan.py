"""What the engine runs: a Plan, the tasks of one pass in run order on one placement.

A task is a unit of work with a compute floor, a number of DRAM bytes and a fixed overhead (dispatch or launch).
Alone on the SoC it takes overhead + max(compute, bytes / bandwidth it may pull); under contention it streams its
bytes at the rate the DRAM's sharing gives it, never faster than `stream_cap_B_s` (its PU's cap for its cores,
and bytes / compute time: it never pulls bytes faster than it can use them). Where tasks come from (an LLM's
forward pass, costed by simulator/llm/costs.py) is not the engine's business.

A plan keeps its distinct tasks as columns (TaskTable): a pass alone costs a few array operations over them,
whatever its number of nodes, and Task objects are made only when a pass runs task by task or is replayed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from simulator.hw.placement import Placement


@dataclass(frozen=True, slots=True)
class Task:
    """One schedulable unit of a plan."""

    name: str
    kind: str                 # what it is, for the event log and timelines (an op kind, "layer", "model", ...)
    flops: float
    bytes: float
    compute_s: float          # the floor set by compute
    overhead_s: float         # dispatch or launch, spent before the task streams
    alone_s: float            # its duration alone on the SoC: overhead + max(compute, bytes / what it may pull)
    compute_bound: bool       # alone, computing takes longer than moving its bytes
    stream_cap_B_s: float     # the fastest it streams (0: it moves no bytes and only computes)


COLUMNS = ("flops", "bytes", "compute_s", "overhead_s", "alone_s", "compute_bound", "stream_cap_B_s")


@dataclass(frozen=True, slots=True)
class TaskTable:
    """Distinct tasks as columns: the fields of Task as arrays (float; compute_bound bool), one entry per task,
    or one row per task and one column per plan in a PlanBatch."""

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    flops: np.ndarray
    bytes: np.ndarray
    compute_s: np.ndarray
    overhead_s: np.ndarray
    alone_s: np.ndarray
    compute_bound: np.ndarray
    stream_cap_B_s: np.ndarray

    @classmethod
    def of(cls, tasks) -> "TaskTable":
        """One column: these tasks."""
        tasks = tuple(tasks)
        columns = {c: np.array([[getattr(t, c)] for t in tasks], dtype=bool if c == "compute_bound" else float)
                   .reshape(len(tasks), 1) for c in COLUMNS}
        return cls(tuple(t.name for t in tasks), tuple(t.kind for t in tasks), **columns)

    def tasks(self, j: int) -> tuple[Task, ...]:
        """Column j's tasks."""
        columns = [getattr(self, c)[:, j].tolist() for c in COLUMNS]
        return tuple(Task(name, kind, *row) for name, kind, *row in zip(self.names, self.kinds, *columns))


@dataclass(frozen=True, slots=True)
class AloneSteps:
    """A plan's tasks alone on the SoC, where the DRAM gives one flow at most a given limit: per distinct task
    (arrays) its overhead, then its stream time (bytes at min(its cap, the limit)) or compute time, and its DRAM
    rate (0 when it only computes); the whole pass's duration and its highest rate. The arrays are column `j` of
    its batch's, taken when asked for (a replay): a plan keeps no array objects of its own."""

    overheads: np.ndarray       # (task, plan) arrays of the batch
    busies: np.ndarray
    rates: np.ndarray
    j: int
    total_s: float
    peak_B_s: float

    @property
    def overhead_s(self) -> np.ndarray:
        return self.overheads[:, self.j]

    @property
    def busy_s(self) -> np.ndarray:
        return self.busies[:, self.j]

    @property
    def rate_B_s(self) -> np.ndarray:
        return self.rates[:, self.j]

    def offsets(self, order) -> tuple[np.ndarray, np.ndarray]:
        """Each op's start and end from the pass's start, the distinct tasks `order` names run back to back: its
        overhead, then its stream or compute time, summed in run order (an accumulate adds as a loop would)."""
        order = np.asarray(order, dtype=int)
        steps = np.empty(2 * len(order))
        steps[0::2], steps[1::2] = self.overhead_s[order], self.busy_s[order]
        ends = np.cumsum(steps)[1::2]
        return np.concatenate(([0.0], ends[:-1])), ends


@dataclass(frozen=True, eq=False)
class PlanBatch:
    """Plans of the same nodes (placement, order, names) whose tasks differ only in their numbers: `table` has
    one column per plan (what a closed form gives for many pass shapes at once), `counts` how many nodes each
    distinct task stands for. Their totals and their closed forms alone are computed for all of them together."""

    placement: Placement
    table: TaskTable
    order: tuple[int, ...]
    names: tuple[str, ...]
    counts: np.ndarray = None
    _plans: dict = field(default_factory=dict, repr=False)
    _alone: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.counts is None:
            object.__setattr__(self, "counts", np.bincount(self.order, minlength=len(self.table.names)).astype(float))

    def plan(self, j: int) -> "Plan":
        """Column j's plan (the same object every time)."""
        plan = self._plans.get(j)
        if plan is None:
            plan = self._plans[j] = Plan(self, j)
        return plan

    def _sum(self, column: np.ndarray) -> np.ndarray:
        """Per plan: a column summed over the nodes (each distinct task times its count)."""
        return (self.counts[:, None] * column).sum(axis=0)

    @cached_property
    def totals(self) -> dict[str, np.ndarray]:
        t = self.table
        return {"alone_s": self._sum(t.alone_s), "flops": self._sum(t.flops), "bytes": self._sum(t.bytes)}

    def alone(self, limit_B_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per distinct task and plan, alone under the limit: (busy s, DRAM rate B/s, per plan its duration and
        its highest rate); memoised per limit."""
        out = self._alone.get(limit_B_s)
        if out is None:
            t = self.table
            cap = t.stream_cap_B_s
            streams = cap > 0
            rate = np.where(streams, np.minimum(cap, limit_B_s), 0.0)
            busy = np.where(streams, t.bytes / np.where(streams, rate, 1.0), t.compute_s)
            out = self._alone[limit_B_s] = (busy, rate, self._sum(t.overhead_s + busy), rate.max(axis=0, initial=0.0))
        return out


@dataclass(frozen=True, eq=False)
class Plan:
    """The tasks of one pass, in the order they run on `placement`: column `index` of a PlanBatch. Compared and
    hashed by identity.

    Kept compressed: passes repeat the same few tasks (every layer of a model costs the same), so the table holds
    the distinct tasks and `order` says which one each node in run order is; `names` are the nodes' names.
    """

    batch: PlanBatch
    index: int
    placement: Placement = field(init=False)
    order: tuple[int, ...] = field(init=False)
    names: tuple[str, ...] = field(init=False)
    _alone: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        for name in ("placement", "order", "names"):     # the batch's, as plain attributes (read on every pass)
            object.__setattr__(self, name, getattr(self.batch, name))

    @classmethod
    def of(cls, placement: Placement, tasks) -> "Plan":
        """A plan of distinct tasks, each run once in the given order."""
        tasks = tuple(tasks)
        return PlanBatch(placement, TaskTable.of(tasks), tuple(range(len(tasks))), tuple(t.name for t in tasks)).plan(0)

    @property
    def unique(self) -> tuple[Task, ...]:
        """The distinct tasks as Task objects, made anew at each call (for a pass run task by task, or replayed:
        a plan does not keep them, so that memory does not grow with the shapes a run meets)."""
        return self.batch.table.tasks(self.index)

    def column(self, name: str) -> list:
        """One field of its distinct tasks (a TaskTable column), as a list."""
        return getattr(self.batch.table, name)[:, self.index].tolist()

    @cached_property
    def alone_s(self) -> float:
        return float(self.batch.totals["alone_s"][self.index])

    @cached_property
    def flops(self) -> float:
        return float(self.batch.totals["flops"][self.index])

    @cached_property
    def bytes(self) -> float:
        return float(self.batch.totals["bytes"][self.index])

    def alone(self, limit_B_s: float) -> AloneSteps:
        """Its tasks alone on the SoC, where the DRAM gives one flow at most `limit_B_s` (memoised per limit)."""
        steps = self._alone.get(limit_B_s)
        if steps is None:
            busy, rate, total, peak = self.batch.alone(limit_B_s)
            j = self.index
            steps = self._alone[limit_B_s] = AloneSteps(self.batch.table.overhead_s, busy, rate, j, float(total[j]),
                                                        float(peak[j]))
        return steps
