"""What the engine runs when one pass spans several placements: a DAG of tasks, each on its own placement.

A DagPlan is a pass whose tasks do not all run on one placement (a model split by layers, by op class or one op
split across two PUs: simulator/llm/partition.py builds them). Each node is a task on a placement, or a handoff
(the data one task made crossing to another PU: fence, cache maintenance, runtime call, a copy where memory is
not shared). A node starts when every node it takes input from has ended and, for a task, when its placement's
cores are free: independent nodes on different PUs run at once and share DRAM (engine.Engine._dag). Where the
tasks come from is not the engine's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from simulator.engine.plan import Task
from simulator.hw.placement import Placement


@dataclass(frozen=True, slots=True)
class DagNode:
    """A task on `placement`, or (with `source`) a handoff of `task.bytes` from `source` to `placement`; it starts
    once the nodes `inputs` (indices of earlier nodes) have ended."""

    task: Task
    placement: Placement
    inputs: tuple[int, ...]
    source: Placement | None = None

    @property
    def handoff(self) -> bool:
        return self.source is not None


@dataclass(frozen=True, eq=False)
class DagPlan:
    """The nodes of one pass in a topological order (every node after its inputs). Compared by identity."""

    nodes: tuple[DagNode, ...]
    alone_runs: dict = field(default_factory=dict, repr=False)   # DagAlone by the engine's configuration

    @cached_property
    def entry(self) -> Placement:
        """Where the pass's input arrives: its first node's placement."""
        return self.nodes[0].placement

    @cached_property
    def exit(self) -> Placement:
        """Where its output leaves: its last node's placement."""
        return self.nodes[-1].placement

    @cached_property
    def flops(self) -> float:
        return sum(n.task.flops for n in self.nodes if not n.handoff)

    @cached_property
    def bytes(self) -> float:
        """DRAM bytes of its tasks (a handoff's bytes are counted only where they are copied)."""
        return sum(n.task.bytes for n in self.nodes if not n.handoff)

    @cached_property
    def handoffs(self) -> int:
        return sum(n.handoff for n in self.nodes)


@dataclass(frozen=True)
class DagAlone:
    """A DAG pass as it runs alone on the SoC (nothing else in flight): each node's start and end from the pass's
    start, its duration, the DRAM counter's steps (time from the start, rates by group, total) and its peak. A
    pure function of the plan and the engine's configuration, so the engine simulates it once per plan and
    replays it (Engine._dag_alone)."""

    starts: np.ndarray
    ends: np.ndarray
    duration_s: float
    counter: tuple[tuple[float, dict, float], ...]
    peak_B_s: float
    alone_s: np.ndarray           # per node, what it takes with nothing else running (a handoff: latency and copy)
    spans: tuple[tuple[str, bool, float, float], ...] = ()   # (group, handoff?, start, end): busy time, merged
    bytes: float = 0.0            # moved by its nodes, handoffs included
    contention_s: float = 0.0     # its nodes' time lost to sharing DRAM (with each other)
    busy_s: float = 0.0           # its tasks' summed time (handoffs excluded)
