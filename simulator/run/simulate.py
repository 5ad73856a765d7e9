"""One simulation end to end: a Scenario in, a results dict out.

The baseline is always simulated: the target alone, not speculating, on the same placement, over the same
samples (prompt and output lengths). With a drafter, the speculative run follows on a fresh engine; the
planner (costed passes) is shared, since both run the target over the same shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from simulator.llm.costs import Planner, precision_on
from simulator.decode.runtime import Job, Runtime, autoregressive
from simulator.engine.engine import Engine
from simulator.llm.graph import PassShape, weight_bytes
from simulator.run.results import decoding_results, speculative_results
from simulator.run.scenario import Scenario
from simulator.decode.speculative import SpecLog, speculative
from simulator.traces.trace import Replay, estimate_alpha

Progress = Callable[[str, int, int], None]   # (phase, samples done, samples in all)


@dataclass
class RunRecord:
    """What one simulated run leaves besides its results: the event log, DRAM samples and rounds."""

    engine: Engine
    rounds: list = field(default_factory=list)

    def chrome_trace(self) -> dict:
        from simulator.render.timeline import chrome_trace
        return chrome_trace(self.engine.soc, self.engine.log, self.engine.dram.samples, self.rounds,
                            self.engine.env.now)


def _no_progress(phase: str, done: int, total: int) -> None:
    pass


def _run_samples(rt: Runtime, scenario: Scenario, body, phase: str, progress: Progress):
    """Decode every sample of the workload one after another on one engine."""
    samples = scenario.workload.samples

    def driver():
        for i, sample in enumerate(samples):
            rt.engine.log.sample_starts_s.append(rt.now)
            yield from body(i, sample)
            progress(phase, i + 1, len(samples))

    rt.engine.run(driver())


def planner_for(scenario: Scenario) -> Planner:
    """A planner on the SoC as the scenario's effects see it (without overheads if they are switched off).
    Runs that share one (same SoC, granularity and effects) cost each pass shape once."""
    soc = scenario.soc if scenario.effects.overheads else scenario.soc.without_overheads()
    return Planner(soc, scenario.granularity)


def _setup(scenario: Scenario, planner: Planner | None):
    planner = planner or planner_for(scenario)
    return planner.soc, planner


def _weight_bytes(scenario: Scenario, target_place) -> float:
    shape = PassShape(1, scenario.workload.samples[0].prompt_tokens, scenario.kv_cache)
    return weight_bytes(scenario.target.spec, precision_on(scenario.target.precision, target_place), shape)


def run_baseline(scenario: Scenario, planner: Planner | None = None, progress: Progress = _no_progress) -> dict:
    """The target alone, not speculating, on its placement, over the workload's samples."""
    return _baseline(scenario, planner, progress)[0]


def run_speculative(scenario: Scenario, baseline: dict, planner: Planner | None = None,
                    progress: Progress = _no_progress) -> dict:
    """The speculative run; its speedup is against `baseline` (a results block of the same samples)."""
    return _speculative(scenario, baseline, planner, progress)[0]


def _baseline(scenario: Scenario, planner: Planner | None, progress: Progress) -> tuple[dict, RunRecord]:
    soc, planner = _setup(scenario, planner)
    target_place, _ = scenario.placements()
    target = Job(scenario.target, target_place, "target")
    rt = Runtime(Engine(soc, scenario.effects.dram_contention), planner, scenario.host_placement(),
                 scenario.kv_cache, scenario.effects, solo=scenario.fast)
    _run_samples(rt, scenario, lambda i, s: autoregressive(rt, target, s.prompt_tokens, s.output_tokens, i),
                 "baseline", progress)
    return decoding_results(rt.engine, _weight_bytes(scenario, target_place)), RunRecord(rt.engine)


def _speculative(scenario: Scenario, baseline: dict, planner: Planner | None,
                 progress: Progress) -> tuple[dict, RunRecord]:
    soc, planner = _setup(scenario, planner)
    spec_cfg = scenario.speculation
    target_place, draft_place = scenario.placements()
    target = Job(scenario.target, target_place, "target")
    draft = Job(spec_cfg.draft, draft_place, "draft")
    trace = scenario.workload.trace
    alpha = estimate_alpha(trace)
    spec_log = SpecLog()
    rt = Runtime(Engine(soc, scenario.effects.dram_contention), planner, scenario.host_placement(),
                 scenario.kv_cache, scenario.effects, solo=scenario.fast and spec_cfg.mode == "sequential",
                 fast=scenario.fast)

    def one(i, sample):
        replay = Replay.of(sample, trace.gamma, alpha, np.random.default_rng([scenario.workload.seed, i]))
        return speculative(rt, draft, target, replay, sample.prompt_tokens, sample.output_tokens, spec_cfg.gamma,
                           spec_cfg.mode == "overlap", spec_log, i)

    _run_samples(rt, scenario, one, "speculative", progress)
    return ({**decoding_results(rt.engine, _weight_bytes(scenario, target_place)),
             **speculative_results(rt.engine, spec_log, baseline)}, RunRecord(rt.engine, spec_log.rounds))


def simulate(scenario: Scenario, progress: Progress = _no_progress) -> dict:
    """Returns the "results" block: the speculative run's (with "speedup" and "baseline"), or the baseline's.

    The baseline is the target alone on the same placement and samples; both runs share one planner."""
    return simulate_recorded(scenario, progress)[0]


def simulate_recorded(scenario: Scenario, progress: Progress = _no_progress) -> tuple[dict, RunRecord]:
    """As simulate(), with the record of the main run (the speculative one, or the baseline without a drafter)."""
    planner = planner_for(scenario)
    baseline, record = _baseline(scenario, planner, progress)
    if scenario.speculation is None:
        return baseline, record
    return _speculative(scenario, baseline, planner, progress)
