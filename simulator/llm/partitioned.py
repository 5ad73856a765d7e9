"""Costing a pass of a model on a partition (llm/partition.py): the DAG plan the engine schedules.

The pass DAG is the op DAG (graph.op_nodes), each op on its rule's shares. At a coarse granularity (layer, model)
the ops of one coarse node that run one after another on the same placement are one task, as in an unpartitioned
plan. Every DAG edge between nodes on different PUs goes through a handoff (one per producing share and
receiving PU) carrying the producer's output bytes. Each task is costed as an unpartitioned plan costs a node
(costs.counted_task), in the formats its placement really uses (costs.precision_on); a format a PU cannot run
(no rate for its arithmetic, or weights it does not read, after its SoC file's promotions) is refused.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from functools import cached_property

from simulator.common.errors import InputError
from simulator.engine.dag import DagNode, DagPlan
from simulator.engine.plan import Task, TaskTable
from simulator.hw.placement import Placement
from simulator.hw.soc import SoC
from simulator.llm.costs import counted_task, precision_on
from simulator.llm.graph import Op, PassShape, coarse_kind, node_group, op_nodes, template_ops
from simulator.llm.model import ModelSpec, Precision
from simulator.llm.partition import Partition, Share


@dataclass(frozen=True)
class _Segment:
    """Op nodes that run one after another on one share (one op, or at a coarse granularity several of one coarse
    node): the task they make (its member op keys) and the segments it takes input from."""

    name: str                      # its first op node's name
    kind: str                      # its first op's kind
    group: str                     # its coarse node
    keys: tuple[str, ...]          # member ops' template keys, in run order
    share: Share
    inputs: tuple[tuple[int, str], ...]   # (segment, the op key whose output it reads)
    split: bool = False            # a share of an op split across two PUs


class PartitionedForm:
    """Every pass of one model on one partition that differ only in their shape: the DAG's structure (segments,
    their shares and edges, handoffs) read off the op DAG once, then each shape costs its tasks."""

    PLANS = 4096   # plans kept: a longer run recosts what it meets again

    def __init__(self, model: ModelSpec, precision: Precision, kv_cache: bool, logits: int, partition: Partition,
                 soc: SoC, granularity: str, flag: str = "--target-device"):
        self.model, self.precision, self.soc = model, precision, soc
        self.partition = partition
        self._plans: dict[PassShape, DagPlan] = {}
        segments: list[_Segment] = []
        where: dict[str, tuple[int, ...]] = {}   # op node name -> its segments (a split op: one per share)
        key_of: dict[str, str] = {}              # op node name -> its template key
        used, matched = set(), set()
        fell_back: Counter = Counter()
        rules = partition.rules
        for name, op, key, layer, inputs in op_nodes(model, precision, PassShape(1, 1, kv_cache, logits)):
            selecting = [i for i in range(len(rules)) if rules[i].selects(op.kind, op.op_class, layer)]
            matched.update(selecting)
            rule = selecting[-1]
            used.add(rule)
            for asked in rules[rule].shares:
                if not asked.placement.pu.runs_class(op.op_class):
                    fell_back[(asked.placement.pu.name, op.kind)] += 1
            shares = partition.shares_of(rules[rule], op.op_class)
            group = node_group(granularity, name, layer)
            sources = tuple((j, key_of[src]) for src in inputs for j in where[src])
            key_of[name] = key
            last = segments[-1] if segments else None
            if (granularity != "op" and last is not None and len(shares) == 1 and last.share == shares[0]
                    and last.group == group):
                outside = tuple(s for s in sources if s[0] != len(segments) - 1 and s not in last.inputs)
                segments[-1] = replace(last, keys=last.keys + (key,), inputs=last.inputs + outside)
                where[name] = (len(segments) - 1,)
                continue
            where[name] = tuple(range(len(segments), len(segments) + len(shares)))
            for share in shares:
                segments.append(_Segment(name, op.kind, group, (key,), share, sources, len(shares) > 1))
        source = partition.source or flag
        for i, r in enumerate(rules):
            if r.layers is not None and r.layers[1] >= model.num_layers:
                raise InputError(source, f"rule {r.text!r} names layers {model.name} does not have ({model.num_layers} "
                                         f"layers: L0-{model.num_layers - 1})")
            if i not in matched:
                raise InputError(source, f"rule {r.text!r} selects no op of {model.name}")
            if i not in used and i > 0:     # the default may be overridden everywhere
                raise InputError(source, f"rule {r.text!r} places no op: later rules place every op it selects")
        self.segments = _name_segments(segments, granularity)
        self.fallbacks = dict(sorted(fell_back.items()))
        self._check_formats(source, flag)

    def _check_formats(self, source: str, flag: str) -> None:
        """Every op on a PU that can run its arithmetic and read its weights (after the PU's promotions)."""
        ops = self._templates(PassShape(1, 1, True, 1))
        for seg in self.segments:
            pu = seg.share.placement.pu
            on = precision_on(self.precision, seg.share.placement)
            for key in dict.fromkeys(seg.keys):
                op = ops[seg.share.placement][key]
                dtype = pu.compute_dtype(op.dtype)
                if dtype not in pu.flop_per_cycle or op.op_class == "matmul" and not pu.reads(on.weights):
                    arithmetic = dtype not in pu.flop_per_cycle
                    what = f"{op.dtype} arithmetic" if arithmetic else f"{on.weights} weights"
                    runs = (f"computes in {', '.join(pu.flop_per_cycle)}" if arithmetic else
                            f"reads {', '.join(pu.weight_formats)} weights")
                    dtype_flag = (f"{flag.replace('-device', '-dtype')} or {flag.replace('-device', '-act-dtype')}"
                                  if flag.endswith("-device") else "its dtype flags")
                    raise InputError(source, f"{pu.name} cannot run {self.model.name}'s {op.kind} in {what} (it "
                                           f"{runs}; {self.soc.source} promotes {_promotions(pu)}): give the model "
                                           f"in a format it runs ({dtype_flag}) or place that op elsewhere")

    def _templates(self, shape: PassShape) -> dict[Placement, dict[str, Op]]:
        """Per placement, the pass's ops in the formats that placement uses. On an NPU an int8-weight matmul computes
        in its activations' arithmetic when they are wider (int16, fp16, fp32 after its promotions): an NPU's MAC
        array takes both operands in one format, so w8a16 runs at its int16 rate and w8 on fp16 activations at its
        fp16 rate, or is refused where it has none (a CPU's int8 kernels quantize the activations instead)."""
        out, by_precision = {}, {}
        for placement in self.partition.placements():
            on = precision_on(self.precision, placement)
            npu = placement.pu.kind == "npu" and on.activations != "int8"
            if (on, npu) not in by_precision:
                ops = template_ops(self.model, on, shape)
                if npu:
                    ops = {k: replace(op, dtype=on.activations) if op.op_class == "matmul" and op.dtype == "int8" else op
                           for k, op in ops.items()}
                by_precision[on, npu] = ops
            out[placement] = by_precision[on, npu]
        return out

    def plan(self, shape: PassShape) -> DagPlan:
        plan = self._plans.get(shape)
        if plan is None:
            if len(self._plans) >= self.PLANS:
                del self._plans[next(iter(self._plans))]
            plan = self._plans[shape] = DagPlan(self._structure[0], self._table(shape))
        return plan

    def weight_bytes(self, shape: PassShape) -> float:
        """Weight bytes one pass reads (each op's weights in its placement's formats, each share its fraction)."""
        ops = self._templates(shape)
        return sum(_scaled(ops[seg.share.placement][k], seg.share.fraction).weights
                   for seg in self.segments for k in seg.keys)

    @cached_property
    def _structure(self) -> tuple[tuple[DagNode, ...], tuple]:
        """The DAG's nodes in a topological order, the same for every shape: a host task (the SoC's per-token cost)
        when it has one, then each segment's task, each preceded by the handoffs it needs; and per node what its
        numbers come from (("host",), ("task", segment) or ("handoff", producing segment, the op key it hands))."""
        nodes: list[DagNode] = []
        recipes: list[tuple] = []
        index: dict[int, int] = {}                  # segment -> its node
        handoffs: dict[tuple[int, str], int] = {}   # (producing node, receiving PU) -> the handoff's node
        host = None
        if self.soc.token_overhead_s > 0:
            host = 0
            nodes.append(DagNode("host", "host", self.partition.entry, ()))
            recipes.append(("host",))
        for i, seg in enumerate(self.segments):
            place = seg.share.placement
            inputs = []
            for s, src_key in seg.inputs:
                producer = self.segments[s]
                if producer.share.placement.pu.name == place.pu.name:
                    inputs.append(index[s])
                    continue
                h = handoffs.get((index[s], place.pu.name))
                if h is None:
                    h = handoffs[(index[s], place.pu.name)] = len(nodes)
                    nodes.append(DagNode(f"{producer.name}>{place.pu.name}", "handoff", place, (index[s],),
                                         producer.share.placement))
                    recipes.append(("handoff", s, src_key))
                inputs.append(h)
            if not seg.inputs and host is not None:
                inputs.append(host)
            index[i] = len(nodes)
            nodes.append(DagNode(seg.name, seg.kind, place, tuple(dict.fromkeys(inputs))))
            recipes.append(("task", i))
        return tuple(nodes), tuple(recipes)

    def _table(self, shape: PassShape) -> TaskTable:
        """The numbers of the shape's tasks, one row per node: each segment's members costed on its placement (a
        node of the same members on the same share costs the same), a handoff's bytes the output it hands over."""
        ops = self._templates(shape)
        soc = self.soc
        nodes, recipes = self._structure
        costed: dict[tuple, Task] = {}
        tasks = []
        for node, recipe in zip(nodes, recipes):
            if recipe[0] == "host":
                task = Task("host", "host", 0.0, 0.0, 0.0, soc.token_overhead_s, soc.token_overhead_s, True, 0.0)
            elif recipe[0] == "handoff":
                producer = self.segments[recipe[1]]
                nbytes = _scaled(ops[producer.share.placement][recipe[2]], producer.share.fraction).act_out
                task = Task(node.name, "handoff", 0.0, nbytes, 0.0, 0.0, 0.0, False, 0.0)
            else:
                seg = self.segments[recipe[1]]
                key = (seg.keys, seg.share.placement, seg.share.fraction)
                task = costed.get(key)
                if task is None:
                    on = ops[seg.share.placement]
                    counted = tuple((_scaled(on[k], seg.share.fraction), n) for k, n in Counter(seg.keys).items())
                    task = costed[key] = counted_task(seg.name, seg.kind, counted, seg.share.placement, soc)
            tasks.append(task)
        # the nodes' names and kinds are the structure's, shared by every shape's table
        return replace(TaskTable.of(tasks), names=self._names, kinds=self._kinds)

    @cached_property
    def _names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self._structure[0])

    @cached_property
    def _kinds(self) -> tuple[str, ...]:
        return tuple(n.kind for n in self._structure[0])

    def describe(self) -> dict:
        """The partition as resolved for this model: its rules, its fallback and which ops fell back."""
        p = self.partition
        return {"partition": p.text, "rules": [r.text for r in p.rules], "fallback": p.fallback.label,
                "nodes_per_pass": len(self._structure[0]),
                "fallbacks": [{"from": pu, "op": kind, "ops_per_pass": n} for (pu, kind), n in self.fallbacks.items()]}


def _name_segments(segments: list[_Segment], granularity: str) -> tuple[_Segment, ...]:
    """Task names: at op granularity the op's; at a coarse one the coarse node's when it is one task, else the node's
    and its first and last op kinds ("L3:q_proj..v_proj"); a share of a split op adds its share ("[gpu*0.6]")."""
    groups = Counter(s.group for s in segments)
    out = []
    for s in segments:
        if granularity == "op":
            name = s.name
        elif groups[s.group] == 1:
            name = s.group
        else:
            last = s.keys[-1].split("/")[0]
            name = f"{s.group}:{s.kind}" + (f"..{last}" if len(s.keys) > 1 else "")
        kind = s.kind if len(s.keys) == 1 else coarse_kind(s.group)
        out.append(replace(s, name=name + (f"[{s.share.label}]" if s.split else ""), kind=kind))
    return tuple(out)


def _scaled(op: Op, fraction: float) -> Op:
    """A share of an op: its FLOPs and bytes times the fraction, but a matmul's input, which every share reads."""
    if fraction == 1.0:
        return op
    return replace(op, flops=op.flops * fraction, weights=op.weights * fraction, kv_read=op.kv_read * fraction,
                   kv_write=op.kv_write * fraction, act_out=op.act_out * fraction,
                   act_in=op.act_in if op.op_class == "matmul" else op.act_in * fraction)


def _promotions(pu) -> str:
    return ", ".join(f"{a} to {b}" for a, b in pu.promote.items()) or "nothing"
