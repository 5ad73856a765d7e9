"""`specsoc bench`: how fast the simulator is on this machine, against the bare simpy event rate.

One run measures (a) bare simpy timeout events per second (one process yielding timeouts: the floor of any
simpy model's cost per event); (b) simulated ops per second on the default scenario at op granularity;
(c) wall time of the default scenario with 4 samples of 128 new tokens at op, layer and model granularity;
(d) wall time of `specsoc run`'s default scenario as it is (DEFAULT_SAMPLES samples of 63 tokens, op
granularity); (e) wall time of a 1000-round trace in overlap mode, drafter and target on different PUs and both
streaming weights (KV caches), so that DRAM is shared throughout; (f) peak memory (RSS). Walls are inside the
process (imports and file loading excluded), best of `repeat` runs.
"""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass

import simpy

from simulator.run.builder import ScenarioSpec
from simulator.run.simulate import simulate

LONG_SAMPLES = 4   # (c): the sample count the default had when (c) was first measured, so its figures compare
OVERLAP = ScenarioSpec(kv_cache=True, target_device="cpu:4", draft_device="gpu", mode="overlap", alpha=0.9, gamma=3,
                       samples=10, new_tokens=344, granularity="op")


def simpy_timeouts_per_s(events: int = 200_000) -> float:
    env = simpy.Environment()

    def ticker():
        for _ in range(events):
            yield env.timeout(1.0)

    env.process(ticker())
    start = time.perf_counter()
    env.run()
    return events / (time.perf_counter() - start)


def _timed(spec: ScenarioSpec, repeat: int):
    """Best wall of simulating the scenario `repeat` times (each from a fresh planner), and its results."""
    scenario = spec.build()
    best, results = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        results = simulate(scenario)
        best = min(best, time.perf_counter() - start)
    return best, results


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 1024 / 1024


@dataclass
class BenchResult:
    simpy_timeouts_per_s: float
    ops_per_s: float
    default_wall_s: dict[str, float]
    default_run_wall_s: float
    default_run_samples: int
    overlap_1000_rounds_wall_s: float
    overlap_rounds: int
    peak_rss_mb: float

    def to_json(self) -> dict:
        return {"simpy_timeouts_per_s": self.simpy_timeouts_per_s, "ops_per_s": self.ops_per_s,
                "ratio_ops_to_simpy": self.ops_per_s / self.simpy_timeouts_per_s,
                "default_wall_s": self.default_wall_s, "default_run_wall_s": self.default_run_wall_s,
                "default_run_samples": self.default_run_samples,
                "overlap_1000_rounds_wall_s": self.overlap_1000_rounds_wall_s,
                "overlap_rounds": self.overlap_rounds, "peak_rss_mb": self.peak_rss_mb}


def run_bench(repeat: int = 3, progress=lambda step: None) -> BenchResult:
    progress("bare simpy timeouts")
    simpy_rate = max(simpy_timeouts_per_s() for _ in range(repeat))
    walls = {}
    ops_per_s = 0.0
    for granularity in ("op", "layer", "model"):
        progress(f"default scenario, {LONG_SAMPLES} samples of 128 new tokens, {granularity} granularity")
        wall, res = _timed(ScenarioSpec(samples=LONG_SAMPLES, new_tokens=128, granularity=granularity), repeat)
        walls[granularity] = wall
        if granularity == "op":
            ops_per_s = (res.ops_simulated + res.baseline.ops_simulated) / wall
    progress("`specsoc run`'s default scenario")
    run_wall, res = _timed(ScenarioSpec(), repeat)
    rss_default = peak_rss_mb()
    progress("1000-round overlap trace with contention")
    overlap_wall, overlap = _timed(OVERLAP, repeat)
    return BenchResult(simpy_rate, ops_per_s, walls, run_wall, res.samples, overlap_wall, overlap.rounds, rss_default)
