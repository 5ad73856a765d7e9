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
from functools import cached_property

import networkx as nx

from simulator.hw.dtypes import COMPUTE_DTYPES
from simulator.llm.graph import Op, PassShape, pass_graph, template_ops
from simulator.hw.placement import Placement
from simulator.llm.model import ModelSpec, Precision
from simulator.hw.soc import SoC


@dataclass(frozen=True, slots=True)
class Task:
    """One schedulable unit of a pass on its placement; what the engine runs."""

    name: str
    kind: str                 # op kind, or "layer" / "model" for coarse nodes
    flops: float
    bytes: float
    compute_s: float          # the floor set by compute; an op never streams faster than bytes / compute_s
    overhead_s: float         # dispatch or launch, spent before the op streams
    bandwidth_cap_B_s: float  # the most this op may pull from DRAM (its PU's cap for its cores)
    alone_s: float            # duration alone on the SoC: overhead + max(compute_s, bytes / min(cap, DRAM))
    compute_bound: bool       # alone, compute takes longer than moving the bytes (summed over members)
    stream_cap_B_s: float     # the fastest it streams: its PU's cap, never faster than it computes; 0 = no bytes

    def renamed(self, name: str) -> "Task":
        return Task(name, self.kind, self.flops, self.bytes, self.compute_s, self.overhead_s, self.bandwidth_cap_B_s,
                    self.alone_s, self.compute_bound, self.stream_cap_B_s)

@dataclass(frozen=True, eq=False)
class PassPlan:
    """The tasks of one forward pass, in the order they run on their placement.

    Kept compressed: every layer's ops cost the same, so `unique` holds the distinct costed nodes and `order`
    says which one each node in run order is; `names` are the nodes' names. `tasks` spells it out when needed.
    """

    placement: Placement
    shape: PassShape
    unique: tuple[Task, ...]
    order: tuple[int, ...]
    names: tuple[str, ...]

    @classmethod
    def of(cls, placement: Placement, shape: PassShape, tasks) -> "PassPlan":
        tasks = tuple(tasks)
        return cls(placement, shape, tasks, tuple(range(len(tasks))), tuple(t.name for t in tasks))

    @cached_property
    def tasks(self) -> tuple[Task, ...]:
        unique = self.unique
        return tuple(unique[i] if unique[i].name == name else unique[i].renamed(name)
                     for i, name in zip(self.order, self.names))

    @cached_property
    def counts(self) -> tuple[int, ...]:
        """How many nodes of the pass each unique task stands for."""
        counts = [0] * len(self.unique)
        for i in self.order:
            counts[i] += 1
        return tuple(counts)

    def _sum(self, attr: str) -> float:
        return sum(getattr(t, attr) * n for t, n in zip(self.unique, self.counts))

    @property
    def alone_s(self) -> float:
        return sum(self.unique[i].alone_s for i in self.order)

    @property
    def flops(self) -> float:
        return self._sum("flops")

    @cached_property
    def bytes(self) -> float:
        return self._sum("bytes")


def precision_on(precision: Precision, placement: Placement) -> Precision:
    """The formats a model really uses on this placement, after the PU's promotions."""
    pu = placement.pu
    weights = pu.compute_dtype(precision.weights) if precision.weights in COMPUTE_DTYPES else precision.weights
    return Precision(weights, pu.compute_dtype(precision.activations), pu.compute_dtype(precision.kv_cache))


def op_compute_s(op: Op, placement: Placement) -> float:
    if op.flops == 0:
        return 0.0
    return op.flops / placement.pu.flop_rate(op.dtype, op.op_class, placement.units)


def make_task(name: str, kind: str, ops: tuple[Op, ...], placement: Placement, soc: SoC) -> Task:
    """Cost one DAG node (one op, or the member ops of a coarse node) on a placement."""
    pu = placement.pu
    cap = pu.op_bandwidth_cap(placement.units)
    alone_bw = min(cap, soc.dram.usable_B_s)
    costed: dict[int, tuple[float, float, float, float]] = {}   # a coarse node repeats its layers' ops:
    rows = []                                                    # cost each op object once
    for op in ops:
        row = costed.get(id(op))
        if row is None:
            nbytes = op.bytes
            row = costed[id(op)] = (op_compute_s(op, placement), nbytes / alone_bw, nbytes, op.flops)
        rows.append(row)
    if len(rows) == 1:
        compute = rows[0][0]
        stream = max(compute, rows[0][1])
    else:
        compute = stream = sum(max(c, m) for c, m, _b, _f in rows)
    overhead = pu.overhead_s * len(ops)
    nbytes = sum(r[2] for r in rows)
    stream_cap = 0.0 if nbytes <= 0 else (min(cap, nbytes / compute) if compute > 0 else cap)
    return Task(name=name, kind=kind, flops=sum(r[3] for r in rows), bytes=nbytes, compute_s=compute,
                overhead_s=overhead, bandwidth_cap_B_s=cap, alone_s=overhead + stream,
                compute_bound=sum(r[0] for r in rows) >= sum(r[1] for r in rows), stream_cap_B_s=stream_cap)


def _run_order(graph: nx.DiGraph):
    """Nodes in the order they run, each as (name, task kind, member ops)."""
    for name in nx.lexicographical_topological_sort(graph, key=_node_order(graph)):
        ops = graph.nodes[name]["ops"]
        yield name, (ops[0].kind if len(ops) == 1 else ("layer" if name.startswith("L") else name)), ops


def plan_pass(model: ModelSpec, precision: Precision, shape: PassShape, placement: Placement, soc: SoC,
              granularity: str) -> PassPlan:
    """Cost every node of the pass DAG on the placement, in a deterministic topological order.

    The reference path, through the networkx DAG; Planner gets the same plans faster from a layout."""
    graph = pass_graph(model, precision_on(precision, placement), shape, granularity)
    return PassPlan.of(placement, shape, (make_task(name, kind, ops, placement, soc)
                                          for name, kind, ops in _run_order(graph)))


Layout = tuple[tuple[str, str, tuple[str, ...]], ...]   # (node name, task kind, kinds of its member ops), run order


def layout(model: ModelSpec, granularity: str) -> Layout:
    """The shape-independent part of a pass plan: node names, their order and their member op kinds.

    Taken from the DAG at a small reference shape: the DAG's structure does not depend on the shape."""
    graph = pass_graph(model, Precision("fp16", "fp16", "fp16"), PassShape(1, 1, True), granularity)
    return tuple((name, kind, tuple(op.kind for op in ops)) for name, kind, ops in _run_order(graph))


def plan_from_layout(nodes: Layout, model: ModelSpec, precision: Precision, shape: PassShape, placement: Placement,
                     soc: SoC) -> PassPlan:
    """The same plan as plan_pass, costing each distinct node once (all layers are alike)."""
    ops = template_ops(model, precision_on(precision, placement), shape)
    index: dict[tuple[str, ...], int] = {}
    unique: list[Task] = []
    order = []
    for name, kind, members in nodes:
        i = index.get(members)
        if i is None:
            i = index[members] = len(unique)
            unique.append(make_task(name, kind, tuple(ops[k] for k in members), placement, soc))
        order.append(i)
    return PassPlan(placement, shape, tuple(unique), tuple(order), tuple(name for name, _, _ in nodes))


class Planner:
    """Pass plans for one simulation, memoised by shape: the same pass is costed once per run, and a new shape
    costs only the distinct ops of one layer (plan_from_layout)."""

    def __init__(self, soc: SoC, granularity: str):
        self.soc = soc
        self.granularity = granularity
        self._plans: dict[tuple, PassPlan] = {}
        self._layouts: dict[ModelSpec, Layout] = {}

    def plan(self, model: ModelSpec, precision: Precision, shape: PassShape, placement: Placement) -> PassPlan:
        key = (model, precision, shape, placement)
        plan = self._plans.get(key)
        if plan is None:
            nodes = self._layouts.get(model)
            if nodes is None:
                nodes = self._layouts[model] = layout(model, self.granularity)
            plan = self._plans[key] = plan_from_layout(nodes, model, precision, shape, placement, self.soc)
        return plan


def _node_order(graph: nx.DiGraph):
    """Ties between ready nodes break by insertion order (q before k before v), never by name."""
    index = {name: i for i, name in enumerate(graph.nodes)}
    return index.__getitem__
