"""Costing a pass DAG on a placement: each node becomes a Task with its compute floor, bytes and overhead.

One op alone on the SoC takes the roofline in time
    overhead + max(FLOPs / FLOP rate, bytes / bandwidth)
where the FLOP rate is the placement's (soc.ProcessingUnit.flop_rate) and the bandwidth is what the op may
pull alone: min(its PU's cap for that many cores, the DRAM's usable bandwidth). Under contention the engine
shares DRAM between ops (fluid.py); an op then never streams faster than bytes / compute time.

A coarse node (a layer, the whole model) runs as one task whose compute floor is the sum of its members'
uncontended times, max(compute_i, bytes_i / bandwidth): alone it takes exactly as long as its members run
one after another, and under contention it asks for its members' average bandwidth.

Tensor formats follow the placement: a plain dtype the PU promotes (int8 on the Mali under IREE) is stored
and computed in the promoted format.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import networkx as nx

from .dtypes import COMPUTE_DTYPES
from .graph import Op, PassShape, pass_graph
from .mapping import Placement
from .model import ModelSpec, Precision
from .soc import SoC


@dataclass(frozen=True, slots=True)
class Task:
    """One schedulable unit of a pass on its placement; what the engine runs."""

    name: str
    kind: str                 # op kind, or "layer" / "model" for coarse nodes
    flops: float
    bytes: float
    compute_s: float          # the floor set by compute; an op never streams faster than bytes / compute_s
    overhead_s: float         # dispatch or launch, spent before the op streams
    bandwidth_cap_Bps: float  # the most this op may pull from DRAM (its PU's cap for its cores)
    alone_s: float            # duration alone on the SoC: overhead + max(compute_s, bytes / min(cap, DRAM))

    @property
    def compute_bound(self) -> bool:
        return self.alone_s - self.overhead_s <= self.compute_s * (1 + 1e-12)


@dataclass(frozen=True)
class PassPlan:
    """The tasks of one forward pass, in the order they run on their placement."""

    placement: Placement
    tasks: tuple[Task, ...]
    shape: PassShape

    @property
    def alone_s(self) -> float:
        return sum(t.alone_s for t in self.tasks)

    @property
    def flops(self) -> float:
        return sum(t.flops for t in self.tasks)

    @property
    def bytes(self) -> float:
        return sum(t.bytes for t in self.tasks)


def precision_on(precision: Precision, placement: Placement) -> Precision:
    """The formats a model really uses on this placement, after the PU's promotions."""
    pu = placement.pu
    weights = pu.compute_dtype(precision.weights) if precision.weights in COMPUTE_DTYPES else precision.weights
    return Precision(weights, pu.compute_dtype(precision.activations), pu.compute_dtype(precision.kv_cache))


def op_compute_s(op: Op, placement: Placement) -> float:
    if op.flops == 0:
        return 0.0
    return op.flops / placement.pu.flop_rate(op.dtype, op.op_class, placement.units)


def _task(name: str, kind: str, ops: tuple[Op, ...], placement: Placement, soc: SoC) -> Task:
    pu = placement.pu
    cap = pu.op_bandwidth_cap(placement.units)
    alone_bw = min(cap, soc.dram.usable_Bps)
    computes = [op_compute_s(op, placement) for op in ops]
    if len(ops) == 1:
        compute = computes[0]
        stream = max(compute, ops[0].bytes / alone_bw)
    else:
        compute = stream = sum(max(c, op.bytes / alone_bw) for c, op in zip(computes, ops))
    overhead = pu.overhead_s * len(ops)
    return Task(name=name, kind=kind, flops=sum(o.flops for o in ops), bytes=sum(o.bytes for o in ops),
                compute_s=compute, overhead_s=overhead, bandwidth_cap_Bps=cap, alone_s=overhead + stream)


@lru_cache(maxsize=4096)
def plan_pass(model: ModelSpec, precision: Precision, shape: PassShape, placement: Placement, soc: SoC,
              granularity: str) -> PassPlan:
    """Cost every node of the pass DAG on the placement, in a deterministic topological order."""
    graph = pass_graph(model, precision_on(precision, placement), shape, granularity)
    tasks = []
    for name in nx.lexicographical_topological_sort(graph, key=_node_order(graph)):
        ops = graph.nodes[name]["ops"]
        kind = ops[0].kind if len(ops) == 1 else ("layer" if name.startswith("L") else name)
        tasks.append(_task(name, kind, ops, placement, soc))
    return PassPlan(placement=placement, tasks=tuple(tasks), shape=shape)


def _node_order(graph: nx.DiGraph):
    """Ties between ready nodes break by insertion order (q before k before v), never by name."""
    index = {name: i for i, name in enumerate(graph.nodes)}
    return index.__getitem__
