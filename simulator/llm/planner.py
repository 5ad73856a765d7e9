"""Pass plans for one SoC and granularity, memoised: a placement's passes from their closed form (costs.py), a
partition's from its DAG form (partitioned.py)."""

from __future__ import annotations

from simulator.engine.plan import Plan
from simulator.hw.placement import Placement
from simulator.hw.soc import SoC
from simulator.llm.costs import ClosedForm, layout, precision_on
from simulator.llm.graph import PassShape, template_ops
from simulator.llm.model import ModelSpec, Precision
from simulator.llm.partitioned import PartitionedForm


class Planner:
    """Pass plans for one SoC and granularity, memoised: the same pass is costed once, and a new shape costs a
    column of its family's closed form (ClosedForm)."""

    def __init__(self, soc: SoC, granularity: str):
        self.soc = soc
        self.granularity = granularity
        self._families: dict[tuple, ClosedForm] = {}
        self._seen: dict[tuple, Plan] = {}         # the same, keyed by the identities of model, precision and
        self._alive: dict[int, object] = {}        # placement (no hashing of their fields on every pass), which
                                                   # it keeps alive so that their ids stay theirs

    def plan(self, model: ModelSpec, precision: Precision, shape: PassShape, placement: Placement) -> Plan:
        """The tasks of one forward pass of `model` at `shape` on `placement`, in run order. A pass's ops depend on
        its shape only through the positions computed, the positions attended and the logits kept: without a KV
        cache, `new` tokens after `past` cost what `new + past` tokens after none do, so they share a plan. Plans
        come from each pass family's closed form in the positions (ClosedForm)."""
        seen = (id(model), id(precision), id(placement), shape)
        plan = self._seen.get(seen)
        if plan is None:
            if (id(model) not in self._alive and len(self._alive) >= 48) or len(self._seen) >= 100_000:
                self._seen.clear()     # a sweep's points load their models anew, a long run meets many shapes:
                self._alive.clear()    # the fast keys are bounded (the families keep their batches)
            for thing in (model, precision, placement):
                self._alive[id(thing)] = thing
            plan = self._seen[seen] = self._plan(model, precision, shape, placement)
        return plan

    def _plan(self, model: ModelSpec, precision: Precision, shape: PassShape, placement: Placement) -> Plan:
        family = self._family(model, precision, shape, placement)
        if not isinstance(placement, Placement):       # a partition (llm/partition.py): a DAG plan
            return family.plan(shape)
        return family.plan(shape.tokens, shape.context)

    def _family(self, model: ModelSpec, precision: Precision, shape: PassShape, placement):
        """The closed form of the pass family (model, formats, KV cache, logits, placement), or a partition's form."""
        key = (model, precision, shape.kv_cache, shape.logits, placement)
        family = self._families.get(key)
        if family is None:
            if isinstance(placement, Placement):
                family = ClosedForm(model, precision, shape.kv_cache, shape.logits, placement, self.soc, self.granularity)
            else:
                family = PartitionedForm(model, precision, shape.kv_cache, shape.logits, placement, self.soc,
                                         self.granularity)
            self._families[key] = family
        return family

    def weight_bytes(self, model: ModelSpec, precision: Precision, shape: PassShape, placement: Placement) -> float:
        """Weight bytes one pass reads on this placement (embedding rows gathered, every matmul's weights, norm
        gains), in the formats the placement really uses."""
        if not isinstance(placement, Placement):
            return self._family(model, precision, shape, placement).weight_bytes(shape)
        ops = template_ops(model, precision_on(precision, placement), shape)
        weights = precision_on(precision, placement).weights
        return sum(ops[k].weights for _name, _kind, members in layout(model, weights, self.granularity) for k in members)
