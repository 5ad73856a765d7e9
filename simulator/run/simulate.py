"""One simulation end to end: a Scenario in, typed results out.

The baseline is always simulated: the target alone, not speculating, on the same placement, over the same
samples (prompt and output lengths). With a drafter, the speculative run follows on a fresh engine; the
planner (costed passes) is shared, since both run the target over the same shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from simulator.decode.autoregressive import autoregressive
from simulator.decode.runtime import Job, Runtime, TokenLog
from simulator.decode.speculative import Round, Speculative
from simulator.engine.engine import Engine
from simulator.llm.planner import Planner
from simulator.llm.graph import PassShape
from simulator.run.results import DecodingResults, SpeculativeResults, decoding_results, speculative_results
from simulator.run.scenario import Scenario
from simulator.traces.replay import Replay
from simulator.traces.trace import estimate_alpha

Progress = Callable[[str, int, int], None]   # (phase, samples done, samples in all)


def no_progress(phase: str, done: int, total: int) -> None:
    pass


@dataclass
class RunRecord:
    """What one simulated run leaves besides its results: the engine (event log, DRAM counter), the token log
    and, for a speculative run, its rounds."""

    engine: Engine
    tokens: TokenLog
    rounds: list[Round] = field(default_factory=list)


def planner_for(scenario: Scenario) -> Planner:
    """A planner on the SoC as the scenario's effects see it (without overheads if they are switched off).
    Runs that share one (same SoC, granularity and effects) cost each pass shape once."""
    soc = scenario.soc if scenario.effects.overheads else scenario.soc.without_overheads()
    return Planner(soc, scenario.granularity)


def _runtime(scenario: Scenario, planner: Planner, fast_paths: bool, keep_timeline: bool) -> Runtime:
    engine = Engine(planner.soc, scenario.effects.dram_contention, fast_paths, keep_timeline)
    return Runtime(engine, planner, scenario.host_placement(), scenario.shaping())


def _run_samples(rt: Runtime, scenario: Scenario, body, phase: str, progress: Progress) -> None:
    """Decode every sample of the workload one after another on one engine."""
    samples = scenario.workload.samples

    def driver():
        for i, sample in enumerate(samples):
            yield from body(i, sample)
            progress(phase, i + 1, len(samples))

    rt.engine.run(driver())


def _weight_bytes(scenario: Scenario, planner: Planner, target: Job) -> float:
    shape = PassShape(1, scenario.workload.samples[0].prompt_tokens, scenario.kv_cache)
    return planner.weight_bytes(target.model, target.precision, shape, target.placement)


def _jobs(scenario: Scenario) -> tuple[Job, Job | None]:
    target_place, draft_place = scenario.placements()
    target = Job(scenario.target.spec, scenario.target.precision, target_place, "target")
    if scenario.speculation is None:
        return target, None
    draft = scenario.speculation.draft
    return target, Job(draft.spec, draft.precision, draft_place, "draft")


def run_baseline(scenario: Scenario, planner: Planner | None = None, progress: Progress = no_progress,
                 fast_paths: bool = True) -> DecodingResults:
    """The target alone, not speculating, on its placement, over the workload's samples."""
    return _baseline(scenario, planner or planner_for(scenario), progress, fast_paths, False)[0]


def run_speculative(scenario: Scenario, baseline: DecodingResults | None, planner: Planner | None = None,
                    progress: Progress = no_progress, fast_paths: bool = True) -> SpeculativeResults | DecodingResults:
    """The speculative run; its speedup is against `baseline` (the results of the same samples). Without a
    baseline, only the run's own times and tokens (for a caller that pairs runs itself: explore's workers)."""
    return _speculative(scenario, baseline, planner or planner_for(scenario), progress, fast_paths, False)[0]


def _baseline(scenario: Scenario, planner: Planner, progress: Progress, fast_paths: bool,
              keep_timeline: bool) -> tuple[DecodingResults, RunRecord]:
    target, _ = _jobs(scenario)
    rt = _runtime(scenario, planner, fast_paths, keep_timeline)
    _run_samples(rt, scenario, lambda i, s: autoregressive(rt, target, i, s.prompt_tokens, s.output_tokens),
                 "baseline", progress)
    results = decoding_results(rt.engine, rt.tokens, _weight_bytes(scenario, planner, target))
    return results, RunRecord(rt.engine, rt.tokens)


def _speculative(scenario: Scenario, baseline: DecodingResults | None, planner: Planner, progress: Progress,
                 fast_paths: bool, keep_timeline: bool) -> tuple[SpeculativeResults, RunRecord]:
    spec = scenario.speculation
    target, draft = _jobs(scenario)
    trace = scenario.workload.trace
    alpha = estimate_alpha(trace)
    rt = _runtime(scenario, planner, fast_paths, keep_timeline)
    loop = Speculative(rt, draft, target, spec.gamma, spec.mode == "overlap")

    def one(i, sample):
        replay = Replay.of(sample, trace.gamma, alpha, np.random.default_rng([scenario.workload.seed, i]))
        return loop.decode(i, sample.prompt_tokens, sample.output_tokens, replay)

    _run_samples(rt, scenario, one, "speculative", progress)
    if baseline is None:
        return decoding_results(rt.engine, rt.tokens, _weight_bytes(scenario, planner, target)), RunRecord(rt.engine, rt.tokens)
    results = speculative_results(rt.engine, rt.tokens, _weight_bytes(scenario, planner, target), loop.log, baseline)
    return results, RunRecord(rt.engine, rt.tokens, loop.log.rounds)


def simulate(scenario: Scenario, progress: Progress = no_progress, fast_paths: bool = True,
             planner: Planner | None = None) -> DecodingResults | SpeculativeResults:
    """The results of the scenario: the speculative run's (with its speedup and baseline), or the baseline's.

    The baseline is the target alone on the same placement and samples; both runs share one planner (`planner`
    when given: one of planner_for() on a scenario of the same SoC, granularity and effects, which a sweep
    shares between its points). `fast_paths=False` runs every pass op by op through simpy (for tests: the
    results are the same)."""
    return simulate_recorded(scenario, progress, fast_paths, planner, keep_timeline=False)[0]


def simulate_recorded(scenario: Scenario, progress: Progress = no_progress, fast_paths: bool = True,
                      planner: Planner | None = None, keep_timeline: bool = True
                      ) -> tuple[DecodingResults | SpeculativeResults, RunRecord]:
    """As simulate(), with the record of the main run (the speculative one, or the baseline without a drafter);
    keep_timeline keeps in it what a timeline replays (every op's times, the DRAM counter), which grows with the
    run; the baseline keeps it only when it is the main run."""
    planner = planner or planner_for(scenario)
    main_is_baseline = scenario.speculation is None
    baseline, record = _baseline(scenario, planner, progress, fast_paths, keep_timeline and main_is_baseline)
    if main_is_baseline:
        return baseline, record
    return _speculative(scenario, baseline, planner, progress, fast_paths, keep_timeline)
