"""`specsoc sweep`: run every point of a sweep file, in parallel, appending each result to a JSONL file."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from pathlib import Path

from rich.console import Console

from simulator.cli.common import progress_bar
from simulator.cli.registry import summary
from simulator.common.errors import InputError
from simulator.common.parallel import as_finished
from simulator.common.output import check_outputs, csv_text, together, write_text
from simulator.render.sweep_tables import render_reductions
from simulator.run.sweep import Runner, batches, done_keys, load_sweep, read_results

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
  reduce:                                   # optional: printed at the end, and written by --reduced
    - {maximize: speedup, over: [gamma]}    # the best gamma per shader-core count and alpha
"""


def add_commands(sub) -> None:
    cmd = sub.add_parser("sweep", help=summary("sweep"),
                         description="Run every combination of a sweep file's axes (scenario fields or SoC "
                                     "parameters by dotted key) on all cores, appending each point's result to "
                                     "--out as it finishes; a stopped sweep keeps every finished point.",
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    cmd.add_argument("file", metavar="FILE", help="sweep file (YAML: base, axes as lists or ranges {from, to, step}, "
                                                  "optional reduce)")
    cmd.add_argument("--out", required=True, metavar="FILE", help="JSONL results, one line per finished point")
    cmd.add_argument("--resume", action="store_true", help="keep --out's points and run only the missing ones")
    cmd.add_argument("--max-points", type=int, default=100_000, metavar="N",
                     help="refuse a sweep of more points than this (default: 100,000; a point takes 10-500 ms)")
    cmd.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                     help="worker processes (default: all cores); lines arrive as points finish, and the finished "
                          "file is rewritten in point order (the same whatever --jobs)")
    cmd.add_argument("--scheduler", metavar="ADDRESS",
                     help="run the points on an existing Dask distributed cluster (e.g. tcp://10.0.0.5:8786; its "
                          "workers need specsoc installed; needs the [dask] extra here)")
    cmd.add_argument("--csv", metavar="FILE", help="also write every point of --out as CSV at the end")
    cmd.add_argument("--reduced", metavar="FILE", help="also write the sweep file's reductions (reduce:) at the end, "
                                                       "as JSON, or as CSV if FILE ends in .csv")


def execute(args, console: Console) -> None:
    check_outputs({"--out": args.out, "--csv": args.csv, "--reduced": args.reduced}, (args.file,))
    if args.jobs < 1:
        raise InputError("--jobs", f"must be >= 1, got {args.jobs}")
    if args.max_points < 1:
        raise InputError("--max-points", f"must be >= 1, got {args.max_points}")
    out = Path(args.out)
    if out.exists() and not args.resume:
        raise InputError("--out", f"{args.out} exists: give --resume to add its missing points, or another file")
    sweep = load_sweep(args.file, args.max_points)
    check_outputs({"--out": args.out, "--csv": args.csv, "--reduced": args.reduced}, sweep.inputs())
    if args.reduced and not sweep.reductions:
        raise InputError("--reduced", f"{args.file} has no reduce: section")
    points = sweep.points()
    keys = {p.key for p in points}
    done = done_keys(out, keys) if args.resume else set()
    todo = [p for p in points if p.key not in done]
    client = connect(args.scheduler) if args.scheduler else None
    try:
        _trim_partial(out)
        with out.open("a", encoding="utf-8") as sink, progress_bar(console, "points") as progress, \
                (client or contextlib.nullcontext()):
            progress("sweep", len(points) - len(todo), len(points))
            finished = len(points) - len(todo)
            for records in _results(sweep, todo, args.jobs, client):
                for record in records:
                    sink.write(json.dumps(record, sort_keys=True) + "\n")
                sink.flush()
                finished += len(records)
                progress("sweep", finished, len(points))
    except OSError as err:      # a full disk, a file size limit: the points written are kept, the rest --resume runs
        raise InputError("--out", f"{args.out} cannot be written ({err.strerror or err.__class__.__name__}); the "
                                  "points already in it are kept: free the space and run again with --resume") from None
    records = read_results(args.out)
    write_text(args.out, "".join(json.dumps(r, sort_keys=True) + "\n" for r in records))   # whole: in point order
    reduced = [(r, r.apply(sweep.axis_names, records)) for r in sweep.reductions]
    outputs = {}
    if args.csv:
        outputs[args.csv] = to_csv(records, sweep.axis_names)
    if args.reduced:
        outputs[args.reduced] = reduced_csv(reduced) if args.reduced.lower().endswith(".csv") else reduced_json(reduced)
    with together():
        for path, text in outputs.items():
            write_text(path, text)
    render_reductions(console, reduced)
    console.print(f"{len(todo)} points run, {len(points) - len(todo)} kept; {len(points)} in {args.out}"
                  + "".join(f" and {path}" for path in outputs))


def _results(sweep, todo, jobs: int, client):
    """Records as points finish, a list at a time: on a Dask cluster when given a client of one (a batch of points
    a task); else in this process with one job, or in a pool of `jobs` processes (a point a task; each worker
    keeps one Runner, so points that share a SoC share its planned passes)."""
    if client is not None:
        yield from _on_dask(sweep, todo, client)
        return
    order = [p for batch in batches(sweep, todo, len(todo) or 1) for p in batch]   # points sharing a SoC together
    for _index, record in as_finished(_run_point, order, jobs, Runner, (sweep,)):
        yield [record]


def _run_point(runner: Runner, point):
    return runner.run(point)


def _run_batch(sweep, batch):
    """On a Dask worker: one batch of points with one Runner (planned passes shared by the batch)."""
    runner = Runner(sweep)
    return [runner.run(point) for point in batch]


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
    """Batches of points sharing a SoC, about four per worker and at most BATCH points each: a task's start-up
    and planning are paid once per batch, and a lost worker loses only its batches in flight."""
    from distributed import as_completed as dask_completed
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    size = max(1, min(BATCH, -(-len(todo) // (4 * workers))))
    shared = client.scatter(sweep, broadcast=True)
    futures = [client.submit(_run_batch, shared, batch, pure=False) for batch in batches(sweep, todo, size)]
    try:
        for future in dask_completed(futures):
            yield future.result()
    finally:
        client.cancel(futures)


BATCH = 32


def _trim_partial(path: Path) -> None:
    """A last line cut short by a kill is dropped, so that appending starts on a fresh line."""
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def to_csv(records: list[dict], axes: list[str]) -> str:
    """One row per point of a results file: its index, parameters (in axis order), seed and results (a 95%
    interval as two columns)."""
    return csv_text([{"point": r["point"], **{a: r["params"].get(a) for a in axes}, "seed": r.get("seed"),
                      **r["results"]} for r in records])


def reduced_json(reduced) -> str:
    return json.dumps({"reductions": [{"name": r.name, "metric": r.metric, "maximize": r.maximize, "over": list(r.over),
                                       "rows": rows} for r, rows in reduced]}, indent=2) + "\n"


def reduced_csv(reduced) -> str:
    """Every reduction's rows in one table, the reduction's name in the first column."""
    return csv_text([{"reduction": r.name, **row} for r, rows in reduced for row in rows])
