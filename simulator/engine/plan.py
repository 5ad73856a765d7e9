"""What the engine runs: a Plan, the tasks of one pass in run order on one placement.

A task is a unit of work with a compute floor, a number of DRAM bytes and a fixed overhead (dispatch or launch).
Alone on the SoC it takes overhead + max(compute, bytes / bandwidth it may pull); under contention it streams its
bytes at the rate the DRAM's sharing gives it, never faster than `stream_cap_B_s` (its PU's cap for its cores,
and bytes / compute time: it never pulls bytes faster than it can use them). Where tasks come from (an LLM's
forward pass, costed by simulator/llm/costs.py) is not the engine's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

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


@dataclass(frozen=True, eq=False)
class Plan:
    """The tasks of one pass, in the order they run on `placement`. Compared and hashed by identity.

    Kept compressed: passes repeat the same few tasks (every layer of a model costs the same), so `unique` holds
    the distinct tasks and `order` says which one each node in run order is; `names` are the nodes' names.
    """

    placement: Placement
    unique: tuple[Task, ...]
    order: tuple[int, ...]
    names: tuple[str, ...]

    @classmethod
    def of(cls, placement: Placement, tasks) -> "Plan":
        """A plan of distinct tasks, each run once in the given order."""
        tasks = tuple(tasks)
        return cls(placement, tasks, tuple(range(len(tasks))), tuple(t.name for t in tasks))

    @cached_property
    def counts(self) -> tuple[int, ...]:
        """How many nodes of the plan each unique task stands for."""
        counts = [0] * len(self.unique)
        for i in self.order:
            counts[i] += 1
        return tuple(counts)

    @property
    def alone_s(self) -> float:
        return sum(self.unique[i].alone_s for i in self.order)

    @property
    def flops(self) -> float:
        return sum(t.flops * n for t, n in zip(self.unique, self.counts))

    @cached_property
    def bytes(self) -> float:
        return sum(t.bytes * n for t, n in zip(self.unique, self.counts))
