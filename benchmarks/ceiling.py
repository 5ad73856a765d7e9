"""The machine's own parallel ceiling, measured in the run that uses it: a perfectly parallel busy loop in N
processes against the same loops one after another in one. On a shared VM this drifts from run to run (1.5x to
2.2x on the 2-core CI machine within minutes), so scaling benchmarks print it beside their own ratios."""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def parallel_ceiling(jobs: int, loops: int = 4_000_000) -> float:
    """Serial wall of `jobs` busy loops / their wall in `jobs` processes (pool started beforehand)."""
    start = time.perf_counter()
    for _ in range(jobs):
        _spin(loops)
    serial = time.perf_counter() - start
    with ProcessPoolExecutor(jobs) as pool:
        list(pool.map(_spin, [1] * jobs))
        start = time.perf_counter()
        list(pool.map(_spin, [loops] * jobs))
        parallel = time.perf_counter() - start
    return serial / parallel
