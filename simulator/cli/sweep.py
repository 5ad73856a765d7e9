"""`specsoc sweep`: run every point of a sweep file, in parallel, appending each result to a JSONL file."""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from rich.console import Console

from simulator.cli.common import progress_bar
from simulator.common.errors import InputError
from simulator.common.output import check_outputs, write_text
from simulator.run.sweep import done_keys, load_sweep, run_point

EXAMPLES = """examples:
  specsoc sweep whatif.yaml --out results.jsonl              # every point, on all cores
  specsoc sweep whatif.yaml --out results.jsonl --resume     # after a stop: only the missing points
  specsoc sweep whatif.yaml --out results.jsonl --jobs 1 --csv results.csv

a sweep file:
  base: {kv_cache: true, target_device: "cpu:1", samples: 16}
  axes:
    soc.gpus.mali-g310.shader_cores: [1, 2, 4]
    alpha: [0.6, 0.7, 0.8, 0.9]
    gamma: [1, 2, 3, 4, 5]
"""


def add_commands(sub) -> None:
    cmd = sub.add_parser("sweep", help="run a design-space sweep, resumable, results as JSONL",
                         description="Run every combination of a sweep file's axes (scenario fields or SoC "
                                     "parameters by dotted key) on all cores, appending each point's result to "
                                     "--out as it finishes; a stopped sweep keeps every finished point.",
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    cmd.add_argument("file", metavar="FILE", help="sweep file (YAML: base and axes)")
    cmd.add_argument("--out", required=True, metavar="FILE", help="JSONL results, one line per finished point")
    cmd.add_argument("--resume", action="store_true", help="keep --out's points and run only the missing ones")
    cmd.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: all cores)")
    cmd.add_argument("--scheduler", metavar="ADDRESS",
                     help="run the points on an existing Dask distributed cluster (e.g. tcp://10.0.0.5:8786; its "
                          "workers need specsoc installed; needs the [dask] extra here)")
    cmd.add_argument("--csv", metavar="FILE", help="also write every point of --out as CSV at the end")


def execute(args, console: Console) -> None:
    check_outputs({"--out": args.out, "--csv": args.csv}, (args.file,))
    if args.jobs < 1:
        raise InputError("--jobs", f"must be >= 1, got {args.jobs}")
    out = Path(args.out)
    if out.exists() and not args.resume:
        raise InputError("--out", f"{args.out} exists: give --resume to add its missing points, or another file")
    sweep = load_sweep(args.file)
    points = sweep.points()
    done = done_keys(out) if args.resume else set()
    todo = [p for p in points if p.key not in done]
    client = connect(args.scheduler) if args.scheduler else None
    _trim_partial(out)
    with out.open("a", encoding="utf-8") as sink, progress_bar(console, "points") as progress, \
            (client or contextlib.nullcontext()):
        progress("sweep", len(points) - len(todo), len(points))
        finished = len(points) - len(todo)
        for record in _results(sweep, todo, args.jobs, client):
            sink.write(json.dumps(record, sort_keys=True) + "\n")
            sink.flush()
            finished += 1
            progress("sweep", finished, len(points))
    if args.csv:
        write_text(args.csv, to_csv(out))
    console.print(f"{len(todo)} points run, {len(points) - len(todo)} kept; {len(points)} in {args.out}"
                  + (f" and {args.csv}" if args.csv else ""))


def _results(sweep, todo, jobs: int, client):
    """Each point's record as it finishes: on a Dask cluster when given a client of one; else in this process
    with one job, or in a pool of `jobs` processes."""
    if client is not None:
        yield from _on_dask(sweep, todo, client)
        return
    if jobs == 1 or len(todo) <= 1:
        for point in todo:
            yield run_point(sweep, point)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_point, sweep, p) for p in todo]
        try:
            for future in as_completed(futures):
                yield future.result()
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def connect(address: str):
    """A client of the Dask scheduler at `address`, or one line saying why not."""
    try:
        from distributed import Client
    except ImportError:
        raise InputError("--scheduler", "needs Dask distributed: pip install 'specsoc[dask]'") from None
    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as err:
        raise InputError("--scheduler", f"cannot reach a Dask scheduler at {address!r} ({err.__class__.__name__})") from None


def _on_dask(sweep, todo, client):
    from distributed import as_completed as dask_completed
    futures = client.map(run_point, [sweep] * len(todo), todo, pure=False)
    try:
        for future in dask_completed(futures):
            yield future.result()
    finally:
        client.cancel(futures)


def _trim_partial(path: Path) -> None:
    """A last line cut short by a kill is dropped, so that appending starts on a fresh line."""
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def to_csv(path: Path) -> str:
    """One row per point of a results file: its parameters, seed and scalar results (the CI as two columns)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows.sort(key=lambda r: r["point"])
    params = list(dict.fromkeys(k for r in rows for k in r["params"]))
    results = list(dict.fromkeys(k for r in rows for k, v in r["results"].items() if not isinstance(v, dict)))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["point", *params, "seed", *[c for k in results for c in ((k + "_lo", k + "_hi") if k.endswith("ci95") else (k,))]])
    for r in rows:
        cells = []
        for k in results:
            v = r["results"].get(k)
            cells.extend((v or [None, None]) if k.endswith("ci95") else [v])
        w.writerow([r["point"], *(r["params"].get(k) for k in params), r["seed"], *cells])
    return buf.getvalue()
