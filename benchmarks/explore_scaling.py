"""Explore scaling: the paper's Table II (alpha 0.90) and Table III (alpha 0.17) explorations with 1 and with N
local workers, side by side in one run, alternating, best of --repeat each. Two measures: explore() inside
one process (the exploration alone), and `specsoc explore` as a whole process (with its start-up, imports and
table rendering, which do not run in parallel). Also checks that both give the same JSON, and prints two
ceilings measured in the same run: the machine's for a busy loop (benchmarks/ceiling.py) and for this very
work, N serial explorations at once in N processes against one alone (x N): what no split of the work can beat,
since processes running side by side on this shared VM each run slower than one alone.

    python benchmarks/explore_scaling.py [--repeat N] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ceiling import parallel_ceiling

from simulator.analysis.explore import ExploreSpec, explore
from simulator.cli.common import placed_pair
from simulator.cli.main import build_parser
from simulator.run.bench import process_wall


def spec_for(alpha: str) -> ExploreSpec:
    args = build_parser().parse_args(["explore", "--alpha", alpha])
    scenario = placed_pair(args, prompt_tokens=args.seq_len, new_tokens=args.seq_len).build()
    return ExploreSpec(scenario, float(alpha), args.seq_len, args.gamma_max, True)


def in_process(spec: ExploreSpec, jobs: int) -> tuple[float, dict]:
    start = time.perf_counter()
    result = explore(spec, jobs=jobs)
    return time.perf_counter() - start, result.to_json()


def _serial(spec: ExploreSpec) -> float:
    return in_process(spec, 1)[0]


def work_ceiling(spec: ExploreSpec, jobs: int) -> float:
    """jobs x (one serial exploration alone) / (jobs serial explorations at once, one per process)."""
    alone = _serial(spec)
    with ProcessPoolExecutor(jobs) as pool:
        list(pool.map(abs, range(jobs)))
        start = time.perf_counter()
        list(pool.map(_serial, [spec] * jobs))
        together = time.perf_counter() - start
    return jobs * alone / together


def whole_process(alpha: str, jobs: int, out: Path) -> float:
    return process_wall([sys.executable, "-m", "simulator.cli.main", "explore", "--alpha", alpha, "--jobs", str(jobs),
                         "--json", str(out)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    print(f"{'alpha':>6} {'measure':<16} {'1 worker':>9} {f'{args.jobs} workers':>10} {'speed-up':>9}  same JSON  "
          f"ceiling: busy loop, this work")
    with tempfile.TemporaryDirectory() as tmp:
        for alpha in ("0.90", "0.17"):
            spec = spec_for(alpha)
            walls = {"explore()": {1: [], args.jobs: []}, "specsoc explore": {1: [], args.jobs: []}}
            docs, files, ceilings, works = {}, {}, [], []
            for _ in range(args.repeat):
                ceilings.append(parallel_ceiling(args.jobs))
                works.append(work_ceiling(spec, args.jobs))
                for jobs in (1, args.jobs):
                    wall, docs[jobs] = in_process(spec, jobs)
                    walls["explore()"][jobs].append(wall)
                    files[jobs] = Path(tmp) / f"{alpha}-{jobs}.json"
                    walls["specsoc explore"][jobs].append(whole_process(alpha, jobs, files[jobs]))
            same = {"explore()": docs[1] == docs[args.jobs],
                    "specsoc explore": json.loads(files[1].read_text()) == json.loads(files[args.jobs].read_text())}
            for measure, by_jobs in walls.items():
                one, many = min(by_jobs[1]), min(by_jobs[args.jobs])
                print(f"{alpha:>6} {measure:<16} {one:>8.2f}s {many:>9.2f}s {one / many:>8.2f}x  {same[measure]!s:<9}  "
                      f"{min(ceilings):.2f}-{max(ceilings):.2f}x, {min(works):.2f}-{max(works):.2f}x")


if __name__ == "__main__":
    main()
