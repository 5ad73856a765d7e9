"""A scenario: every resolved input of one simulation, validated once, as one plain value."""

from __future__ import annotations

from dataclasses import dataclass

from simulator.common.errors import InputError
from simulator.decode.runtime import Shaping
from simulator.hw.placement import DeviceRequest, Placement, place
from simulator.hw.soc import SoC
from simulator.llm.graph import GRANULARITIES
from simulator.llm.model import ModelSpec, Precision
from simulator.llm.partition import Partition
from simulator.traces.trace import Trace, TraceSample

MODES = ("sequential", "overlap")


@dataclass(frozen=True)
class Effects:
    """Realistic effects the closed form (Eq. 1) leaves out; each can be switched off to isolate the others.

    dram_contention: ops in flight share DRAM (off: every op streams as if alone).
    overheads: per-op dispatch/launch and handoff latencies (off: all zero).
    verify_grows: the verify pass computes gamma + 1 positions (off: costed as one plain target pass).
    sequence_growth: passes see the sequence grow as tokens are generated (off: every pass is costed as a
        one-token pass after the sample's prompt, the pass the paper profiles c with).
    """

    dram_contention: bool = True
    overheads: bool = True
    verify_grows: bool = True
    sequence_growth: bool = True

    def describe(self) -> dict:
        return {"dram_contention": self.dram_contention, "overheads": self.overheads,
                "verify_grows": self.verify_grows, "sequence_growth": self.sequence_growth}


@dataclass(frozen=True)
class ModelRun:
    """One model as it runs: shapes, formats and where."""

    spec: ModelSpec
    precision: Precision
    device: DeviceRequest | Partition
    device_text: str
    partition: dict | None = None     # a partitioned model: its rules, fallback and the ops that fell back

    def placement(self) -> Placement | Partition:
        """Where it runs: the cores its device string names (cpu:K = cores 0..K-1), or its partition."""
        return self.device if isinstance(self.device, Partition) else place([self.device])[0]

    def describe(self) -> dict:
        out = {"model": self.spec.describe(), "parameters": self.spec.parameters(),
               "weights_dtype": self.precision.weights, "activations_dtype": self.precision.activations,
               "kv_cache_dtype": self.precision.kv_cache, "device": self.device_text}
        return out if self.partition is None else {**out, "partition": self.partition}


@dataclass(frozen=True)
class Speculation:
    """The drafter and how it drafts."""

    draft: ModelRun
    gamma: int
    mode: str = "sequential"

    def __post_init__(self):
        if self.gamma < 1:
            raise InputError("--gamma", f"must be >= 1, got {self.gamma}")
        if self.mode not in MODES:
            raise InputError("--mode", f"must be one of {', '.join(MODES)}")


@dataclass(frozen=True)
class Workload:
    """The samples to decode (prompt and output lengths) and the acceptance trace they come from."""

    trace: Trace
    samples: tuple[TraceSample, ...]
    seed: int

    def describe(self) -> dict:
        return {"trace": self.trace.describe(), "samples": len(self.samples), "seed": self.seed,
                "prompt_tokens_total": sum(s.prompt_tokens for s in self.samples),
                "output_tokens_total": sum(s.output_tokens for s in self.samples)}


@dataclass(frozen=True)
class Scenario:
    soc: SoC
    target: ModelRun
    workload: Workload
    kv_cache: bool = True
    granularity: str = "op"
    speculation: Speculation | None = None
    effects: Effects = Effects()

    def __post_init__(self):
        if self.granularity not in GRANULARITIES:
            raise InputError("--granularity", f"must be one of {', '.join(GRANULARITIES)}")

    def placements(self) -> tuple[Placement | Partition, Placement | Partition | None]:
        """Target and drafter placements (ModelRun.placement)."""
        return self.target.placement(), None if self.speculation is None else self.speculation.draft.placement()

    def host_placement(self) -> Placement:
        return Placement(self.soc.pu(self.soc.host), (0,))

    def shaping(self) -> Shaping:
        """How the decoding loops shape passes in this scenario."""
        return Shaping(self.kv_cache, self.effects.verify_grows, self.effects.sequence_growth)

    def describe(self) -> dict:
        target_place, draft_place = self.placements()
        out = {"soc": self.soc.describe(),
               "target": {**self.target.describe(), "placement": target_place.label, "cores": list(target_place.cores)},
               "draft": "none", "workload": self.workload.describe(), "kv_cache": self.kv_cache,
               "granularity": self.granularity, "effects": self.effects.describe()}
        if len(self.workload.samples) == 1 or len({(s.prompt_tokens, s.output_tokens) for s in self.workload.samples}) == 1:
            out["prompt_tokens"] = self.workload.samples[0].prompt_tokens
            out["new_tokens"] = self.workload.samples[0].output_tokens
        if self.speculation is not None:
            spec = self.speculation
            out["draft"] = {**spec.draft.describe(), "placement": draft_place.label, "cores": list(draft_place.cores)}
            out["gamma"] = spec.gamma
            out["mode"] = spec.mode
        return out
