"""Sweep scaling: one 1,000-point sweep (DRAM bandwidth x Mali shader cores x alpha x gamma, sequential, layer
granularity, 8 samples a point) run with 1 and with 2 local workers, side by side in one run, alternating, best
of --repeat each; prints points per second and the ratio, and the machine's own parallel ceiling measured before
each pair. Also checks both give the same points.

    python benchmarks/sweep_scaling.py [--repeat N] [--jobs 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from ceiling import parallel_ceiling

from simulator.run.bench import process_wall

SWEEP = """base: {samples: 8, granularity: layer}
axes:
  soc.dram.peak_bandwidth_gb_s: [12.8, 17.1, 25.6, 34.1, 51.2]
  soc.gpus.mali-g310.shader_cores: [1, 2, 3, 4]
  alpha: [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
  gamma: [1, 2, 3, 4, 5]
"""


def run(sweep: Path, out: Path, jobs: int) -> float:
    out.unlink(missing_ok=True)
    return process_wall([sys.executable, "-m", "simulator.cli.main", "sweep", str(sweep), "--out", str(out),
                         "--jobs", str(jobs)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sweep = Path(tmp) / "sweep.yaml"
        sweep.write_text(SWEEP)
        one, many = Path(tmp) / "one.jsonl", Path(tmp) / "many.jsonl"
        walls, ceilings = {1: [], args.jobs: []}, []
        for _ in range(args.repeat):
            ceilings.append(parallel_ceiling(args.jobs))
            walls[1].append(run(sweep, one, 1))
            walls[args.jobs].append(run(sweep, many, args.jobs))
        same = sorted(one.read_text().splitlines()) == sorted(many.read_text().splitlines())
    points = 1000
    best1, bestn = min(walls[1]), min(walls[args.jobs])
    print(f"1 worker: {best1:.2f} s, {points / best1:.1f} points/s")
    print(f"{args.jobs} workers: {bestn:.2f} s, {points / bestn:.1f} points/s")
    print(f"speed-up: {best1 / bestn:.2f}x (same points: {same}); the machine's own parallel ceiling in this run "
          f"(benchmarks/ceiling.py): {min(ceilings):.2f}-{max(ceilings):.2f}x")


if __name__ == "__main__":
    main()
