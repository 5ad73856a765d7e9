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

import numpy as np

from simulator.engine.plan import Plan, PlanBatch, Task, TaskTable
from simulator.hw.dtypes import COMPUTE_DTYPES
from simulator.hw.placement import Placement
from simulator.hw.soc import SoC
from simulator.llm.graph import Op, PassShape, bilinear_ops, coarse_kind, node_group, op_nodes
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
    overhead = max(soc.pu(s.pu.name).overhead_s for s in placement.shares) * members
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


@lru_cache(maxsize=64)
def layout(model: ModelSpec, weights: str, granularity: str) -> Layout:
    """The DAG's structure: node names in run order, their task kinds and their member ops' template keys. Read
    off its op nodes at a small reference shape (the structure does not depend on the shape, only on which layers
    store their weights alike), in the order they join the DAG: a topological order, in which each node of a
    coarse granularity is a contiguous run of op nodes, so it is the order run_order gives (tests/llm/test_costs.py
    checks both on every bundled model). Memoised: it is a pure function."""
    keys: dict[str, list[str]] = {}
    kinds: dict[str, str] = {}
    for name, op, key, layer, _inputs in op_nodes(model, Precision(weights, "fp16", "fp16"), PassShape(1, 1, True)):
        group = node_group(granularity, name, layer)
        keys.setdefault(group, []).append(key)
        kinds.setdefault(group, op.kind)
    return tuple((name, kinds[name] if len(members) == 1 else coarse_kind(name), tuple(members))
                 for name, members in keys.items())


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


class ClosedForm:
    """Every pass of one model on one placement that differ only in their positions (T computed, S attended),
    costed in closed form: each node's member ops, with FLOPs and bytes bilinear in T and S (graph.bilinear_ops),
    are rows of arrays, and BLOCK consecutive context lengths are costed at once (decoding asks for them one after
    another), so a new shape costs a column of a batch instead of costing its ops one by one. The arithmetic is
    counted_task's, row by row (tests/llm/test_costs.py pins the two equal)."""

    BLOCK = 64
    BATCHES = 256       # batches kept (16,384 context lengths): a longer run recosts what it meets again

    def __init__(self, model: ModelSpec, precision: Precision, kv_cache: bool, logits: int, placement: Placement,
                 soc: SoC, granularity: str):
        on = precision_on(precision, placement)
        ops = bilinear_ops(model, on, kv_cache, logits)
        host = soc.token_overhead_s > 0
        distinct, self.order, self.names = structure(model, on.weights, granularity, host)
        self.placement = placement
        self.kv_cache = kv_cache
        self.counts = np.bincount(self.order, minlength=len(distinct) + host).astype(float)
        self._batches: dict[tuple[int, int], PlanBatch] = {}
        dram = soc.dram.usable_B_s
        per_op = max(soc.pu(s.pu.name).overhead_s for s in placement.shares)
        # the host task, if any, is a node of one row that costs nothing but its overhead
        nodes = ([("host", "host", ())] if host else []) + list(distinct)
        self.node_names = tuple(name for name, _, _ in nodes)
        self.kinds = tuple(kind for _, kind, _ in nodes)
        rows, starts, single, overhead = [], [], [], []
        for name, kind, members in nodes:
            counted = _counts(members) if members else ()
            starts.append(len(rows))
            single.append(len(counted) <= 1 and sum(n for _, n in counted) <= 1)
            overhead.append(soc.token_overhead_s if not members else per_op * sum(n for _, n in counted))
            if not counted:
                rows.append(((0.0,) * 4, (0.0,) * 4, 0.0, 0.0, 1.0))
            for k, n in counted:
                op, flops, nbytes = ops[k]
                rows.append((flops, nbytes, *_row_rates(op, placement, dram), float(n)))
        coefficients = np.array([r[0] for r in rows] + [r[1] for r in rows])   # (2 x rows, 4): FLOPs, then bytes
        self._c0, self._cT, self._cS, self._cTS = (coefficients[:, k:k + 1] for k in range(4))
        self._per_flop, self._per_byte_floor, self._n = (np.array([r[k] for r in rows])[:, None] for k in (2, 3, 4))
        self._rows = len(rows)
        self._starts = np.array(starts)
        self._single = np.array(single)[:, None]
        self._overhead = np.array(overhead)[:, None]
        self._per_byte_alone = 1.0 / min(placement.bandwidth_cap_B_s, dram)
        self._cap = placement.bandwidth_cap_B_s

    def plan(self, tokens: int, context: int) -> Plan:
        """The plan of a pass computing `tokens` positions and attending `context` (without a KV cache the two
        are equal), from the batch of its block of context lengths."""
        block, j = divmod(context, self.BLOCK)
        key = (tokens if self.kv_cache else 0, block)
        batch = self._batches.get(key)
        if batch is None:
            if len(self._batches) >= self.BATCHES:       # the oldest made goes: memory bounded, whatever the run
                del self._batches[next(iter(self._batches))]
            batch = self._batches[key] = self._batch(tokens, block * self.BLOCK)
        return batch.plan(j)

    def _batch(self, tokens: int, first: int) -> PlanBatch:
        """The plans of context lengths first .. first + BLOCK - 1 (and as many tokens without a KV cache)."""
        S = np.arange(first, first + self.BLOCK, dtype=float)
        T = np.full_like(S, tokens) if self.kv_cache else S
        values = self._c0 + self._cT * T + self._cS * S + self._cTS * (T * S)      # (2 x rows, BLOCK), exact
        flops, nbytes = values[:self._rows], values[self._rows:]
        n = self._n
        compute = np.maximum(flops * self._per_flop, nbytes * self._per_byte_floor)  # each row's compute floor
        stream = nbytes * self._per_byte_alone                                         # and its bytes alone
        sums = np.add.reduceat(np.stack((n * compute, n * np.maximum(compute, stream), n * nbytes, n * flops,
                                         n * stream)), self._starts, axis=1)          # (5, nodes, BLOCK)
        node_compute = np.where(self._single, sums[0], sums[1])
        node_bytes = sums[2]
        computes = node_compute > 0
        cap = np.where(computes, np.minimum(self._cap, node_bytes / np.where(computes, node_compute, 1.0)), self._cap)
        overhead = np.broadcast_to(self._overhead, node_bytes.shape)
        table = TaskTable(self.node_names, self.kinds, sums[3], node_bytes, node_compute, overhead,
                          overhead + sums[1], sums[0] >= sums[4], np.where(node_bytes > 0, cap, 0.0))
        return PlanBatch(self.placement, table, self.order, self.names, self.counts)


def _row_rates(op: Op, placement: Placement, dram_B_s: float) -> tuple[float, float]:
    """(s per FLOP, s per byte) of an op's compute floor on a placement: its floor is max(FLOPs x the first,
    bytes x the second), _op_row's arithmetic. On one cluster, 1 / its FLOP rate and 0; spanning clusters, each
    cluster's share of the op (its fraction of the cores) at that cluster's rate and bandwidth, the slowest."""
    if not placement.spill:
        return 1.0 / placement.flop_rate(op.dtype, op.op_class, op.weight_format), 0.0
    per_flop = per_byte = 0.0
    for share in placement.shares:
        part = share.units / placement.units
        per_flop = max(per_flop, part / share.flop_rate(op.dtype, op.op_class, op.weight_format))
        per_byte = max(per_byte, part / min(share.bandwidth_cap_B_s, dram_B_s))
    return per_flop, per_byte
