"""Costing a forward pass on a placement: the pass DAG (graph.py) becomes an engine Plan of tasks.

One op alone on the SoC takes the roofline in time
    overhead + max(FLOPs / FLOP rate, bytes / bandwidth)
where the FLOP rate is the placement's (hw.soc.ProcessingUnit.flop_rate: measured for a matmul's weight format
where the SoC file has it) and the bandwidth is what the op may pull alone: min(its PU's cap for that many
cores, the DRAM's usable bandwidth). Under contention the engine shares DRAM between ops; an op then never
streams faster than bytes / compute time. On a placement spanning clusters an op is split evenly over the
cores and ends with its slowest share (_op_row). Every pass starts with the SoC's fixed per-token host cost,
when it has one.

A coarse node (a layer, the whole model) runs as one task whose compute floor is the sum of its members'
uncontended times, max(compute_i, bytes_i / bandwidth): alone it takes exactly as long as its members run
one after another, and under contention it asks for its members' average bandwidth.

One path from the DAG to a plan: the DAG's structure (node names, run order, member op kinds) does not depend
on the pass's shape, so it is read off the DAG once per model and granularity (`layout`); a pass of a given
shape then costs the distinct ops of one layer (graph.template_ops) and every node takes its members' costs.
Weight bytes per pass come the same way.

Tensor formats follow the placement: a plain dtype the PU promotes (int8 on the Mali under IREE) is stored
and computed in the promoted format.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

import networkx as nx

from simulator.engine.plan import Plan, Task
from simulator.hw.dtypes import COMPUTE_DTYPES
from simulator.hw.placement import Placement
from simulator.hw.soc import SoC
from simulator.llm.graph import Op, PassShape, pass_graph, template_ops
from simulator.llm.model import ModelSpec, Precision

Layout = tuple[tuple[str, str, tuple[str, ...]], ...]   # (node name, task kind, its member ops' keys), run order


def precision_on(precision: Precision, placement: Placement) -> Precision:
    """The formats a model really uses on this placement, after the PU's promotions."""
    pu = placement.pu
    weights = pu.compute_dtype(precision.weights) if precision.weights in COMPUTE_DTYPES else precision.weights
    return Precision(weights, pu.compute_dtype(precision.activations), pu.compute_dtype(precision.kv_cache))


def op_compute_s(op: Op, placement: Placement) -> float:
    if op.flops == 0:
        return 0.0
    return op.flops / placement.flop_rate(op.dtype, op.op_class, op.weight_format)


def _op_row(op: Op, placement: Placement, dram_B_s: float) -> tuple[float, float]:
    """(compute floor s, stream s alone) of one op. On one cluster: its compute time, and its bytes at the
    bandwidth it may pull alone. Spanning clusters, the op is split evenly over the cores: each cluster's share
    takes max(its compute, its bytes at its own bandwidth), the op ends with the slowest share (its floor), and
    all shares together stream at most at the sum of their caps."""
    if not placement.spill:
        return op_compute_s(op, placement), op.bytes / min(placement.bandwidth_cap_B_s, dram_B_s)
    floor = 0.0
    for share in placement.shares:
        part = share.units / placement.units
        floor = max(floor, part * op_compute_s(op, share), part * op.bytes / min(share.bandwidth_cap_B_s, dram_B_s))
    return floor, op.bytes / min(placement.bandwidth_cap_B_s, dram_B_s)


def make_task(name: str, kind: str, ops: tuple[Op, ...], placement: Placement, soc: SoC) -> Task:
    """Cost one DAG node (one op, or the member ops of a coarse node) on a placement."""
    counts = Counter(map(id, ops))
    distinct = {id(op): op for op in ops}
    return counted_task(name, kind, tuple((distinct[i], n) for i, n in counts.items()), placement, soc)


def counted_task(name: str, kind: str, counted: tuple[tuple[Op, int], ...], placement: Placement, soc: SoC) -> Task:
    """Cost one DAG node given as (op, how many times it occurs): a coarse node repeats its layers' ops, so each
    distinct op is costed once and weighed by its count."""
    rows = [(*_op_row(op, placement, soc.dram.usable_B_s), op.bytes, op.flops, n) for op, n in counted]
    if len(rows) == 1 and rows[0][4] == 1:
        compute = rows[0][0]
        stream = max(compute, rows[0][1])
    else:
        compute = stream = sum(n * max(c, m) for c, m, _b, _f, n in rows)
    members = sum(r[4] for r in rows)
    overhead = max(s.pu.overhead_s for s in placement.shares) * members
    nbytes = sum(n * b for _c, _m, b, _f, n in rows)
    cap = placement.bandwidth_cap_B_s
    stream_cap = 0.0 if nbytes <= 0 else (min(cap, nbytes / compute) if compute > 0 else cap)
    return Task(name=name, kind=kind, flops=sum(n * f for _c, _m, _b, f, n in rows), bytes=nbytes, compute_s=compute,
                overhead_s=overhead, alone_s=overhead + stream,
                compute_bound=sum(n * c for c, _m, _b, _f, n in rows) >= sum(n * m for _c, m, _b, _f, n in rows),
                stream_cap_B_s=stream_cap)


@lru_cache(maxsize=4096)
def _counts(members: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    """A node's member op keys, each once with how many times it occurs, in first-occurrence order."""
    return tuple(Counter(members).items())


def host_task(soc: SoC) -> Task:
    """The fixed host cost of a forward pass (sampling, graph launch, short ops), measured per generated token."""
    t = soc.token_overhead_s
    return Task(name="host", kind="host", flops=0.0, bytes=0.0, compute_s=0.0, overhead_s=t, alone_s=t,
                compute_bound=True, stream_cap_B_s=0.0)


def run_order(graph: nx.DiGraph):
    """The DAG's nodes in the order they run, each as (name, task kind, member ops, their template keys): a
    deterministic topological order whose ties between ready nodes break by insertion order (q before k before
    v), never by name."""
    index = {name: i for i, name in enumerate(graph.nodes)}
    for name in nx.lexicographical_topological_sort(graph, key=index.__getitem__):
        ops = graph.nodes[name]["ops"]
        kind = ops[0].kind if len(ops) == 1 else ("layer" if name.startswith("L") else name)
        yield name, kind, ops, graph.nodes[name]["keys"]


@lru_cache(maxsize=64)
def layout(model: ModelSpec, weights: str, granularity: str) -> Layout:
    """The DAG's structure: node names, their run order and their member ops' template keys (read off the DAG
    at a small reference shape: the structure does not depend on the shape, only on which layers store their
    weights alike). Memoised: it is a pure function."""
    graph = pass_graph(model, Precision(weights, "fp16", "fp16"), PassShape(1, 1, True), granularity)
    return tuple((name, kind, keys) for name, kind, _ops, keys in run_order(graph))


@lru_cache(maxsize=64)
def structure(model: ModelSpec, weights: str, granularity: str, host: bool) -> tuple[Layout, tuple[int, ...], tuple[str, ...]]:
    """A plan's shape-independent part: the distinct nodes (the first of each set of member ops: a layer's ops
    cost the same in every layer that stores its weights alike), each node's index among them in run order, and
    the nodes' names; with `host`, a host task comes first (index 0)."""
    index: dict[tuple[str, ...], int] = {}
    distinct, order = [], []
    for name, kind, members in layout(model, weights, granularity):
        i = index.get(members)
        if i is None:
            i = index[members] = len(distinct)
            distinct.append((name, kind, members))
        order.append(i + host)
    names = tuple(name for name, _, _ in layout(model, weights, granularity))
    return tuple(distinct), ((0,) if host else ()) + tuple(order), (("host",) if host else ()) + names


class Planner:
    """Pass plans for one SoC and granularity, memoised: the same pass is costed once, and a new shape costs
    only the distinct ops of one layer."""

    def __init__(self, soc: SoC, granularity: str):
        self.soc = soc
        self.granularity = granularity
        self._plans: dict[tuple, Plan] = {}
        self._seen: dict[tuple, Plan] = {}         # the same, keyed by the model object's identity: no hashing
        self._models: dict[int, ModelSpec] = {}    # of the model's every field on every pass; keeps them alive

    def plan(self, model: ModelSpec, precision: Precision, shape: PassShape, placement: Placement) -> Plan:
        """The tasks of one forward pass of `model` at `shape` on `placement`, in run order. A pass's ops depend on
        its shape only through the positions computed, the positions attended and the logits kept: without a KV
        cache, `new` tokens after `past` cost what `new + past` tokens after none do, so they share a plan."""
        seen = (id(model), precision, shape, placement)
        plan = self._seen.get(seen)
        if plan is None:
            if id(model) not in self._models and len(self._models) >= 16:   # a sweep's points load their models
                self._seen.clear()                                           # anew: the fast keys are bounded,
                self._models.clear()                                         # the plans stay
            self._models[id(model)] = model
            plan = self._seen[seen] = self._plan(model, precision, shape, placement)
        return plan

    def _plan(self, model: ModelSpec, precision: Precision, shape: PassShape, placement: Placement) -> Plan:
        if not shape.kv_cache and shape.past_tokens:
            shape = PassShape(shape.tokens, 0, False, shape.logits)
        key = (model, precision, shape, placement)
        plan = self._plans.get(key)
        if plan is None:
            on = precision_on(precision, placement)
            ops = template_ops(model, on, shape)
            distinct, order, names = structure(model, on.weights, self.granularity, self.soc.token_overhead_s > 0)
            unique = [host_task(self.soc)] if self.soc.token_overhead_s > 0 else []
            unique += [counted_task(name, kind, tuple((ops[k], n) for k, n in _counts(members)), placement, self.soc)
                       for name, kind, members in distinct]
            plan = self._plans[key] = Plan(placement, tuple(unique), order, names)
        return plan

    def weight_bytes(self, model: ModelSpec, precision: Precision, shape: PassShape, placement: Placement) -> float:
        """Weight bytes one pass reads on this placement (embedding rows gathered, every matmul's weights, norm
        gains), in the formats the placement really uses."""
        ops = template_ops(model, precision_on(precision, placement), shape)
        weights = precision_on(precision, placement).weights
        return sum(ops[k].weights for _name, _kind, members in layout(model, weights, self.granularity) for k in members)
