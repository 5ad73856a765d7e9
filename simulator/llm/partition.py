"""Partitioned placements: one model's ops over several placements, and the pass DAG they make (an engine DagPlan).

A partition is a list of rules, written compactly where a device goes (`--target-device`) or in a mapping file:

    cpu:4,L0-13=npu,matmul=gpu*0.6+cpu:4,fallback=a55:4

Each rule is SELECT=DEVICE; the bare DEVICE (required, first) places every op; later rules override earlier ones
for the ops they select. SELECT is one or more terms joined by '.': a layer range `L0-13` (or one layer `L5`),
`embed` (the embedding), `head` (final norm, LM head, sampling), an op class (matmul, attention, elementwise) or
an op kind (q_proj, softmax, ...; graph.OP_KINDS): `L0-13.matmul` is the matmuls of layers 0 to 13. DEVICE is a
device string (`cpu:4`, `gpu`, `npu`, `a55:2@2`) or one op split across two PUs by a ratio, `gpu*0.6+cpu:4`:
the first share does 0.6 of the op (its FLOPs and bytes; each share of a matmul reads the whole input, as a
split over output columns does), the second the rest, both at once; the op ends when both have.
`fallback=DEVICE` says where the ops go that their PU cannot run (an NPU runs only the op classes its SoC file
lists): by default the SoC's host cluster, all its cores.

A mapping file (YAML, `--target-device FILE.yaml`) says the same:

    default: cpu:4
    rules:
      - {select: L0-13, device: npu}
      - {select: matmul, device: "gpu*0.6+cpu:4"}
    fallback: a55:4

The pass DAG is the op DAG (graph.op_nodes), each op on its rule's shares. At a coarse granularity (layer, model)
the ops of one coarse node that run one after another on the same placement are one task, as in an unpartitioned
plan. Every DAG edge between nodes on different PUs goes through a handoff (one per producing share and
receiving PU) carrying the producer's output bytes. Each task is costed as an unpartitioned plan costs a node
(costs.counted_task), in the formats its placement really uses (costs.precision_on); a format a PU cannot run
(no rate for its arithmetic, or weights it does not read, after its SoC file's promotions) is refused.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from simulator.common.bundled import resolve_file
from simulator.common.config import Section, read_mapping
from simulator.common.errors import InputError
from simulator.engine.dag import DagNode, DagPlan
from simulator.engine.plan import Task, TaskTable
from simulator.hw.placement import Placement, parse_device, place
from simulator.hw.soc import OP_CLASSES, SoC
from simulator.llm.costs import counted_task, precision_on
from simulator.llm.graph import OP_KINDS, Op, PassShape, coarse_kind, node_group, op_nodes, template_ops
from simulator.llm.model import ModelSpec, Precision

HEAD = ("final_norm", "lm_head", "sample")
MAX_RULES = 256
_LAYERS = re.compile(r"L([0-9]{1,6})(?:-([0-9]{1,6}))?")
_RATIO = re.compile(r"0?\.[0-9]{1,9}|0")
MIN_RATIO = 0.001      # a share below this would cost only its dispatches and handoffs


@dataclass(frozen=True)
class Share:
    """A placement and the fraction of an op it does."""

    placement: Placement
    fraction: float = 1.0

    @property
    def label(self) -> str:
        return self.placement.label if self.fraction == 1.0 else f"{self.placement.label}*{self.fraction:g}"


@dataclass(frozen=True)
class Rule:
    """SELECT=DEVICE: the ops it selects (a layer range, a part, an op class or kind; None: any) and their shares."""

    text: str
    shares: tuple[Share, ...]
    layers: tuple[int, int] | None = None
    part: str | None = None          # "embed" or "head"
    what: str | None = None          # an op class or an op kind

    def selects(self, kind: str, op_class: str, layer: int | None) -> bool:
        if self.layers is not None and (layer is None or not self.layers[0] <= layer <= self.layers[1]):
            return False
        if self.part == "embed" and kind != "embedding" or self.part == "head" and kind not in HEAD:
            return False
        return self.what is None or self.what in (kind, op_class)


@dataclass(frozen=True, eq=False)
class Partition:
    """A model's ops over placements: the last rule selecting an op places it (the first selects every op); a
    share on a PU that cannot run the op's class goes to `fallback` (a split share landing so on the PU of the
    other share makes the op run whole there). Compared and hashed by identity."""

    rules: tuple[Rule, ...]
    fallback: Placement
    text: str
    source: str = ""    # the mapping file it was read from ("" for the compact form): errors name it

    @property
    def label(self) -> str:
        return self.text

    cores = ()      # a partition holds the cores of each of its placements in turn, not one set

    def where(self, kind: str, op_class: str, layer: int | None) -> tuple[Share, ...]:
        """Where an op runs: its rule's shares, those on a PU that cannot run it on the fallback (a split whose
        shares both fall back is one share)."""
        rule = next(r for r in reversed(self.rules) if r.selects(kind, op_class, layer))
        shares = tuple(s if s.placement.pu.runs_class(op_class) else Share(self.fallback, s.fraction) for s in rule.shares)
        if len(shares) == 2 and shares[0].placement.pu.name == shares[1].placement.pu.name:
            kept = [s for s, asked in zip(shares, rule.shares) if s is asked] or [shares[0]]
            return (Share(kept[0].placement),)      # one share fell back beside the other: the op runs whole there
        return shares

    @cached_property
    def entry(self) -> Placement:
        """Where a pass's input arrives: the embedding's (first) placement."""
        return self.where("embedding", "elementwise", None)[0].placement

    @cached_property
    def exit(self) -> Placement:
        """Where its output leaves: sampling's (last) placement."""
        return self.where("sample", "elementwise", None)[-1].placement

    def form(self, model: ModelSpec, precision: Precision, kv_cache: bool, logits: int, soc: SoC, granularity: str,
             flag: str = "--target-device") -> "PartitionedForm":
        """The model's passes on this partition (what a Planner asks for)."""
        return PartitionedForm(model, precision, kv_cache, logits, self, soc, granularity, flag)

    def placements(self) -> tuple[Placement, ...]:
        """Every placement it may use, the fallback last."""
        seen = {}
        for rule in self.rules:
            for share in rule.shares:
                seen.setdefault((share.placement.pu.name, share.placement.slots), share.placement)
        return tuple(seen.values()) + (self.fallback,)


def is_partition(text: str) -> bool:
    """Does a device flag's value name a partition (a compact form or a mapping file) rather than one device?"""
    return any(c in text for c in "=,*+") or text.lower().endswith((".yaml", ".yml"))


def parse_partition(soc: SoC, text: str, flag: str) -> Partition:
    """A partition from its compact form, or from the mapping file it names."""
    if text.lower().endswith((".yaml", ".yml")) and "=" not in text and "," not in text:
        return _from_file(soc, text, flag)
    items = [item.strip() for item in text.split(",")]
    if len(items) > MAX_RULES:
        raise InputError(flag, f"{len(items)} rules: at most {MAX_RULES}")
    pairs = []
    for item in items:
        select, eq, device = item.rpartition("=") if "=" in item else ("", "", item)
        if not device.strip() or (eq and not select.strip()):
            raise InputError(flag, f"{item!r}: write SELECT=DEVICE, or a bare DEVICE for every op")
        pairs.append((select.strip() if eq else None, device.strip()))
    return _partition(soc, pairs, flag, text)


def _from_file(soc: SoC, path_text: str, flag: str) -> Partition:
    path, label = resolve_file("mappings", path_text, (".yaml", ".yml"))
    top = Section(label, read_mapping(path))
    if not any(k == "default" for k in top._data):
        raise top.fail("default", "missing: the device that places every op the rules do not")
    pairs = [(None, top.string("default"))]
    for i, sec in enumerate(top.sections("rules", [])):
        if sec.string("select") == "fallback":
            raise sec.fail("select", "the fallback has its own key (fallback: DEVICE), not a rule")
        pairs.append((sec.string("select"), sec.string("device")))
        sec.done()
        if i >= MAX_RULES:
            raise top.fail("rules", f"at most {MAX_RULES} rules")
    if top.has("fallback"):
        pairs.append(("fallback", top.string("fallback")))
    top.done()
    return _partition(soc, pairs, label, path_text, label)


def _partition(soc: SoC, pairs: list[tuple[str | None, str]], flag: str, text: str, source: str = "") -> Partition:
    if pairs[0][0] is not None:
        raise InputError(flag, f"{text[:60]!r}: begin with a bare DEVICE that places every op (e.g. 'cpu:4,{text[:30]}')")
    rules, fallback = [], None
    for select, device in pairs:
        if select == "fallback":
            if fallback is not None:
                raise InputError(flag, "gives fallback twice")
            fallback = _device(soc, device, flag)
            if not all(fallback.pu.runs_class(c) for c in OP_CLASSES):
                raise InputError(flag, f"fallback={device}: {fallback.pu.name} cannot run every op; fall back to a CPU or GPU")
            continue
        if select is None and rules:
            raise InputError(flag, f"{device!r}: only the first rule is a bare DEVICE; select ops for the others (SELECT=DEVICE)")
        rules.append(Rule(f"{select}={device}" if select else device, _shares(soc, device, flag), *_selector(select, flag)))
    if fallback is None:
        fallback = place([parse_device(soc, soc.host, flag)])[0]
    return Partition(tuple(rules), fallback, text, source)


def _selector(select: str | None, flag: str) -> tuple[tuple[int, int] | None, str | None, str | None]:
    """(layer range, part, op class or kind) of SELECT; None selects every op."""
    if select is None:
        return None, None, None
    layers = part = what = None
    for term in select.split("."):
        if (m := _LAYERS.fullmatch(term)) and layers is None and part is None:
            first, last = int(m.group(1)), int(m.group(2) if m.group(2) is not None else m.group(1))
            if last < first:
                raise InputError(flag, f"{term!r}: a layer range runs from low to high (L{last}-{first})")
            layers = (first, last)
        elif term in ("embed", "head") and part is None and layers is None:
            part = term
        elif (term in OP_CLASSES or term in OP_KINDS) and what is None:
            what = term
        else:
            raise InputError(flag, f"{select[:60]!r}: {term[:40]!r} is not a layer range (L0-13), embed, head, an op "
                                   f"class ({', '.join(OP_CLASSES)}) or an op kind ({', '.join(OP_KINDS)}), each "
                                   "at most once, joined by '.'")
    return layers, part, what


def _shares(soc: SoC, device: str, flag: str) -> tuple[Share, ...]:
    """`DEV` (one share), or `DEV*R+DEV` / `DEV*R+DEV*R2` (an op split across two PUs, R of it on the first)."""
    if "+" not in device:
        if "*" in device:
            raise InputError(flag, f"{device!r}: a ratio splits an op across two PUs: write DEV*R+DEV")
        return (Share(_device(soc, device, flag)),)
    parts = device.split("+")
    if len(parts) != 2:
        raise InputError(flag, f"{device!r}: an op splits across two PUs at most (DEV*R+DEV)")
    (a, ra), (b, rb) = (_ratio(p, flag) for p in parts)
    if ra is None and rb is None:
        raise InputError(flag, f"{device!r}: give the first share's ratio (DEV*R+DEV, R in 0.001..0.999)")
    ra = 1.0 - rb if ra is None else ra
    rb = 1.0 - ra if rb is None else rb
    if abs(ra + rb - 1.0) > 1e-9:
        raise InputError(flag, f"{device!r}: the two ratios must add up to 1, got {ra:g} + {rb:g}")
    first, second = _device(soc, a, flag), _device(soc, b, flag)
    if first.pu.name == second.pu.name:
        raise InputError(flag, f"{device!r}: a split is across two PUs; {first.pu.name} twice is one placement of more cores")
    return Share(first, ra), Share(second, rb)


def _ratio(part: str, flag: str) -> tuple[str, float | None]:
    device, star, ratio = part.partition("*")
    if not star:
        return device, None
    value = float(ratio) if _RATIO.fullmatch(ratio) else float("nan")
    if not MIN_RATIO <= value <= 1.0 - MIN_RATIO:
        raise InputError(flag, f"{part[:60]!r}: the ratio after '*' must be a decimal fraction in {MIN_RATIO:g}..{1 - MIN_RATIO:g} "
                               "(e.g. gpu*0.25+cpu:4)")
    return device, value


def _device(soc: SoC, text: str, flag: str) -> Placement:
    if not text or is_partition(text):
        raise InputError(flag, f"{text!r}: not a device (cpu:4, gpu, npu, a55:2@2, ...)")
    return place([parse_device(soc, text, flag)])[0]


# ---------------------------------------------------------------------------------------------- the pass DAG


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
            shares = partition.where(op.kind, op.op_class, layer)
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
            if i not in used:
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
                    what = f"{op.dtype} arithmetic" if dtype not in pu.flop_per_cycle else f"{on.weights} weights"
                    runs = ", ".join(pu.weight_formats or pu.flop_per_cycle)
                    dtype_flag = flag.replace("-device", "-dtype") if flag.endswith("-device") else "its dtype flag"
                    raise InputError(source, f"{pu.name} cannot run {self.model.name}'s {op.kind} in {what} (it runs "
                                           f"{runs}; {self.soc.source} promotes {_promotions(pu)}): give the model "
                                           f"in a format it runs ({dtype_flag}) or place that op elsewhere")

    def _templates(self, shape: PassShape) -> dict[Placement, dict[str, Op]]:
        """Per placement, the pass's ops in the formats that placement uses."""
        out, by_precision = {}, {}
        for placement in self.partition.placements():
            on = precision_on(self.precision, placement)
            if on not in by_precision:
                by_precision[on] = template_ops(self.model, on, shape)
            out[placement] = by_precision[on]
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
        rows = []
        for node, recipe in zip(nodes, recipes):
            if recipe[0] == "host":
                rows.append((0.0, 0.0, 0.0, soc.token_overhead_s, soc.token_overhead_s, True, 0.0))
            elif recipe[0] == "handoff":
                producer = self.segments[recipe[1]]
                nbytes = _scaled(ops[producer.share.placement][recipe[2]], producer.share.fraction).act_out
                rows.append((0.0, nbytes, 0.0, 0.0, 0.0, False, 0.0))
            else:
                seg = self.segments[recipe[1]]
                key = (seg.keys, seg.share.placement, seg.share.fraction)
                task = costed.get(key)
                if task is None:
                    on = ops[seg.share.placement]
                    counted = tuple((_scaled(on[k], seg.share.fraction), n) for k, n in Counter(seg.keys).items())
                    task = costed[key] = counted_task(seg.name, seg.kind, counted, seg.share.placement, soc)
                rows.append((task.flops, task.bytes, task.compute_s, task.overhead_s, task.alone_s, task.compute_bound,
                             task.stream_cap_B_s))
        columns = list(zip(*rows))
        return TaskTable(self._names, self._kinds, *(np.array(c, dtype=bool if k == 5 else float)[:, None]
                                                     for k, c in enumerate(columns)))

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
