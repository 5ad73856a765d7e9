"""The partition design space of one explore variant: placements finer than whole models (`explore --partitions`).

A variant is k cores of one CPU cluster (its base, B) plus the SoC's accelerators A (its GPUs and NPUs). Beyond
the paper's whole-model mappings (each model on B or on a GPU), the target may run
- split by layers: its first s layers on an accelerator, the rest (and the embedding and head) on B, at the
  split points s = L/4, L/2, 3L/4;
- split by op class: its matmuls on an accelerator, every other op on B;
- with every matmul split between an accelerator and B, r of each on the accelerator: r = 0.25, 0.5, 0.75;
- whole on an NPU, the ops it cannot run falling back to B;
and the drafter whole on B, on a GPU, or on an NPU (falling back to B). That is m > 2 partitions of the work:
with L layers, every split point, op-class assignment and ratio above, |A| = 2: 15 target candidates and 3
drafter ones per variant. Each candidate is a compact partition (llm/partition.py) that the explore machinery
plans, costs by Eq. 1 and simulates like any mapping. A candidate a model's formats cannot run on (a float model
on the i.MX 95's int8-only NPU) is left out, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.common.errors import InputError
from simulator.hw.placement import Placement
from simulator.hw.soc import SoC
from simulator.llm.partition import Partition, parse_partition
from simulator.llm.partitioned import PartitionedForm
from simulator.run.scenario import ModelRun

SPLIT_POINTS = (0.25, 0.5, 0.75)   # fractions of the layers on the accelerator, first layers first
RATIOS = (0.25, 0.5, 0.75)         # fraction of each matmul on the accelerator


@dataclass(frozen=True)
class Candidates:
    """One variant's partitioned placements: for the target, for the drafter, and those left out (text, why)."""

    target: tuple[Partition, ...]
    draft: tuple[Partition, ...]
    skipped: tuple[tuple[str, str], ...]


def _texts(soc: SoC, base: Placement, layers: int, role: str) -> list[str]:
    b = base.label
    accelerators = [pu.name for pu in soc.pus if pu.kind in ("gpu", "npu")]
    npus = [pu.name for pu in soc.pus if pu.kind == "npu"]
    if role == "draft":
        return [f"{n},fallback={b}" for n in npus]
    out = []
    for a in accelerators:
        splits = sorted({max(1, min(layers - 1, round(f * layers))) for f in SPLIT_POINTS}) if layers > 1 else []
        out += [f"{b},L0-{s - 1}={a}" for s in splits]
        out += [f"{b},matmul={a}"]
        out += [f"{b},matmul={a}*{r:g}+{b}" for r in RATIOS]
    out += [f"{n},fallback={b}" for n in npus]
    return out


def candidates(soc: SoC, base: Placement, target: ModelRun, draft: ModelRun, granularity: str) -> Candidates:
    """The variant's partitioned placements, each checked against its model (formats, layers) once here."""
    found: dict[str, list[Partition]] = {"target": [], "draft": []}
    skipped = []
    for role, run in (("target", target), ("draft", draft)):
        for text in _texts(soc, base, run.spec.num_layers, role):
            partition = parse_partition(soc, text, "--partitions")
            try:
                PartitionedForm(run.spec, run.precision, False, 1, partition, soc, granularity, f"--{role}-device")
            except InputError as err:
                skipped.append((f"{role} {text}", err.problem))
                continue
            found[role].append(partition)
    return Candidates(tuple(found["target"]), tuple(found["draft"]), tuple(skipped))
