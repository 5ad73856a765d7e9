"""The large fuzz run: thousands of bad inputs of tests/cli/test_fuzz.py's kinds, seeded, and their outcomes.

    python benchmarks/fuzz.py [--cases 10000] [--seed 0] [--jobs 2] [--json FILE]

Each case is a valid file of one kind specsoc reads (or a valid `specsoc run` command line) changed in one place
(tests/fuzz_support.py), run through the CLI in-process in a worker process. It counts the outcomes: ok (exit 0),
refused (exit 2, one `error:` line naming the file or flag), and the failures: traceback, hang (past 60 s), a
wrong exit status, a wrong message, a file left behind, a worker past 1 GB; with the slowest case and the
workers' peak RSS.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fuzz_support import Picker, flag_case, mutate, run_case, targets  # noqa: E402

FAILURES = ("traceback", "hang", "exit", "message", "orphan", "memory")


def _case(rng: random.Random, kinds: list) -> tuple[str, list[str], str | bytes | None, str]:
    """One case: (kind, argv, input data, suffix), all drawn from `rng`."""
    pick = Picker(rng.choice, rng.randint)
    target = rng.choice(kinds)
    if target is None:
        return "flags", flag_case(pick), None, ".txt"
    text = target.text
    if isinstance(text, bytes):
        i = rng.randrange(len(text))
        data = rng.choice([text[:i], text[:i] + bytes([rng.randrange(256)]) + text[i + 1:],
                           text[:i] + b"\xff" * 8 + text[i + 8:], text[:i] + text[i + 4:]])
    else:
        data = mutate(text, pick, target.yaml)
    return target.name, target.argv, data, target.suffix


def _work(args: tuple[int, int, int]) -> dict:
    """Cases first..first+count-1 of the run seeded `seed`, in this process."""
    import resource
    first, count, seed = args
    kinds = [*targets(), None]
    counts: Counter = Counter()
    by_kind: Counter = Counter()
    failures, slowest = [], (0.0, "")
    for n in range(first, first + count):
        rng = random.Random(f"{seed}/{n}")
        kind, argv, data, suffix = _case(rng, kinds)
        outcome = run_case(argv, data, suffix)
        counts[outcome.kind] += 1
        by_kind[kind] += 1
        if outcome.kind in FAILURES and len(failures) < 20:
            failures.append({"case": n, "kind": kind, "outcome": outcome.kind, "detail": outcome.line})
        if outcome.wall_s > slowest[0]:
            slowest = (outcome.wall_s, f"case {n} ({kind}): {' '.join(argv)[:120]}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"counts": counts, "by_kind": by_kind, "failures": failures, "slowest": slowest, "peak_rss_mb": rss}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    chunk = 250
    work = [(first, min(chunk, args.cases - first), args.seed) for first in range(0, args.cases, chunk)]
    counts: Counter = Counter()
    by_kind: Counter = Counter()
    failures, slowest, rss = [], (0.0, ""), 0.0
    start = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        for done, part in enumerate(pool.map(_work, work), 1):
            counts.update(part["counts"])
            by_kind.update(part["by_kind"])
            failures += part["failures"]
            slowest = max(slowest, tuple(part["slowest"]))
            rss = max(rss, part["peak_rss_mb"])
            print(f"\r{sum(counts.values()):,}/{args.cases:,} cases", end="", file=sys.stderr, flush=True)
    wall = time.perf_counter() - start
    print(file=sys.stderr)
    result = {"cases": sum(counts.values()), "seed": args.seed, "outcomes": dict(sorted(counts.items())),
              "by_kind": dict(sorted(by_kind.items())), "failures": failures[:40],
              "slowest_case_s": slowest[0], "slowest_case": slowest[1], "workers_peak_rss_mb": rss, "wall_s": wall}
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 1 if any(counts[k] for k in FAILURES) else 0


if __name__ == "__main__":
    sys.exit(main())
