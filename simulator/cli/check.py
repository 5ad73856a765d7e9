"""`specsoc check`: the closed form against the simulation, one realistic effect at a time."""

from __future__ import annotations

import argparse

from rich.console import Console

from simulator.analysis.check import check
from simulator.cli.common import progress_bar, run_flags, scenario_spec
from simulator.cli.registry import summary
from simulator.common.errors import InputError
from simulator.common.output import check_output_path, write_json
from simulator.render.check_tables import render_check

EXAMPLES = """examples:
  specsoc check                                    # the paper's validated setup (as `specsoc run`)
  specsoc check --trace translation-semiquant --samples 16
  specsoc check --kv-cache --target-device cpu:4 --mode overlap --alpha 0.9 --threshold 1 --json check.json
"""


def add_commands(sub) -> None:
    cmd = sub.add_parser("check", help=summary("check"),
                         description="Run the closed form and the simulation for one scenario (the flags of "
                                     "`specsoc run`), switching realistic effects on one at a time.",
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    run_flags(cmd, granularity="layer")
    cmd.add_argument("--threshold", type=float, default=2.0,
                     help="flag an effect that moves the speedup by more than this many percent (default: 2)")
    cmd.add_argument("--json", metavar="FILE", help="also write the scenario and the waterfall as JSON")


def execute(args, console: Console) -> None:
    if args.json:
        check_output_path(args.json)
    if args.threshold < 0:
        raise InputError("--threshold", f"must be >= 0, got {args.threshold}")
    scenario = scenario_spec(args).build()
    with progress_bar(console, "simulations") as progress:
        result = check(scenario, args.threshold, progress)
    if args.json:
        write_json(args.json, {"scenario": scenario.describe(), "check": result.to_json()})
    render_check(console, scenario, result)
