"""One simulation end to end: a Scenario in, a results dict out.

The baseline is always simulated: the target alone, not speculating, on the same placement, over the same
samples (prompt and output lengths). With a drafter, the speculative run follows on a fresh engine; the
planner (costed passes) is shared, since both run the target over the same shapes.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .costs import Planner, precision_on
from .decode import Job, Runtime, autoregressive
from .engine import Engine
from .graph import PassShape, weight_bytes
from .metrics import decoding_results, speculative_results
from .scenario import Scenario
from .speculative import SpecLog, speculative
from .traces import Replay, estimate_alpha

Progress = Callable[[str, int, int], None]   # (phase, samples done, samples in all)


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


def simulate(scenario: Scenario, progress: Progress = _no_progress) -> dict:
    """Returns the "results" block: the speculative run's (with "speedup" and "baseline"), or the baseline's."""
    effects = scenario.effects
    soc = scenario.soc if effects.overheads else scenario.soc.without_overheads()
    planner = Planner(soc, scenario.granularity)
    host = scenario.host_placement()
    target_place, draft_place = scenario.placements()
    target = Job(scenario.target, target_place, "target")
    kv = scenario.kv_cache
    decode_shape = PassShape(1, scenario.workload.samples[0].prompt_tokens, kv)
    wbytes = weight_bytes(scenario.target.spec, precision_on(scenario.target.precision, target_place), decode_shape)

    base = Runtime(Engine(soc, effects.dram_contention), planner, host, kv, effects)
    _run_samples(base, scenario, lambda i, s: autoregressive(base, target, s.prompt_tokens, s.output_tokens, i),
                 "baseline", progress)
    baseline = decoding_results(base.engine, wbytes)
    spec_cfg = scenario.speculation
    if spec_cfg is None:
        return baseline

    draft = Job(spec_cfg.draft, draft_place, "draft")
    trace = scenario.workload.trace
    alpha = estimate_alpha(trace)
    spec_log = SpecLog()
    rt = Runtime(Engine(soc, effects.dram_contention), planner, host, kv, effects)

    def one(i, sample):
        replay = Replay.of(sample, trace.gamma, alpha, np.random.default_rng([scenario.workload.seed, i]))
        return speculative(rt, draft, target, replay, sample.prompt_tokens, sample.output_tokens, spec_cfg.gamma,
                           spec_cfg.mode == "overlap", spec_log, i)

    _run_samples(rt, scenario, one, "speculative", progress)
    return {**decoding_results(rt.engine, wbytes), **speculative_results(rt.engine, spec_log, baseline)}
