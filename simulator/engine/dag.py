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

from simulator.engine.plan import Task, TaskTable
from simulator.hw.placement import Placement


@dataclass(frozen=True, slots=True)
class DagNode:
    """A node as it is in every pass of its family: a task on `placement`, or (with `source`) a handoff from
    `source` to `placement`; it starts once the nodes `inputs` (indices of earlier nodes) have ended."""

    name: str
    kind: str
    placement: Placement
    inputs: tuple[int, ...]
    source: Placement | None = None

    @property
    def handoff(self) -> bool:
        return self.source is not None


@dataclass(frozen=True, eq=False)
class DagPlan:
    """One pass: its nodes in a topological order (every node after its inputs; shared by the passes of its
    family) and their numbers, one row per node (a TaskTable of one column: a handoff's bytes are what it carries,
    the rest nil). Compared by identity."""

    nodes: tuple[DagNode, ...]
    table: TaskTable
    alone_runs: dict = field(default_factory=dict, repr=False)   # eventlog.DagAlone by the engine's configuration

    @classmethod
    def of(cls, items) -> "DagPlan":
        """A plan from (task, placement, inputs) or, for a handoff, (task, placement, inputs, source) tuples."""
        items = [tuple(item) + (None,) * (4 - len(item)) for item in items]
        nodes = tuple(DagNode(t.name, t.kind, place, tuple(inputs), source) for t, place, inputs, source in items)
        return cls(nodes, TaskTable.of(t for t, *_ in items))

    def tasks(self) -> tuple[Task, ...]:
        """Its nodes' tasks, made at each call (a plan keeps columns, not objects)."""
        return self.table.tasks(0)

    @cached_property
    def _is_task(self) -> np.ndarray:
        return np.array([not n.handoff for n in self.nodes])

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
        return float(self.table.flops[self._is_task, 0].sum())

    @cached_property
    def bytes(self) -> float:
        """DRAM bytes of its tasks (a handoff's bytes are counted only where they are copied)."""
        return float(self.table.bytes[self._is_task, 0].sum())

    @cached_property
    def handoffs(self) -> int:
        return sum(n.handoff for n in self.nodes)
