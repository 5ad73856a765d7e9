"""`specsoc bench`: how fast the simulator is on this machine (the measurements are simulator/run/bench.py)."""

from __future__ import annotations

import argparse

from rich.table import Table

from simulator.cli.registry import summary
from simulator.common.errors import InputError
from simulator.common.output import check_output_path, write_json
from simulator.run.bench import __doc__ as BENCH_DOC
from simulator.run.bench import LONG_SAMPLES, run_bench

TARGETS = {  # issue: the machine this runs on (2 cores), figures in the README
    "default_op_wall_s": 1.0, "default_run_wall_s": 1.0, "ratio_ops_to_simpy": 1.0, "overlap_1000_rounds_wall_s": 10.0,
    "peak_rss_mb": 300.0,
}


def add_commands(sub) -> None:
    cmd = sub.add_parser("bench", help=summary("bench"),
                         description=BENCH_DOC, formatter_class=argparse.RawDescriptionHelpFormatter,
                         epilog="examples:\n  specsoc bench\n  specsoc bench --repeat 1 --json bench.json")
    cmd.add_argument("--repeat", type=int, default=3, help="runs per measurement, best kept (default: 3)")
    cmd.add_argument("--json", metavar="FILE", help="also write the figures as JSON")


def execute(args, console) -> None:
    if args.repeat < 1:
        raise InputError("--repeat", f"must be >= 1, got {args.repeat}")
    if args.json:
        check_output_path(args.json)
    with console.status("benchmarking...") as status:
        result = run_bench(args.repeat, lambda step: status.update(f"benchmarking: {step}"))
    doc = result.to_json()
    if args.json:
        write_json(args.json, doc)
    table = Table(title="specsoc bench (walls inside the process, best of --repeat)", title_justify="left")
    for col in ("measurement", "value", "target", ""):
        table.add_column(col, justify="left" if col == "measurement" else "right")

    def row(label, value, target=None, higher_is_better=False):
        ok = "" if target is None else ("[green]ok[/]" if (value >= target if higher_is_better else value <= target)
                                       else "[red]missed[/]")
        table.add_row(label, value if isinstance(value, str) else f"{value:,.3f}",
                      "" if target is None else f"{'>=' if higher_is_better else '<='} {target:g}", ok)

    row("bare simpy timeouts per second", f"{doc['simpy_timeouts_per_s']:,.0f}")
    row("simulated ops per second (default scenario, op granularity)", f"{doc['ops_per_s']:,.0f}")
    row("ratio ops / simpy timeouts", doc["ratio_ops_to_simpy"], TARGETS["ratio_ops_to_simpy"], True)
    for g, wall in doc["default_wall_s"].items():
        row(f"default scenario, {LONG_SAMPLES} samples of 128 new tokens, {g} granularity (s)", wall,
            TARGETS["default_op_wall_s"] if g == "op" else None)
    row(f"`specsoc run` as it is: the default scenario, {doc['default_run_samples']} samples, op granularity (s)",
        doc["default_run_wall_s"], TARGETS["default_run_wall_s"])
    row(f"overlap with contention, {doc['overlap_rounds']} rounds, op granularity (s)",
        doc["overlap_1000_rounds_wall_s"], TARGETS["overlap_1000_rounds_wall_s"])
    row("peak RSS after the default scenario (MB)", doc["peak_rss_mb"], TARGETS["peak_rss_mb"])
    console.print(table)
