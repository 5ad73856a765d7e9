"""`specsoc bench`: what the simulator costs on this machine, each figure in units the machine sets itself.

One run measures:
- three yardsticks: bare simpy timeouts per second (one process yielding timeouts: the floor of any simpy model's
  cost per event), a bare heapq event loop's events per second (push and pop of (time, seq) pairs: the floor
  of any event loop in Python) and a bare two-stream fluid loop's sharing instants per second (the least a fluid
  DRAM model does per instant, fluid_instants_per_s);
- each scenario of SCENARIOS in its own process (`python -m simulator.run.bench NAME REPEAT`): its wall (best of
  REPEAT inside that process, files already read), its real events (simpy events scheduled plus the DRAM's
  sharing instants, over the baseline and the speculative run), its peak RSS (that process's own, after its
  first run), and its cost in yardstick units: wall x the simpy timeout rate measured in that process right before it, i.e. how many bare
  simpy timeouts the machine runs in the same time (the best of REPEAT such pairs: the shared machines' speed
  drifts within seconds, so each wall is taken against the yardstick of its own moment);
- the granularities: the default 4 x 128 tokens at op, layer and model granularity, each twice (for the noise),
  interleaved in one process, best of max(REPEAT, 15) each;
- start-up: `specsoc --help` and a default `specsoc run` as whole processes, against importing simpy alone and
  importing the project's dependencies alone (run in turn, best of max(REPEAT, 5) each);
- the timeline: the default scenario with 4 samples (TIMELINE_SAMPLES; its 64 make an 820 MB file) at op
  granularity with `--timeline` against without, as whole processes run in turn: the wall ratio, the peak RSS,
  and MB of timeline written per second.
"""

from __future__ import annotations

import heapq
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from simulator.run.builder import ScenarioSpec

DEFAULT_128 = ScenarioSpec(samples=4, new_tokens=128)
OVERLAP = ScenarioSpec(kv_cache=True, target_device="cpu:4", draft_device="gpu", mode="overlap", alpha=0.9, gamma=3,
                       samples=10, new_tokens=344, granularity="op")
SCENARIOS = {
    "default, 4 samples of 128 tokens, op": replace(DEFAULT_128, granularity="op"),
    "default, 4 samples of 128 tokens, layer": replace(DEFAULT_128, granularity="layer"),
    "default, 4 samples of 128 tokens, model": replace(DEFAULT_128, granularity="model"),
    "specsoc run's default": ScenarioSpec(),
    "overlap with contention, 1 sample (~100 rounds)": replace(OVERLAP, samples=1),
    "overlap with contention, 10 samples (~1000 rounds)": OVERLAP,
}
TIMELINE_SAMPLES = 4
DEPENDENCIES = "import simpy, numpy, networkx, yaml, rich.console, rich.table, rich.progress"


def simpy_timeouts_per_s(events: int = 200_000) -> float:
    import simpy
    env = simpy.Environment()

    def ticker():
        for _ in range(events):
            yield env.timeout(1.0)

    env.process(ticker())
    start = time.perf_counter()
    env.run()
    return events / (time.perf_counter() - start)


def heapq_events_per_s(events: int = 200_000) -> float:
    """A bare event loop: keep 16 events pending, pop the next, push one a little later, until `events` ran."""
    queue = [(float(i), i) for i in range(16)]
    heapq.heapify(queue)
    start = time.perf_counter()
    for seq in range(16, events + 16):
        now, _ = heapq.heappop(queue)
        heapq.heappush(queue, (now + 1.0, seq))
    return events / (time.perf_counter() - start)


def fluid_instants_per_s(instants: int = 150_000) -> float:
    """The least a fluid DRAM model does per sharing instant, in bare Python: two streams of tasks (an overhead,
    then bytes) share one bandwidth max-min fairly under their own caps; each instant settles both, ends what
    ends, starts the next phase and shares anew. No log, no checks, no other work: a floor, not a model."""
    overheads = [1e-6 * (1 + (7 * i) % 5) for i in range(64)]
    sizes = [1e3 * (1 + (13 * i) % 997) for i in range(64)]
    total, cap_a, cap_b = 8e9, 6e9, 5e9
    a = [0, False, overheads[0], 0.0, 0.0]      # task, streaming, overhead ends at, bytes left, rate
    b = [0, False, overheads[1], 0.0, 0.0]
    t, count = 0.0, 0
    start = time.perf_counter()
    while count < instants:
        ta = t + a[3] / a[4] if a[1] else a[2]
        tb = t + b[3] / b[4] if b[1] else b[2]
        now = ta if ta < tb else tb
        if a[1]:
            a[3] -= a[4] * (now - t)
        if b[1]:
            b[3] -= b[4] * (now - t)
        t = now
        for s, ends in ((a, ta), (b, tb)):
            if ends <= t:
                if s[1]:
                    s[0] += 1
                    s[1], s[2] = False, t + overheads[s[0] & 63]
                else:
                    s[1], s[3] = True, sizes[s[0] & 63]
        if a[1] and b[1]:
            a[4] = min(cap_a, max(total / 2, total - cap_b))
            b[4] = min(cap_b, total - a[4])
        elif a[1]:
            a[4] = min(cap_a, total)
        elif b[1]:
            b[4] = min(cap_b, total)
        count += 1
    return instants / (time.perf_counter() - start)


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 1024 / 1024


def measure_here(name: str, repeat: int) -> dict:
    """In this process: the scenario's best wall, its events (every engine it made: baseline and speculative),
    rounds and peak RSS."""
    from simulator.engine import engine as engine_module
    from simulator.run.simulate import simulate
    made = []
    original = engine_module.Engine.__init__

    def counted(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self)

    engine_module.Engine.__init__ = counted
    scenario = SCENARIOS[name].build()
    best, cost, results, rss = float("inf"), float("inf"), None, None
    for _ in range(repeat):
        made.clear()
        results = None      # the last repeat's run is freed first
        rate = simpy_timeouts_per_s(50_000)      # the yardstick right before: the machine's speed drifts
        start = time.perf_counter()
        results = simulate(scenario)
        wall = time.perf_counter() - start
        best, cost = min(best, wall), min(cost, wall * rate)
        rss = rss or peak_rss_mb()      # after the first run: the peak of one run (later repeats add the allocator's
                                        # high-water marks of runs one after another)
    simpy_events = sum(e.env.events_scheduled for e in made)
    instants = sum(e.dram.instants for e in made)
    return {"wall_s": best, "cost_simpy_timeouts": cost, "simpy_events": simpy_events, "dram_instants": instants,
            "events": simpy_events + instants, "rounds": getattr(results, "rounds", 0), "peak_rss_mb": rss}


GRANULARITY_RUNS = {f"{g}{again}": replace(DEFAULT_128, granularity=g)
                    for g in ("op", "layer", "model") for again in ("", ", again")}


def measure_granularities(repeat: int) -> dict[str, float]:
    """In this process: the default 4 x 128 tokens at each granularity, interleaved (the order turned each time,
    so that none always runs first), best wall of max(repeat, 15) each; each is measured twice ("op" and "op,
    again", ...), so that the walls of equal work show how far apart they land on this machine (the noise)."""
    from simulator.run.simulate import simulate
    scenarios = {name: spec.build() for name, spec in GRANULARITY_RUNS.items()}
    best = dict.fromkeys(scenarios, float("inf"))
    names = list(scenarios)
    for k in range(max(repeat, 15)):
        for name in names[k % len(names):] + names[:k % len(names)]:
            start = time.perf_counter()
            simulate(scenarios[name])
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def _own_process(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-m", "simulator.run.bench", *args], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)


def process_wall(command: list[str], repeat: int = 1) -> float:
    """Best wall of running `command` as a whole process `repeat` times (its output thrown away)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - start)
    return best


def interleaved_walls(commands: dict[str, list[str]], repeat: int) -> dict[str, float]:
    """Best wall of each command as a whole process, run in turn `repeat` times (each round runs every one:
    figures to be compared are taken at the same moments of a machine whose speed drifts)."""
    best = dict.fromkeys(commands, float("inf"))
    for _ in range(repeat):
        for name, command in commands.items():
            best[name] = min(best[name], process_wall(command))
    return best


def _timeline(repeat: int) -> dict:
    """The default scenario (TIMELINE_SAMPLES samples) at op granularity as whole processes, with and without
    --timeline."""
    specsoc = [sys.executable, "-m", "simulator.cli.main", "run", "--samples", str(TIMELINE_SAMPLES)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.json"
        walls = interleaved_walls({"without": specsoc, "with": [*specsoc, "--timeline", str(path)]}, repeat)
        without, with_timeline = walls["without"], walls["with"]
        size_mb = path.stat().st_size / 1e6
        rss = _own_process(["--timeline-rss", str(path)])["peak_rss_mb"]
    return {"without_s": without, "with_s": with_timeline, "ratio": with_timeline / without, "size_mb": size_mb,
            "write_mb_per_s": size_mb / max(with_timeline - without, 1e-9), "peak_rss_mb": rss}


@dataclass
class BenchResult:
    simpy_timeouts_per_s: float
    heapq_events_per_s: float
    fluid_instants_per_s: float
    scenarios: dict[str, dict]
    granularities: dict[str, float]     # best wall s of the default 4 x 128 tokens at each, interleaved
    startup: dict[str, float]
    timeline: dict[str, float]

    def to_json(self) -> dict:
        return {"simpy_timeouts_per_s": self.simpy_timeouts_per_s, "heapq_events_per_s": self.heapq_events_per_s,
                "fluid_instants_per_s": self.fluid_instants_per_s, "scenarios": self.scenarios,
                "granularities_wall_s": self.granularities, "startup": self.startup, "timeline": self.timeline}


def run_bench(repeat: int = 3, progress=lambda step: None, timeline: bool = True) -> BenchResult:
    progress("yardsticks")
    simpy_rate = max(simpy_timeouts_per_s() for _ in range(repeat))
    heap_rate = max(heapq_events_per_s() for _ in range(repeat))
    fluid_rate = max(fluid_instants_per_s() for _ in range(repeat))
    scenarios = {}
    for name in SCENARIOS:
        progress(name)
        figures = _own_process([name, str(repeat)])
        instants = figures["dram_instants"]
        figures["x_bare_heapq_over_dram_instants"] = figures["wall_s"] * heap_rate / instants if instants else None
        figures["x_bare_fluid_over_dram_instants"] = figures["wall_s"] * fluid_rate / instants if instants else None
        scenarios[name] = figures
    progress("granularities")
    granularities = _own_process(["--granularities", str(repeat)])
    progress("start-up")
    python = sys.executable
    startup = interleaved_walls({"import_simpy_s": [python, "-c", "import simpy"],
                                 "import_dependencies_s": [python, "-c", DEPENDENCIES],
                                 "specsoc_help_s": [python, "-m", "simulator.cli.main", "--help"],
                                 "specsoc_run_s": [python, "-m", "simulator.cli.main", "run"]}, max(repeat, 5))
    startup["help_x_import_simpy"] = startup["specsoc_help_s"] / startup["import_simpy_s"]
    startup["run_x_import_dependencies"] = startup["specsoc_run_s"] / startup["import_dependencies_s"]
    progress("timeline")
    return BenchResult(simpy_rate, heap_rate, fluid_rate, scenarios, granularities, startup,
                       _timeline(repeat) if timeline else {})


def main(argv: list[str]) -> None:
    """The child process of one measurement: a scenario's figures, or the peak RSS of reading a timeline's run."""
    if argv[0] == "--timeline-rss":     # its one child: the run writing the timeline; that child's peak RSS
        subprocess.run([sys.executable, "-m", "simulator.cli.main", "run", "--samples", str(TIMELINE_SAMPLES),
                        "--timeline", argv[1]], check=True, stdout=subprocess.DEVNULL)
        kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(json.dumps({"peak_rss_mb": kb / 1024 if sys.platform != "darwin" else kb / 1024 / 1024}))
        return
    if argv[0] == "--granularities":
        print(json.dumps(measure_granularities(int(argv[1]))))
        return
    print(json.dumps(measure_here(argv[0], int(argv[1]))))


if __name__ == "__main__":
    main(sys.argv[1:])
