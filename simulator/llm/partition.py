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

How a partitioned pass is costed into a DAG plan: llm/partitioned.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from simulator.common.bundled import resolve_file
from simulator.common.config import Section, read_mapping
from simulator.common.errors import InputError
from simulator.hw.placement import Placement, parse_device, place
from simulator.hw.soc import OP_CLASSES, SoC
from simulator.llm.graph import OP_KINDS

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
        """Where an op runs: the shares of the last rule that selects it (shares_of)."""
        return self.shares_of(next(r for r in reversed(self.rules) if r.selects(kind, op_class, layer)), op_class)

    def shares_of(self, rule: Rule, op_class: str) -> tuple[Share, ...]:
        """The shares an op of this class runs on under `rule`: those on a PU that cannot run it on the fallback (a
        split whose shares both fall back is one share)."""
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


