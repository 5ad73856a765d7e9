"""Fitting a SoC's calibration multipliers to measured cost ratios, by bisection.

The seed paper measured c = t(drafter pass) / t(target pass) at S_L = 63 tokens, no KV cache, with the target
(Llama 3.2 3B int8) on one A55 core: 0.80 with the drafter (Llama 3.2 1B fp16) on the same core, 0.41 with it on
the Mali-G310. Both c values only involve the drafter's speed relative to the target's, so each fixes one
multiplier: the A55's fp16 dtype efficiency and the Mali's efficiency scale. This module recomputes them from
the spec-only SoC; tests/analysis/test_calibration.py checks the values written in socs/imx95.yaml against it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from simulator.hw.placement import Placement
from simulator.hw.soc import SoC
from simulator.llm.planner import Planner
from simulator.llm.graph import PassShape
from simulator.llm.model import ModelSpec, Precision


@dataclass(frozen=True)
class PassPair:
    """A drafter and a target, each with its formats, and the pass both are profiled on."""

    draft: ModelSpec
    draft_precision: Precision
    target: ModelSpec
    target_precision: Precision
    shape: PassShape


def cost_ratio(soc: SoC, pair: PassPair, draft_at: Placement, target_at: Placement) -> float:
    """c: one drafter pass over one target pass, each alone on the SoC (op granularity)."""
    planner = Planner(soc, "op")
    t_draft = planner.plan(pair.draft, pair.draft_precision, pair.shape, draft_at).alone_s
    t_target = planner.plan(pair.target, pair.target_precision, pair.shape, target_at).alone_s
    return t_draft / t_target


def fit_multiplier(measure, target_c: float, lo: float = 1e-3, hi: float = 4.0, tol: float = 1e-9) -> float:
    """The multiplier m with measure(m) == target_c, for a c that falls as the drafter gets faster (m grows)."""
    while hi - lo > tol * hi:
        mid = (lo + hi) / 2
        if measure(mid) > target_c:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def with_pu(soc: SoC, pu_name: str, **changes) -> SoC:
    return replace(soc, pus=tuple(replace(pu, **changes) if pu.name == pu_name else pu for pu in soc.pus))


def fit_dtype_efficiency(soc: SoC, pair: PassPair, pu_name: str, dtype: str, target_c: float) -> float:
    """The drafter's dtype efficiency on `pu_name` making c (both on one core of it) equal target_c."""
    def measure(m):
        s = with_pu(soc, pu_name, dtype_efficiency={**soc.pu(pu_name).dtype_efficiency, dtype: m})
        core = Placement(s.pu(pu_name), (0,))
        return cost_ratio(s, pair, core, core)
    return fit_multiplier(measure, target_c)


def fit_efficiency_scale(soc: SoC, pair: PassPair, gpu_name: str, target_at_pu: str, target_c: float) -> float:
    """The scale of every efficiency of `gpu_name` making c (drafter there, target on one core) equal target_c."""
    base = soc.pu(gpu_name).efficiency

    def measure(m):
        s = with_pu(soc, gpu_name, efficiency={k: min(1.0, v * m) for k, v in base.items()})
        return cost_ratio(s, pair, Placement(s.pu(gpu_name), (0,)), Placement(s.pu(target_at_pu), (0,)))
    return fit_multiplier(measure, target_c)
